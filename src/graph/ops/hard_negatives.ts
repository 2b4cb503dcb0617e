/**
 * SSD hard-negative mining as one graph op (no gradient): per row (image), the positives plus the
 * `numNeg` non-positive entries with the largest score (the background loss), as torch's
 * `loss[pos] = -inf; orders = loss.sort(desc).indices.argsort(); neg = orders < num_neg`.
 * Lowered as TopK over the whole row (the full descending order), ScatterElements of 0..N−1 to get
 * each entry's rank, rank < numNeg, OR the positives.
 */
import type { OpDef } from '../op.js';
import { attr } from '../op.js';
import type { Value } from '../ir.js';
import { shapeError } from '../ir.js';

export const HardNegativeMaskOp: OpDef<Record<string, never>> = {
  name: 'hard_negative_mask',
  shape: ([score, pos, numNeg]) => {
    if (score.rank !== 2 || pos.shape.join() !== score.shape.join() || numNeg.shape.join() !== `${score.shape[0]},1`) {
      shapeError('hard_negative_mask', `expects score [B, N], positives [B, N] and counts [B, 1], got [${score.shape}], [${pos.shape}], [${numNeg.shape}]`);
    }
    return [{ shape: [...score.shape], dtype: 'float32' }];
  },
  lower: (ctx, n) => {
    const [score, pos, numNeg] = n.inputs.map((v) => ctx.name(v));
    const [b, len] = n.inputs[0].shape;
    const isPos = ctx.fresh('is_pos');
    ctx.emit('Greater', [pos, ctx.floats([0.5], [])], [isPos]);
    const masked = ctx.fresh('neg_score');
    ctx.emit('Where', [isPos, ctx.floats([-Infinity], []), score], [masked]);
    const [vals, order] = [ctx.fresh('sorted'), ctx.fresh('order')];
    ctx.emit('TopK', [masked, ctx.ints([len])], [vals, order], { axis: attr.int(1), largest: attr.int(1), sorted: attr.int(1) });
    const positions = ctx.fresh('positions');
    ctx.emit('Expand', [ctx.ints(Array.from({ length: len }, (_, i) => i)), ctx.ints([b, len])], [positions]);
    const rank = ctx.fresh('rank');
    ctx.emit('ScatterElements', [order, order, positions], [rank], { axis: attr.int(1) });
    const rankF = ctx.fresh('rank_f');
    ctx.emit('Cast', [rank], [rankF], { to: attr.int(1) });
    const isNeg = ctx.fresh('is_neg');
    ctx.emit('Less', [rankF, numNeg], [isNeg]);
    const any = ctx.fresh('selected');
    ctx.emit('Or', [isPos, isNeg], [any]);
    ctx.emit('Cast', [any], [ctx.name(n.outputs[0])], { to: attr.int(1) });
  },
  vjp: () => [null, null, null],
};

/** 0/1 mask [B, N]: positives (pos > 0.5) and, per row, the numNeg highest-scoring others. */
export function hardNegativeMaskOf(score: Value, pos: Value, numNeg: Value): Value {
  return score.graph.apply1(HardNegativeMaskOp, [score, pos, numNeg], {});
}
