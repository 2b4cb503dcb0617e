/**
 * The golden data's synthetic weights (README "Synthetic-weight cases", rules "synth-v1"), their
 * sha256, and the synthetic input (core: no Node built-ins).
 *
 *   h   = fnv1a32(utf8(key)) XOR seed
 *   x_i = lowbias32(h + i*0x9E3779B9 mod 2^32)
 *   u_i = (x_i >>> 9) / 2^23
 */
import { HybridVisionError, numel, type HostTensor } from '../tensor.js';
import { concatBytes } from './bytes.js';

export interface ShapeSpec {
  shape: number[];
  dtype: string;
}

const utf8 = new TextEncoder();

export function fnv1a32(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function lowbias32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Fills out[i] = f(u_i) rounded to float32, u_i the key's uniform stream. */
function fill(key: string, seed: number, n: number, f: (u: number) => number): Float32Array {
  const h = (fnv1a32(utf8.encode(key)) ^ seed) >>> 0;
  const out = new Float32Array(n);
  let x = h;
  for (let i = 0; i < n; i++) {
    const u = (lowbias32(x) >>> 9) / 8388608;
    out[i] = f(u); // Float32Array store = one rounding of the float64 value
    x = (x + 0x9e3779b9) >>> 0;
  }
  return out;
}

function lastPart(key: string): [prefix: string, leaf: string] {
  const i = key.lastIndexOf('.');
  return i < 0 ? ['', key] : [key.slice(0, i + 1), key.slice(i + 1)];
}

/** The synthetic state_dict for the given key -> {shape, dtype} table (e.g. state_dict_shapes.json). */
export function syntheticWeights(shapes: Record<string, ShapeSpec>, seed: number): Map<string, HostTensor> {
  const has = (k: string): boolean => Object.prototype.hasOwnProperty.call(shapes, k);
  const out = new Map<string, HostTensor>();
  const s = seed >>> 0;
  for (const [key, spec] of Object.entries(shapes)) {
    const shape = [...spec.shape];
    const n = numel(shape);
    const [prefix, leaf] = lastPart(key);
    if (leaf === 'num_batches_tracked' || spec.dtype === 'int64') {
      if (leaf !== 'num_batches_tracked') throw new HybridVisionError(`synthetic weights: no rule for int64 tensor '${key}'`);
      out.set(key, { dtype: 'int64', shape, data: new BigInt64Array(n) });
      continue;
    }
    if (spec.dtype !== 'float32') throw new HybridVisionError(`synthetic weights: unsupported dtype '${spec.dtype}' for '${key}'`);
    const isBN = has(`${prefix}running_mean`);
    let f: (u: number) => number;
    if (leaf === 'running_mean') f = (u) => (u - 0.5) * 0.2;
    else if (leaf === 'running_var') f = (u) => 0.5 + 1.5 * u;
    else if (leaf === 'weight') {
      if (shape.length === 1) f = isBN ? (u) => 0.5 + u : (u) => 0.75 + 0.5 * u;
      else if (shape.length >= 2) {
        const fanIn = numel(shape.slice(1));
        const scale = Math.fround(Math.sqrt(3 / fanIn));
        f = (u) => Math.fround(2 * u - 1) * scale;
      } else throw new HybridVisionError(`synthetic weights: no rule for 0-d weight '${key}'`);
    } else if (leaf === 'bias') {
      const w = shapes[`${prefix}weight`];
      if (isBN) f = (u) => (u - 0.5) * 0.2;
      else if (w && w.shape.length === 1) f = (u) => (u - 0.5) * 0.1;
      else if (w && w.shape.length >= 2) f = (u) => (u - 0.5) * 0.2;
      else throw new HybridVisionError(`synthetic weights: bias '${key}' has no sibling weight`);
    } else {
      throw new HybridVisionError(`synthetic weights: no rule for key '${key}'`);
    }
    out.set(key, { dtype: 'float32', shape, data: fill(key, s, n, f) });
  }
  return out;
}

/** The synthetic input: key "__input__", value (2u-1)*sqrt(3) in float64, rounded to float32. */
export function syntheticInput(shape: number[], seed: number): HostTensor & { data: Float32Array } {
  const sqrt3 = Math.sqrt(3);
  return { dtype: 'float32', shape: [...shape], data: fill('__input__', seed >>> 0, numel(shape), (u) => (2 * u - 1) * sqrt3) };
}

/** Python str ordering: by code point (not UTF-16 code unit). */
export function comparePyStr(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca === cb) continue;
    // A surrogate (part of an astral code point) sorts above every non-surrogate BMP code unit.
    const sa = ca >= 0xd800 && ca <= 0xdfff;
    const sb = cb >= 0xd800 && cb <= 0xdfff;
    if (sa !== sb) return sa ? 1 : -1;
    return ca - cb;
  }
  return a.length - b.length;
}

/**
 * sha256 over the keys in Python sorted order, each as utf8(key) followed by the tensor's raw
 * little-endian bytes (int64 for num_batches_tracked). Hex digest.
 */
export async function weightsSha256(map: Map<string, HostTensor>): Promise<string> {
  const keys = [...map.keys()].sort(comparePyStr);
  const parts: Uint8Array[] = [];
  for (const k of keys) {
    const kb = utf8.encode(k);
    const d = map.get(k)!.data;
    const db = new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
    parts.push(kb, db);
  }
  const all = concatBytes(parts);
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw new HybridVisionError('this JavaScript runtime has no crypto.subtle for sha256');
  const digest = new Uint8Array(await subtle.digest('SHA-256', all));
  return [...digest].map((b) => b.toString(16).padStart(2, '0')).join('');
}
