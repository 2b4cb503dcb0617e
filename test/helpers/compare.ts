import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { HostTensor } from '../../src/tensor.js';
import { readSafetensors } from '../../src/io/safetensors.js';

/** Asserts |ours - ref| <= atol + rtol*|ref| elementwise, reporting the worst element. */
export function assertClose(ours: HostTensor, ref: HostTensor, atol: number, rtol: number, label: string): number {
  assert.deepEqual(ours.shape, ref.shape, `${label}: shape`);
  const a = ours.data as Float32Array;
  const b = ref.data as Float32Array;
  let worst = -1;
  let worstExcess = -Infinity;
  let maxDiff = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= maxDiff)) maxDiff = d;
    const excess = d - (atol + rtol * Math.abs(b[i]));
    if (!(excess <= worstExcess)) {
      worstExcess = excess;
      worst = i;
    }
  }
  assert.ok(worstExcess <= 0, `${label}: element ${worst} ours ${a[worst]} ref ${b[worst]} (max |diff| ${maxDiff}, atol ${atol})`);
  return maxDiff;
}

export function maxAbs(t: HostTensor): number {
  let m = 0;
  for (const v of t.data as Float32Array) m = Math.max(m, Math.abs(v));
  return m;
}

export function readTensors(path: string): Map<string, HostTensor> {
  return readSafetensors(readFileSync(path)).tensors;
}

export interface GoldenCase {
  manifest: any;
  weights: Map<string, HostTensor> | null;
  io: Map<string, HostTensor>;
  io2: Map<string, HostTensor> | null;
}

export function loadCase(dir: string, name: string): GoldenCase {
  const manifest = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
  const w = join(dir, `${name}.weights.safetensors`);
  const io2 = join(dir, `${name}.io2.safetensors`);
  return {
    manifest,
    weights: existsSync(w) ? readTensors(w) : null,
    io: readTensors(join(dir, `${name}.io.safetensors`)),
    io2: existsSync(io2) ? readTensors(io2) : null,
  };
}

/** The largest element-wise difference between the float32 tensors of two state dicts. */
export function maxWeightDiff(a: Map<string, { dtype: string; data: unknown }>, b: Map<string, { dtype: string; data: unknown }>): number {
  let d = 0;
  for (const [k, t] of a) {
    if (t.dtype !== 'float32') continue;
    const x = t.data as Float32Array;
    const y = b.get(k)!.data as Float32Array;
    for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
  }
  return d;
}
