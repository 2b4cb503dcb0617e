/**
 * Multi-head self-attention over token groups, with the projection lowering the graph's options
 * choose (graph/options.ts Lowering.attention): the block files only say "attention".
 */
import type { Value } from '../graph/ir.js';
import { add, mul } from '../graph/ops/elementwise.js';
import { matmul } from '../graph/ops/matmul.js';
import { reshape, slice, split, transpose } from '../graph/ops/shape.js';
import { softmax } from '../graph/ops/softmax.js';
import { tap } from '../graph/taps.js';
import { linear } from './functional.js';

/**
 * softmax(q·kᵀ/√dh)·v over tokens x [G·N, d] in G groups, with q, k, v from one fused projection
 * (weight [3d, d] = [q | k | v], bias [3d]) split into `heads`. Returns the heads concatenated
 * [G·N, d] (before the output projection).
 */
export function selfAttention(x: Value, w: Value, b: Value, groups: number, heads: number): Value {
  const d = x.shape[1];
  const n = x.shape[0] / groups;
  const dh = d / heads;
  let o: Value;
  if (x.graph.options.lowering.attention === 'fused') {
    // One [q | k | v] Gemm and one Transpose to heads. Its gradient is two Gemms and two
    // Transposes, where the per-head form needs a Transpose per projection and tiny batched
    // products (measured: tools/profile.js --train).
    const qkv = transpose(reshape(linear(x, w, b), [groups, n, 3, heads, dh]), [2, 0, 3, 1, 4]);
    const [q, k, v] = split(qkv, [1, 1, 1], 0).map((t) => reshape(t, [groups, heads, n, dh]));
    o = matmul(softmax(mul(matmul(q, transpose(k, [0, 1, 3, 2])), dh ** -0.5), -1), v);
  } else {
    // Per-head projections as one broadcast MatMul: [G, 1, N, d] x [h, d, dh] -> [G, h, N, dh], no transposes.
    const x4 = reshape(x, [groups, 1, n, d]);
    const proj = (i: number, scale: number) => {
      const wi = transpose(reshape(slice(w, [i * d], [(i + 1) * d], [0]), [heads, dh, d]), [0, 2, 1]);
      const bi = reshape(slice(b, [i * d], [(i + 1) * d], [0]), [heads, 1, dh]);
      return scale === 1 ? add(matmul(x4, wi), bi) : add(matmul(x4, mul(wi, scale)), mul(bi, scale));
    };
    const q = proj(0, dh ** -0.5);
    const k = proj(1, 1);
    const v = proj(2, 1);
    o = matmul(tap('patch_attention', softmax(matmul(q, transpose(k, [0, 1, 3, 2])), -1)), v); // [G, h, N, N]
  }
  return reshape(transpose(o, [0, 2, 1, 3]), [groups * n, d]);
}
