/** Conversions between host tensors and onnxruntime tensors, shared by the Node and web engines. */
import type { HostTensor } from '../tensor.js';
import type { Engine, Session, SessionOptions } from './engine.js';

// The subset of the onnxruntime-common API used here (both onnxruntime-node and -web provide it).
export interface OrtTensorLike {
  type: string;
  dims: readonly number[];
  data: unknown;
}
export interface OrtModule {
  Tensor: new (type: any, data: any, dims: readonly number[]) => OrtTensorLike;
  InferenceSession: {
    create(model: Uint8Array, opts: object): Promise<{
      inputNames: readonly string[];
      outputNames: readonly string[];
      run(feeds: Record<string, OrtTensorLike>, fetches?: string[]): Promise<Record<string, OrtTensorLike>>;
      release(): Promise<void>;
    }>;
  };
}

const ORT_TYPE: Record<string, string> = { float32: 'float32', int64: 'int64', int32: 'int32', bool: 'bool', uint8: 'uint8', float16: 'float16' };

export function ortEngine(ort: OrtModule, name: string, extra: object = {}): Engine {
  return {
    name,
    async createSession(model: Uint8Array, opts: SessionOptions = {}): Promise<Session> {
      const s = await ort.InferenceSession.create(model, {
        graphOptimizationLevel: 'all',
        intraOpNumThreads: opts.threads ?? 2,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        ...extra,
      });
      return {
        inputNames: s.inputNames,
        outputNames: s.outputNames,
        async run(feeds, fetch) {
          const f: Record<string, OrtTensorLike> = {};
          for (const [k, t] of Object.entries(feeds)) {
            const data = t.dtype === 'bool' ? Uint8Array.from(t.data as Uint8Array) : t.data;
            f[k] = new ort.Tensor(ORT_TYPE[t.dtype], data, t.shape);
          }
          const out = await s.run(f, fetch);
          const r: Record<string, HostTensor> = {};
          for (const [k, t] of Object.entries(out)) {
            r[k] = { dtype: t.type as HostTensor['dtype'], shape: [...t.dims], data: t.data as HostTensor['data'] };
          }
          return r;
        },
        release: () => s.release(),
      };
    },
  };
}
