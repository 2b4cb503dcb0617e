/** Reductions over static axes. */
import { normAxis, type Graph, type Value } from '../ir.js';
import type { OpDef } from '../op.js';
import { attr } from '../op.js';
import { mul } from './elementwise.js';
import { matmul } from './matmul.js';
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
  // Over trailing axes (e.g. global pooling's [N, C] back to [N, C, H, W]): g[P, 1]·ones[1, R], as
  // onnxruntime's Expand into the innermost axes goes element by element.
  const r = axes.reduce((p, a) => p * x.shape[a], 1);
  if (g.dtype === 'float32' && axes.every((a, i) => a === x.rank - axes.length + i) && r >= 4 && g.size >= 256) {
    return reshape(matmul(reshape(g, [g.size, 1]), onesRow(x.graph, r)), [...x.shape]);
  }
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

/** A [1, r] row of ones, one constant per graph and length. */
const onesRow = (g: Graph, r: number): Value => g.cachedConstant(`ones[1,${r}]`, () => ({ dtype: 'float32', shape: [1, r], data: new Float32Array(r).fill(1) }));

export function reduceSum(x: Value, axes: number[], keepdims = false): Value {
  const ax = axes.map((a) => normAxis(a, x.rank)).sort((a, b) => a - b);
  // A sum over leading axes (bias and norm-weight gradients of token layouts, [R, C] -> [C]) as
  // ones[1, R]·x[R, C]: onnxruntime's ReduceSum over a non-innermost axis is 2-5x slower than the GEMM.
  const rows = ax.reduce((p, a) => p * x.shape[a], 1);
  if (x.dtype === 'float32' && ax.every((a, i) => a === i) && ax.length < x.rank && rows >= 512 && x.size / rows >= 16) {
    return reshape(matmul(onesRow(x.graph, rows), reshape(x, [rows, x.size / rows])), reducedShape(x, { axes: ax, keepdims }));
  }
  return x.graph.apply1(ReduceSumOp, [x], { axes: ax, keepdims });
}
export function reduceMean(x: Value, axes: number[], keepdims = false): Value {
  return x.graph.apply1(ReduceMeanOp, [x], { axes: axes.map((a) => normAxis(a, x.rank)).sort((a, b) => a - b), keepdims });
}
