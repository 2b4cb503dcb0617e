/** Softmax and log-softmax along one axis. */
import { normAxis, type Value } from '../ir.js';
import type { OpDef } from '../op.js';
import { attr } from '../op.js';
import { exp, mul, sub } from './elementwise.js';
import { reduceSum } from './reduce.js';

export const SoftmaxOp: OpDef<{ axis: number }> = {
  name: 'softmax',
  shape: ([x]) => [{ shape: [...x.shape], dtype: x.dtype }],
  lower: (ctx, n) => ctx.emit('Softmax', [ctx.name(n.inputs[0])], [ctx.name(n.outputs[0])], { axis: attr.int(n.attrs.axis) }),
  vjp: (n, [g]) => {
    if (!g) return [null];
    const y = n.outputs[0];
    return [mul(y, sub(g, reduceSum(mul(g, y), [n.attrs.axis], true)))];
  },
};
export const LogSoftmaxOp: OpDef<{ axis: number }> = {
  name: 'log_softmax',
  shape: ([x]) => [{ shape: [...x.shape], dtype: x.dtype }],
  lower: (ctx, n) => ctx.emit('LogSoftmax', [ctx.name(n.inputs[0])], [ctx.name(n.outputs[0])], { axis: attr.int(n.attrs.axis) }),
  vjp: (n, [g]) => {
    if (!g) return [null];
    return [sub(g, mul(exp(n.outputs[0]), reduceSum(g, [n.attrs.axis], true)))];
  },
};

export const softmax = (x: Value, axis: number): Value => x.graph.apply1(SoftmaxOp, [x], { axis: normAxis(axis, x.rank) });
export const logSoftmax = (x: Value, axis: number): Value => x.graph.apply1(LogSoftmaxOp, [x], { axis: normAxis(axis, x.rank) });
