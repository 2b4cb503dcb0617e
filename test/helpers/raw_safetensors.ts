import { readFileSync } from 'node:fs';

export interface RawTensor {
  dtype: string;
  shape: number[];
  /** F64/F32 as numbers, I64 as numbers (safe range), U8/I32 likewise. */
  values: Float64Array;
}

/** Reads every tensor of a safetensors file at full precision (the library reader narrows F64 to F32). */
export function readRawSafetensors(path: string): Map<string, RawTensor> {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  const base = 8 + n;
  const out = new Map<string, RawTensor>();
  for (const [k, v] of Object.entries<any>(header)) {
    if (k === '__metadata__') continue;
    const [s, e] = v.data_offsets as [number, number];
    const bytes = buf.subarray(base + s, base + e);
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    let values: Float64Array;
    switch (v.dtype) {
      case 'F64': values = new Float64Array(ab); break;
      case 'F32': values = Float64Array.from(new Float32Array(ab)); break;
      case 'I64': values = Float64Array.from(new BigInt64Array(ab), (x) => Number(x)); break;
      case 'I32': values = Float64Array.from(new Int32Array(ab)); break;
      case 'U8': values = Float64Array.from(new Uint8Array(ab)); break;
      default: throw new Error(`dtype ${v.dtype}`);
    }
    out.set(k, { dtype: v.dtype, shape: v.shape, values });
  }
  return out;
}
