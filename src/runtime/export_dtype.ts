/** `export --dtype`: a lowered fp32 model converted to fp16 or int8 (see fp16.ts, quantize.ts). */
import { Program } from './program.js';
import { HybridVisionError, type HostTensor } from '../tensor.js';
import { toFp16, type Fp16Mode } from '../onnx/fp16.js';
import { foldConstants } from '../onnx/fold.js';
import { decodeModel, encodeModel } from '../onnx/proto.js';
import { applyQ8, q8CalibrationTargets, withExtraOutputs, type Q8Report, type Range } from '../onnx/quantize.js';

export const EXPORT_DTYPES = ['fp32', 'fp16', 'fp16-graph', 'q8', 'q8-weights'] as const;
export type ExportDtype = (typeof EXPORT_DTYPES)[number];

export interface DtypeOptions {
  /** q8: input batches ('input' tensors) the activation ranges are calibrated on. */
  calibration?: HostTensor[];
  threads?: number;
}

export async function convertDtype(bytes: Uint8Array, dtype: ExportDtype, opts: DtypeOptions = {}): Promise<{ bytes: Uint8Array; q8?: Q8Report }> {
  if (dtype === 'fp32') return { bytes };
  const m = decodeModel(bytes);
  if (dtype === 'fp16' || dtype === 'fp16-graph') {
    const mode: Fp16Mode = dtype === 'fp16' ? 'weights' : 'graph';
    return { bytes: encodeModel(toFp16(m, mode)) };
  }
  if (dtype === 'q8-weights') {
    foldConstants(m); // BatchNorm into the convolutions first
    const q8 = applyQ8(m, new Map(), 'weights');
    return { bytes: encodeModel(m), q8 };
  }
  if (dtype !== 'q8') throw new HybridVisionError(`unknown dtype '${dtype}' (one of ${EXPORT_DTYPES.join(', ')})`);
  if (!opts.calibration?.length) throw new HybridVisionError('q8 needs calibration images');
  const targets = q8CalibrationTargets(m);
  const ranges = await calibrate(encodeModel(withExtraOutputs(m, targets)), targets, opts.calibration, opts.threads);
  const q8 = applyQ8(m, ranges);
  return { bytes: encodeModel(m), q8 };
}

/** min/max of each named tensor over the calibration batches. */
export async function calibrate(bytes: Uint8Array, names: string[], batches: HostTensor[], threads = 2): Promise<Map<string, Range>> {
  const s = await Program.open(bytes, { threads });
  const ranges = new Map<string, Range>();
  try {
    for (const x of batches) {
      const out = await s.run({ input: x }, names);
      for (const n of names) {
        const d = out[n].data as Float32Array;
        const r = ranges.get(n) ?? { min: Infinity, max: -Infinity };
        for (let i = 0; i < d.length; i++) {
          const v = d[i];
          if (v < r.min) r.min = v;
          if (v > r.max) r.max = v;
        }
        ranges.set(n, r);
      }
    }
  } finally {
    await s.release();
  }
  return ranges;
}

/** Splits preprocessed images [n, 3, H, W] into input batches of the graph's batch size (the last one filled up by repeating). */
export function calibrationBatches(images: HostTensor, batch: number): HostTensor[] {
  const [n, c, h, w] = images.shape;
  const per = c * h * w;
  const src = images.data as Float32Array;
  const out: HostTensor[] = [];
  for (let from = 0; from < n; from += batch) {
    const data = new Float32Array(batch * per);
    for (let b = 0; b < batch; b++) data.set(src.subarray(((from + b) % n) * per, ((from + b) % n + 1) * per), b * per);
    out.push({ dtype: 'float32', shape: [batch, c, h, w], data });
  }
  return out;
}
