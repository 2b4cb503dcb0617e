/** The execution engine seam: ONNX Runtime for Node (runtime/node.ts) or the browser (onnxruntime-web). */
import { HybridVisionError, type HostTensor } from '../tensor.js';

export interface SessionOptions {
  /** Intra-op threads (default 2). */
  threads?: number;
  /** Write the engine's per-node profile to files starting with this prefix (see `endProfiling`). */
  profilePrefix?: string;
  /**
   * Let the engine plan one memory block for all intermediates after the first run (default true).
   * Training steps turn it off: see train/step.ts.
   */
  memoryPattern?: boolean;
}

export interface Session {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, HostTensor>, fetch?: string[]): Promise<Record<string, HostTensor>>;
  /**
   * Runs and writes each output named in `into` into that host tensor's buffer (passed to the
   * engine as a pre-allocated output); outputs named in `fetch` are returned fresh. Optional.
   */
  runInto?(feeds: Record<string, HostTensor>, into: Record<string, HostTensor>, fetch?: string[]): Promise<Record<string, HostTensor>>;
  /** Stops profiling and writes the profile file (engines that profile). */
  endProfiling?(): Promise<void>;
  release(): Promise<void>;
}

export interface Engine {
  readonly name: string;
  createSession(model: Uint8Array, opts?: SessionOptions): Promise<Session>;
}

let current: Engine | null = null;

export function setEngine(e: Engine): void {
  current = e;
}

export function getEngine(): Engine {
  if (!current) {
    throw new HybridVisionError("no execution engine: import 'hybridvision/node' in Node (or register onnxruntime-web with setEngine)");
  }
  return current;
}
