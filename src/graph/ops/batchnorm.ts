/**
 * Train-mode BatchNorm as one IR op with a hand-written gradient, and the per-channel affine map
 * it lowers to. Lowered for speed: statistics and normalisation are ONE ONNX BatchNormalization in
 * training mode, and the input gradient is
 *   dx = A·gy + B·xc + C   (xc = x − μ, A = w·r, B = −w·r³·Σ(gy·xc)/n, C = −w·r·Σgy/n, r = 1/√(var+ε)),
 * one BatchNormalization (A·gy + C) plus one Mul and one Add, instead of autodiff through ~10
 * elementwise ops. Semantics (torch): biased batch variance for the output, unbiased variance for
 * the running update, running ← (1−momentum)·running + momentum·batch.
 */
import { HybridVisionError, numel } from '../../tensor.js';
import type { Value } from '../ir.js';
import type { LowerCtx, OpDef } from '../op.js';
import { attr } from '../op.js';
import { add, div, mul, sqrt, sub } from './elementwise.js';
import { reduceMean, reduceSum } from './reduce.js';
import { reshape } from './shape.js';

const nonChannelAxes = (rank: number) => Array.from({ length: rank }, (_, i) => i).filter((i) => i !== 1);
const nameOr = (ctx: LowerCtx, v: Value, hint: string) => ctx.name(v) || ctx.fresh(hint);

/** y = x·scale[c] + bias[c] along axis 1 (one ONNX BatchNormalization with mean 0, var 1, ε 0). */
export const ChannelAffineOp: OpDef<{}> = {
  name: 'channel_affine',
  shape: ([x, s, b]) => {
    const c = x.shape[1];
    if (x.rank < 2 || s.rank !== 1 || s.shape[0] !== c || b.rank !== 1 || b.shape[0] !== c) {
      throw new HybridVisionError(`channel_affine: x [${x.shape}] with scale [${s.shape}] and bias [${b.shape}]`);
    }
    return [{ shape: [...x.shape], dtype: x.dtype }];
  },
  lower: (ctx, n) => {
    const [x, s, b] = n.inputs;
    const c = x.shape[1];
    ctx.emit('BatchNormalization', [ctx.name(x), ctx.name(s), ctx.name(b), ctx.floats(new Array(c).fill(0), [c]), ctx.floats(new Array(c).fill(1), [c])], [ctx.name(n.outputs[0])], {
      epsilon: attr.float(0),
    });
  },
  vjp: (n, [g]) => {
    if (!g) return [null, null, null];
    const [x, s] = n.inputs;
    const axes = nonChannelAxes(x.rank);
    const bshape = x.shape.map((d, i) => (i === 1 ? d : 1));
    return [mul(g, reshape(s, bshape)), reduceSum(mul(g, x), axes), reduceSum(g, axes)];
  },
};
export const channelAffine = (x: Value, scale: Value, bias: Value): Value => x.graph.apply1(ChannelAffineOp, [x, scale, bias], {});

interface BNTrainAttrs {
  eps: number;
  momentum: number;
}
/**
 * Inputs: x [N, C, ...], weight, bias, running_mean, running_var (all [C]).
 * Outputs: y, new running_mean, new running_var, batch mean μ, 1/√(var+ε) (all [C] but y).
 */
