/** Messages between the fine-tune view and its Web Worker. */
export interface TrainData {
  /** count × height × width × channels bytes */
  pixels: Uint8Array;
  labels: Uint8Array;
  width: number;
  height: number;
  channels: 1 | 3;
  classNames: string[];
}

export interface StartMsg {
  type: 'start';
  /** The model to start from, as a hybridvision safetensors file. */
  checkpoint: Uint8Array;
  mode: 'head' | 'full';
  steps: number;
  batch: number;
  lr: number;
  data: TrainData;
  wasmPaths: string;
  threads?: number;
  seed?: number;
}

export type WorkerMsg =
  | { type: 'compiled'; ms: number; size: number }
  | { type: 'step'; step: number; loss: number; acc: number; ms: number }
  | { type: 'done'; safetensors: Uint8Array; onnx: Uint8Array; imgPerSec: number; losses: number[]; accs: number[]; compileMs: number; size: number }
  | { type: 'error'; message: string };
