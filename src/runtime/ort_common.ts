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
      run(feeds: Record<string, OrtTensorLike>, fetches?: string[] | Record<string, OrtTensorLike | null>): Promise<Record<string, OrtTensorLike>>;
      endProfiling?(): unknown;
      release(): Promise<void>;
    }>;
  };
}

const ORT_TYPE: Record<string, string> = { float32: 'float32', int64: 'int64', int32: 'int32', bool: 'bool', uint8: 'uint8', float16: 'float16' };

const fromOrt = (t: OrtTensorLike): HostTensor => ({ dtype: t.type as HostTensor['dtype'], shape: [...t.dims], data: t.data as HostTensor['data'] });

/**
 * `preallocatedWritten`: the binding writes pre-allocated outputs in place (onnxruntime-node does:
 * ORT's C API fills user-provided output values); otherwise runInto fetches fresh outputs and copies
 * them into the host buffers.
 */
export function ortEngine(ort: OrtModule, name: string, extra: object = {}, caps: { preallocatedWritten?: boolean } = {}): Engine {
  const toOrt = (feeds: Record<string, HostTensor>): Record<string, OrtTensorLike> => {
    const f: Record<string, OrtTensorLike> = {};
    for (const [k, t] of Object.entries(feeds)) {
      const data = t.dtype === 'bool' ? Uint8Array.from(t.data as Uint8Array) : t.data;
      f[k] = new ort.Tensor(ORT_TYPE[t.dtype], data, t.shape);
    }
    return f;
  };
  return {
    name,
    async createSession(model: Uint8Array, opts: SessionOptions = {}): Promise<Session> {
      const s = await ort.InferenceSession.create(model, {
        graphOptimizationLevel: 'all',
        intraOpNumThreads: opts.threads ?? 2,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        enableMemPattern: opts.memoryPattern ?? true,
        ...(opts.profilePrefix ? { enableProfiling: true, profileFilePrefix: opts.profilePrefix } : {}),
        ...extra,
      });
      return {
        inputNames: s.inputNames,
        outputNames: s.outputNames,
        async run(feeds, fetch) {
          const out = await s.run(toOrt(feeds), fetch);
          const r: Record<string, HostTensor> = {};
          for (const [k, t] of Object.entries(out)) {
            r[k] = fromOrt(t);
          }
          return r;
        },
        async runInto(feeds, into, fetch = []) {
          const r: Record<string, HostTensor> = {};
          if (!caps.preallocatedWritten) {
            // onnxruntime-web 1.30 returns a pre-allocated CPU output unwritten: fetch fresh outputs and copy.
            const out = await s.run(toOrt(feeds), [...Object.keys(into), ...fetch]);
            for (const [k, t] of Object.entries(out)) {
              const dst = into[k];
              if (dst) (dst.data as Float32Array).set(t.data as Float32Array);
              else r[k] = fromOrt(t);
            }
            return r;
          }
          const fetches: Record<string, OrtTensorLike | null> = {};
          for (const [k, t] of Object.entries(into)) fetches[k] = new ort.Tensor(ORT_TYPE[t.dtype], t.data, t.shape);
          for (const k of fetch) fetches[k] = null;
          const out = await s.run(toOrt(feeds), fetches);
          for (const [k, t] of Object.entries(out)) {
            if (!into[k]) r[k] = fromOrt(t);
          }
          return r;
        },
        endProfiling: s.endProfiling ? async () => void (await s.endProfiling!()) : undefined,
        release: () => s.release(),
      };
    },
  };
}
