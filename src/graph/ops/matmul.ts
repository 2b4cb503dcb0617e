/** Batched matrix product with numpy broadcasting of the batch dims. */
import { broadcastShapes, shapeError, type Value } from '../ir.js';
import type { OpDef } from '../op.js';
import { keepsDataOrder, reshape, transpose, TransposeOp } from './shape.js';

function swapLast(x: Value): Value {
  const perm = x.shape.map((_, i) => i);
  perm[x.rank - 1] = x.rank - 2;
  perm[x.rank - 2] = x.rank - 1;
  return transpose(x, perm);
}

/** Whether x is a Transpose output that swaps the two innermost axes. */
const isSwapped = (x: Value): boolean => {
  if (x.node?.op !== TransposeOp) return false;
  const perm = x.node.attrs.perm as number[];
  const r = perm.length;
  return perm.every((p, i) => (i < r - 2 ? p === i : p === (i === r - 1 ? r - 2 : r - 1)));
};
const swapShape = (s: readonly number[]): number[] => [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]];

/** x with leading 1s up to `rank`. */
const lift = (x: Value, rank: number): Value => (x.rank === rank ? x : reshape(x, [...new Array(rank - x.rank).fill(1), ...x.shape]));

/**
 * R = Σ over the batch axes where `target` is broadcast of L[..., i, r]·M[..., r, j], as ONE matrix
 * product: those batch axes are folded into the contraction (L → [kept, i, S·r], M → [kept, S·r, j])
 * instead of a batched product over the full batch summed afterwards. `lT`: L is given as
 * [..., r, i] (its transpose, fused into the MatMul by the engine); likewise `mT` for M as [..., j, r].
 */
function contractBroadcast(l: Value, lT: boolean, m: Value, mT: boolean, target: readonly number[]): Value {
  const rank = Math.max(l.rank, m.rank, target.length);
  l = lift(l, rank);
  m = lift(m, rank);
  const t = [...new Array(rank - target.length).fill(1), ...target];
  const nb = rank - 2;
  const kept: number[] = [];
  const summed: number[] = [];
  for (let ax = 0; ax < nb; ax++) (t[ax] === 1 && Math.max(l.shape[ax], m.shape[ax]) > 1 ? summed : kept).push(ax);
  const S = summed.reduce((p, ax) => p * Math.max(l.shape[ax], m.shape[ax]), 1);
  // Bring x to [kept..., first, S·r] or, transposed, [kept..., S·r, first], whichever is a free
  // reshape (only size-1 axes move); the engine fuses the final swap into its MatMul.
  const arrange = (x: Value, rAxis: number, other: number, rLast: boolean): Value => {
    const keptShape = kept.map((ax) => x.shape[ax]);
    const direct = rLast ? [...kept, other, ...summed, rAxis] : [...kept, ...summed, rAxis, other];
    const swapped = rLast ? [...kept, ...summed, rAxis, other] : [...kept, other, ...summed, rAxis];
    const sr = S * x.shape[rAxis];
    const shapeOf = (perm: number[]) => (perm === direct) === rLast ? [...keptShape, x.shape[other], sr] : [...keptShape, sr, x.shape[other]];
    const perm = !keepsDataOrder(x.shape, direct) && keepsDataOrder(x.shape, swapped) ? swapped : direct;
    const y = reshape(transpose(x, perm), shapeOf(perm));
    return perm === direct ? y : swapLast(y);
  };
  const lr = arrange(l, lT ? nb : nb + 1, lT ? nb + 1 : nb, true); // [kept, i, S·r]
  const mr = arrange(m, mT ? nb + 1 : nb, mT ? nb : nb + 1, false); // [kept, S·r, j]
  return reshape(matmul(lr, mr), [...target]);
}

export const MatMulOp: OpDef<{}> = {
  name: 'matmul',
  shape: ([a, b]) => {
    if (a.rank < 2 || b.rank < 2) shapeError('matmul', 'operands need rank >= 2');
    const [m, k] = a.shape.slice(-2);
    const [k2, n] = b.shape.slice(-2);
    if (k !== k2) shapeError('matmul', `inner dims differ: [${a.shape.join(', ')}] x [${b.shape.join(', ')}]`);
    const batch = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
    return [{ shape: [...batch, m, n], dtype: a.dtype }];
  },
  lower: (ctx, n) => ctx.emit('MatMul', n.inputs.map((v) => ctx.name(v)), [ctx.name(n.outputs[0])]),
  vjp: (n, [g]) => {
    if (!g) return [null, null];
    const [a, b] = n.inputs;
    // dA = g·bᵀ, dB = aᵀ·g, each summed over the batch axes its operand was broadcast along. Where an
    // operand is itself a transposed matrix (x·Wᵀ, q·kᵀ), the gradient of the untransposed one is
    // formed directly (dW = gᵀ·x), so no Transpose of a gradient is left: the engine's Transpose
    // of the two innermost axes is slow.
    const ga = isSwapped(a) ? swapLast(contractBroadcast(b, false, g, true, swapShape(a.shape))) : contractBroadcast(g, false, b, true, a.shape);
    const gb = isSwapped(b) ? swapLast(contractBroadcast(g, true, a, false, swapShape(b.shape))) : contractBroadcast(a, true, g, false, b.shape);
    return [ga, gb];
  },
  madds: (n) => {
    const y = n.outputs[0];
    return y.size * n.inputs[0].shape[n.inputs[0].rank - 1];
  },
};

export const matmul = (a: Value, b: Value): Value => a.graph.apply1(MatMulOp, [a, b], {});
export { swapLast };
