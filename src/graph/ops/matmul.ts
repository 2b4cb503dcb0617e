/** Batched matrix product with numpy broadcasting of the batch dims. */
import { broadcastShapes, shapeError, type Value } from '../ir.js';
import type { OpDef } from '../op.js';
import { sumTo } from './elementwise.js';
import { transpose } from './shape.js';

function swapLast(x: Value): Value {
  const perm = x.shape.map((_, i) => i);
  perm[x.rank - 1] = x.rank - 2;
  perm[x.rank - 2] = x.rank - 1;
  return transpose(x, perm);
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
    return [sumTo(matmul(g, swapLast(b)), a.shape), sumTo(matmul(swapLast(a), g), b.shape)];
  },
  madds: (n) => {
    const y = n.outputs[0];
    return y.size * n.inputs[0].shape[n.inputs[0].rank - 1];
  },
};

export const matmul = (a: Value, b: Value): Value => a.graph.apply1(MatMulOp, [a, b], {});
export { swapLast };
