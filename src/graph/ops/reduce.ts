/** Reductions over static axes. */
import { normAxis, type Value } from '../ir.js';
import type { OpDef } from '../op.js';
import { attr } from '../op.js';
import { mul } from './elementwise.js';
import { expand, reshape } from './shape.js';

interface ReduceAttrs {
  axes: number[];
  keepdims: boolean;
}
function reducedShape(x: Value, { axes, keepdims }: ReduceAttrs): number[] {
  const out: number[] = [];
  x.shape.forEach((d, i) => {
    if (!axes.includes(i)) out.push(d);
    else if (keepdims) out.push(1);
  });
  return out;
}
/** Broadcasts a reduced gradient back over the reduced axes. */
function unreduce(g: Value, x: Value, axes: number[]): Value {
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return expand(reshape(g, kept), [...x.shape]);
}

export const ReduceSumOp: OpDef<ReduceAttrs> = {
  name: 'reduce_sum',
  shape: ([x], a) => [{ shape: reducedShape(x, a), dtype: x.dtype }],
  lower: (ctx, n) =>
    ctx.emit('ReduceSum', [ctx.name(n.inputs[0]), ctx.ints(n.attrs.axes)], [ctx.name(n.outputs[0])], { keepdims: attr.int(n.attrs.keepdims ? 1 : 0) }),
  vjp: (n, [g]) => [g && unreduce(g, n.inputs[0], n.attrs.axes)],
};
export const ReduceMeanOp: OpDef<ReduceAttrs> = {
  name: 'reduce_mean',
  shape: ([x], a) => [{ shape: reducedShape(x, a), dtype: x.dtype }],
  // opset 17: ReduceMean still takes axes as an attribute.
  lower: (ctx, n) =>
    ctx.emit('ReduceMean', [ctx.name(n.inputs[0])], [ctx.name(n.outputs[0])], {
      axes: attr.ints(n.attrs.axes),
      keepdims: attr.int(n.attrs.keepdims ? 1 : 0),
    }),
  vjp: (n, [g]) => {
    if (!g) return [null];
    const x = n.inputs[0];
    const count = n.attrs.axes.reduce((p, a) => p * x.shape[a], 1);
    return [unreduce(mul(g, 1 / count), x, n.attrs.axes)];
  },
};

export function reduceSum(x: Value, axes: number[], keepdims = false): Value {
  return x.graph.apply1(ReduceSumOp, [x], { axes: axes.map((a) => normAxis(a, x.rank)).sort((a, b) => a - b), keepdims });
}
export function reduceMean(x: Value, axes: number[], keepdims = false): Value {
  return x.graph.apply1(ReduceMeanOp, [x], { axes: axes.map((a) => normAxis(a, x.rank)).sort((a, b) => a - b), keepdims });
}
