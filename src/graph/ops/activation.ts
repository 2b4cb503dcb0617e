/**
 * Activations as single IR ops with hand-written gradients (fewer full-size passes than autodiff
 * through their composite forms).
 */
import type { Value } from '../ir.js';
import type { OpDef } from '../op.js';
import { add, mul, sigmoid, sub } from './elementwise.js';

/**
 * SiLU y = x·σ(x). Outputs y and σ(x) (kept for the gradient). Gradient
 * dy/dx = σ + y·(1 − σ): 4 elementwise passes instead of 6 through mul/sigmoid.
 */
export const SiluOp: OpDef<{}> = {
  name: 'silu',
  shape: ([x]) => [
    { shape: [...x.shape], dtype: x.dtype },
    { shape: [...x.shape], dtype: x.dtype },
  ],
  lower: (ctx, n) => {
    const x = ctx.name(n.inputs[0]);
    const s = ctx.name(n.outputs[1]) || ctx.fresh('sigmoid');
    ctx.emit('Sigmoid', [x], [s]);
    ctx.emit('Mul', [x, s], [ctx.name(n.outputs[0])]);
  },
  vjp: (n, [g, gs]) => {
    if (gs) throw new Error('silu: the sigmoid output is internal');
    if (!g) return [null];
    const [y, s] = n.outputs;
    return [mul(g, add(s, sub(y, mul(y, s))))];
  },
};
/** SiLU (the fused op unless the graph's lowering turns fusedSilu off, then x·sigmoid(x)). */
export const siluOp = (x: Value): Value => (x.graph.options.lowering.fusedSilu ? x.graph.apply(SiluOp, [x], {})[0] : mul(x, sigmoid(x)));
