/** Seeded initialisation of declared tensors: each module's constructor names the rule (nn/module.ts InitRule). */
import { numel, type HostTensor } from '../tensor.js';
import type { StateEntry } from '../nn/module.js';
import { normalSampler, rng } from '../random.js';

/**
 * Fresh tensors for `entries`, drawn in order from one normal stream seeded by `seed` (only normal
 * rules draw, so the stream depends on the declared order alone).
 */
export function initState(entries: readonly StateEntry[], seed: number): Map<string, HostTensor> {
  const rand = rng(seed);
  const draw = normalSampler(rand);
  const out = new Map<string, HostTensor>();
  for (const e of entries) {
    const n = numel(e.shape);
    if (e.dtype === 'int64') {
      out.set(e.key, { dtype: 'int64', shape: [...e.shape], data: new BigInt64Array(n) });
      continue;
    }
    const data = new Float32Array(n);
    const r = e.init;
    if (r.kind === 'ones') data.fill(1);
    else if (r.kind === 'constant') data.fill(r.value);
    else if (r.kind === 'uniform') for (let i = 0; i < n; i++) data[i] = (2 * rand() - 1) * r.bound;
    else if (r.kind === 'normal') {
      for (let i = 0; i < n; i++) {
        let z = draw();
        if (r.truncate !== undefined) while (Math.abs(z) > r.truncate) z = draw();
        data[i] = z * r.std;
      }
    }
    out.set(e.key, { dtype: 'float32', shape: [...e.shape], data });
  }
  return out;
}
