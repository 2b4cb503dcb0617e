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
 * (weight [3d, d] = [q | k | v], bias [3d]) split into `heads`, then the output projection (weight
 * [d, d], bias [d]). Returns [G·N, d].
 */
export function selfAttention(x: Value, w: Value, b: Value, wOut: Value, bOut: Value, groups: number, heads: number): Value {
  const d = x.shape[1];
  const n = x.shape[0] / groups;
  const dh = d / heads;
  let o: Value;
  let bOutAll = bOut;
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
    const bq = reshape(slice(b, [0], [d], [0]), [heads, 1, dh]);
    const q = add(matmul(x4, mul(perHead(w, 0, d, heads), dh ** -0.5)), mul(bq, dh ** -0.5));
    // k's and v's biases are not added per head. k's adds q·b_k to every score of a query, which its
    // softmax cancels; v's comes out of the attention unchanged (each row of weights sums to 1), so it
    // joins the output projection's bias, W_out·b_v + b_out, which the engine folds as a constant.
    // Two broadcast Adds fewer per layer ([G, h, N, dh] + [h, 1, dh] is a slow, dh-wide broadcast):
    // batch 1 XXS 1.05x, XS 1.03x, S 1.01x; batch 8 1.02x (tools/ab_inference.js).
    const k = matmul(x4, perHead(w, 1, d, heads));
    const v = matmul(x4, perHead(w, 2, d, heads));
    o = matmul(tap('patch_attention', softmax(matmul(q, transpose(k, [0, 1, 3, 2])), -1)), v); // [G, h, N, N]
    bOutAll = add(bOut, reshape(matmul(wOut, reshape(slice(b, [2 * d], [3 * d], [0]), [d, 1])), [d]));
  }
  return linear(reshape(transpose(o, [0, 2, 1, 3]), [groups * n, d]), wOut, bOutAll);
}

/** Projection i of [q | k | v] as per-head matrices [h, d, dh]. */
const perHead = (w: Value, i: number, d: number, heads: number): Value =>
  transpose(reshape(slice(w, [i * d], [(i + 1) * d], [0]), [heads, d / heads, d]), [0, 2, 1]);
