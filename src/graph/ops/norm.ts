/** LayerNormalization (over all axes from `axis`) and inference-mode BatchNormalization. */
import { numel } from '../../tensor.js';
import type { Value } from '../ir.js';
import type { OpDef } from '../op.js';
import { attr } from '../op.js';
import { add, mul, sqrt, sub, div, sumTo } from './elementwise.js';
import { reduceMean, reduceSum } from './reduce.js';
import { reshape } from './shape.js';

interface LNAttrs {
  axis: number;
  eps: number;
}
/** Outputs: y, mean, inverse std (both keep the normalised axes as 1). Inputs: x, scale?, bias?. */
export const LayerNormOp: OpDef<LNAttrs> = {
  name: 'layer_norm',
  shape: ([x], { axis }) => {
    const stat = x.shape.map((d, i) => (i < axis ? d : 1));
    return [
      { shape: [...x.shape], dtype: x.dtype },
      { shape: stat, dtype: x.dtype },
      { shape: stat, dtype: x.dtype },
    ];
  },
  lower: (ctx, n) => {
    const [x, w, b] = n.inputs;
    const normShape = x.shape.slice(n.attrs.axis);
    const scale = w ? ctx.name(w) : ctx.floats(new Array(numel(normShape)).fill(1), normShape);
    const inputs = [ctx.name(x), scale];
    if (b) inputs.push(ctx.name(b));
    ctx.emit('LayerNormalization', inputs, n.outputs.map((v) => ctx.name(v)), {
      axis: attr.int(n.attrs.axis),
      epsilon: attr.float(n.attrs.eps),
    });
  },
  vjp: (n, [g]) => {
    if (!g) return n.inputs.map(() => null);
    const [x, w, b] = n.inputs;
    const [, mean, rstd] = n.outputs;
    const axes = x.shape.map((_, i) => i).filter((i) => i >= n.attrs.axis);
    const xhat = mul(sub(x, mean), rstd);
    const gx = w ? mul(g, w) : g;
    const m1 = reduceMean(gx, axes, true);
    const m2 = reduceMean(mul(gx, xhat), axes, true);
    const dx = mul(rstd, sub(sub(gx, m1), mul(xhat, m2)));
    return [dx, w ? sumTo(mul(g, xhat), w.shape) : null, b ? sumTo(g, b.shape) : null].slice(0, n.inputs.length);
  },
};
export function layerNorm(x: Value, w: Value | null, b: Value | null, axis: number, eps: number): Value {
  const ax = axis < 0 ? axis + x.rank : axis;
  const inputs = [x];
  if (w) inputs.push(w);
  if (b) {
    if (!w) throw new Error('layerNorm with a bias needs a scale');
    inputs.push(b);
  }
  return x.graph.apply(LayerNormOp, inputs, { axis: ax, eps })[0];
}

/** BatchNorm with fixed statistics, channel axis 1, for NCHW or NC inputs. */
export const BatchNormEvalOp: OpDef<{ eps: number }> = {
  name: 'batch_norm_eval',
  shape: ([x]) => [{ shape: [...x.shape], dtype: x.dtype }],
  lower: (ctx, n) =>
    ctx.emit('BatchNormalization', n.inputs.map((v) => ctx.name(v)), [ctx.name(n.outputs[0])], { epsilon: attr.float(n.attrs.eps) }),
  vjp: (n, [g]) => {
    if (!g) return [null, null, null, null, null];
    const [x, w, , mean, v] = n.inputs;
    const bshape = x.shape.map((d, i) => (i === 1 ? d : 1));
    const inv = reshape(div(1, sqrt(add(v, n.attrs.eps))), bshape);
    const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
    const xhat = mul(sub(x, reshape(mean, bshape)), inv);
    return [mul(g, mul(inv, reshape(w, bshape))), reduceSum(mul(g, xhat), axes), reduceSum(g, axes), null, null];
  },
};
export function batchNormEval(x: Value, w: Value, b: Value, mean: Value, v: Value, eps: number): Value {
  return x.graph.apply1(BatchNormEvalOp, [x, w, b, mean, v], { eps });
}
