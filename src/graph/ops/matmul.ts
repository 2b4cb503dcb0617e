/** Batched matrix product with numpy broadcasting of the batch dims. */
import { broadcastShapes, shapeError, type Value } from '../ir.js';
import type { OpDef } from '../op.js';
import { sumTo } from './elementwise.js';
import { reshape, transpose } from './shape.js';

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
    // A 2-D right operand shared by a batch (linear layers): one GEMM over the flattened batch
    // instead of a batched product summed over the batch.
    const gb =
      b.rank === 2 && a.rank > 2
        ? matmul(swapLast(reshape(a, [-1, a.shape[a.rank - 1]])), reshape(g, [-1, g.shape[g.rank - 1]]))
        : sumTo(matmul(swapLast(a), g), b.shape);
    return [sumTo(matmul(g, swapLast(b)), a.shape), gb];
  },
  madds: (n) => {
    const y = n.outputs[0];
    return y.size * n.inputs[0].shape[n.inputs[0].rank - 1];
  },
};

export const matmul = (a: Value, b: Value): Value => a.graph.apply1(MatMulOp, [a, b], {});
export { swapLast };
