/** Seeded initialisation from key names and shapes, following the official inits. */
import { numel, type HostTensor } from '../tensor.js';

/** mulberry32: a small deterministic PRNG. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function normalSampler(rand: () => number): () => number {
  return () => {
    const u = Math.max(rand(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
}

/** BN/LN: ones and zeros; convs: kaiming normal (fan_out); linears: truncated N(0, 0.02) (CVNets) or N(0, 0.01) (Mobile-Former); tokens: N(0, 1). */
export function initTensor(key: string, shape: number[], dtype: string, normal: () => number, linear: { std: number; truncate: boolean } = { std: 0.02, truncate: true }): HostTensor {
  if (dtype === 'int64') return { dtype: 'int64', shape, data: new BigInt64Array(numel(shape)) };
  const n = numel(shape);
  const data = new Float32Array(n);
  const leaf = key.slice(key.lastIndexOf('.') + 1);
  if (leaf === 'running_var' || (leaf === 'weight' && shape.length === 1)) data.fill(1);
  else if (leaf === 'weight' && shape.length >= 2) {
    let std: number;
    if (key === 'tokens.weight') std = 1;
    else if (shape.length === 4) std = Math.sqrt(2 / (shape[0] * shape[2] * shape[3]));
    else std = linear.std;
    for (let i = 0; i < n; i++) {
      let z = normal();
      if (linear.truncate && shape.length === 2 && key !== 'tokens.weight') while (Math.abs(z) > 2) z = normal();
      data[i] = z * std;
    }
  }
  return { dtype: 'float32', shape, data };
}