export const BatchNormTrainOp: OpDef<BNTrainAttrs> = {
  name: 'batch_norm_train',
  shape: ([x, w, b, m, v]) => {
    const c = x.shape[1];
    for (const p of [w, b, m, v]) if (p.rank !== 1 || p.shape[0] !== c) throw new HybridVisionError(`batch_norm_train: [${p.shape}] for ${c} channels`);
    const vec = { shape: [c], dtype: x.dtype };
    return [{ shape: [...x.shape], dtype: x.dtype }, vec, vec, vec, vec];
  },
  lower: (ctx, n) => {
    const [x, w, b, rm, rv] = n.inputs;
    const [y, nm, nv, muV, invV] = n.outputs;
    const c = x.shape[1];
    const cnt = numel(x.shape) / c;
    const { eps, momentum } = n.attrs;
    // onnxruntime's training-mode kernel: with momentum 0 its "running" outputs are the batch mean and
    // the biased batch variance (two-pass), computed in the same kernel that normalises. It may write
    // those outputs in place over its (ignored) mean/var inputs, so these are scratch values of this
    // node, not constants shared between nodes nor the running statistics read below.
    const zin = ctx.fresh('bn_zero');
    const oin = ctx.fresh('bn_one');
    ctx.emit('Mul', [ctx.name(rm), ctx.floats([0], [])], [zin]);
    ctx.emit('Add', [zin, ctx.floats([1], [])], [oin]);
    const mu = nameOr(ctx, muV, 'bn_mean');
    const vr = ctx.fresh('bn_var');
    ctx.emit('BatchNormalization', [ctx.name(x), ctx.name(w), ctx.name(b), zin, oin], [nameOr(ctx, y, 'bn_y'), mu, vr], {
      epsilon: attr.float(eps),
      momentum: attr.float(0),
      training_mode: attr.int(1),
    });
    if (ctx.name(invV)) {
      const sd = ctx.fresh('bn_sd');
      const ve = ctx.fresh('bn_ve');
      ctx.emit('Add', [vr, ctx.floats([eps], [])], [ve]);
      ctx.emit('Sqrt', [ve], [sd]);
      ctx.emit('Reciprocal', [sd], [ctx.name(invV)]);
    }
    const blend = (old: string, batch: string, scale: number, out: string) => {
      const a = ctx.fresh('bn_run_a');
      const bb = ctx.fresh('bn_run_b');
      ctx.emit('Mul', [old, ctx.floats([1 - momentum], [])], [a]);
      ctx.emit('Mul', [batch, ctx.floats([scale], [])], [bb]);
      ctx.emit('Add', [a, bb], [out]);
    };
    if (ctx.name(nm)) blend(ctx.name(rm), mu, momentum, ctx.name(nm));
    if (ctx.name(nv)) blend(ctx.name(rv), vr, (momentum * cnt) / Math.max(cnt - 1, 1), ctx.name(nv));
  },
  vjp: (n, [gy, gm, gv, gmu, gr]) => {
    if (gm || gv || gmu || gr) throw new HybridVisionError('batch_norm_train: gradients flow only through the normalised output');
    if (!gy) return [null, null, null, null, null];
    const [x, w] = n.inputs;
    const [, , , mu, r] = n.outputs;
    const axes = nonChannelAxes(x.rank);
    const cnt = numel(x.shape) / x.shape[1];
    const bshape = x.shape.map((d, i) => (i === 1 ? d : 1));
    // With xc = x − μ:  Σ gy·xc = Σ gy·x − μ·Σ gy,  dx = A·gy + B·xc + C = A·gy + B·x + (C − B·μ).
    const sg = reduceSum(gy, axes);
    const sgx = sub(reduceSum(mul(gy, x), axes), mul(mu, sg));
    const a = mul(w, r);
    const bcoef = mul(mul(a, mul(r, r)), mul(sgx, -1 / cnt));
    const c0 = sub(mul(mul(a, sg), -1 / cnt), mul(bcoef, mu));
    const dx = add(channelAffine(gy, a, c0), mul(x, reshape(bcoef, bshape)));
    return [dx, mul(sgx, r), sg, null, null];
  },
};

/** Train-mode BatchNorm: y and the new running statistics (the fused op unless the graph's lowering turns fusedBatchNorm off). */
export function batchNormTrainOp(x: Value, w: Value, b: Value, runningMean: Value, runningVar: Value, eps: number, momentum: number) {
  if (!x.graph.options.lowering.fusedBatchNorm) return batchNormTrainCompositeOp(x, w, b, runningMean, runningVar, eps, momentum);
  const [y, mean, vr] = x.graph.apply(BatchNormTrainOp, [x, w, b, runningMean, runningVar], { eps, momentum });
  return { y, mean, var: vr };
}

/** Train-mode BatchNorm as a composite of primitive ops (autodiff gives its gradient). */
export function batchNormTrainCompositeOp(x: Value, w: Value, b: Value, runningMean: Value, runningVar: Value, eps: number, momentum: number) {
  const axes = nonChannelAxes(x.rank);
  const bshape = x.shape.map((d, i) => (i === 1 ? d : 1));
  const n = numel(x.shape) / x.shape[1];
  const mean = reduceMean(x, axes, true);
  const xc = sub(x, mean);
  const v = reduceMean(mul(xc, xc), axes, true);
  const y = add(mul(mul(xc, div(1, sqrt(add(v, eps)))), reshape(w, bshape)), reshape(b, bshape));
  const c = x.shape[1];
  const newMean = add(mul(runningMean, 1 - momentum), mul(reshape(mean, [c]), momentum));
  const newVar = add(mul(runningVar, 1 - momentum), mul(reshape(v, [c]), (momentum * n) / Math.max(n - 1, 1)));
  return { y, mean: newMean, var: newVar };
}
