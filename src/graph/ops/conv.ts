/**
 * 2-D convolution (NCHW, OIHW weights, groups). The gradient is lowered for speed (choices measured
 * by bench/train_step.ts --variants, see ConvGradLowering): the input gradient of a stride-1 conv is
 * a Conv with the flipped, group-transposed kernel, of a strided conv a ConvTranspose; the weight
 * gradient of a k×k conv is one grouped, dilated Conv with the output gradient as the kernel, or
 * for depthwise stride-1 convs row-wise matrix products (1×1: a matrix product). In training graphs
 * depthwise convs on small maps are per-channel matrix products instead (./depthwise_dense.ts).
 */
import { HybridVisionError } from '../../tensor.js';
import { shapeError, type Node, type Value } from '../ir.js';
import type { OpDef } from '../op.js';
import type { ConvLowering } from '../options.js';
import { attr } from '../op.js';
import { depthwiseConvDense } from './depthwise_dense.js';
import { mul } from './elementwise.js';
import { matmul } from './matmul.js';
import { reduceSum } from './reduce.js';
import { concat, pad, reshape, slice, transpose } from './shape.js';

export interface ConvAttrs {
  stride: [number, number];
  /** top, left, bottom, right */
  pads: [number, number, number, number];
  groups: number;
  /** Spacing between kernel taps (default [1, 1]); the kernel spans (k−1)·d+1 input pixels. */
  dilation?: [number, number];
}

const dil = (a: ConvAttrs): [number, number] => a.dilation ?? [1, 1];
const isDilated = (a: ConvAttrs): boolean => dil(a)[0] !== 1 || dil(a)[1] !== 1;
/** The input extent one output pixel reads along each axis: (k−1)·d+1. */
const span = (k: number, d: number): number => (k - 1) * d + 1;

/** MAdds of a conv-like node: `positions` kernel applications, each over the weight's [C/groups, kh, kw]. */
function kernelMadds(n: Node, positions: number): number {
  const [, cg, kh, kw] = n.inputs[1].shape;
  return positions * cg * kh * kw;
}

/** The VJP of the convolutions used only inside gradients. */
function noSecondOrder(): never {
  throw new HybridVisionError('second-order gradients of convolutions are not supported');
}

function convOutSize(inp: number, k: number, s: number, p0: number, p1: number): number {
  return Math.floor((inp + p0 + p1 - k) / s) + 1;
}

export const Conv2dOp: OpDef<ConvAttrs> = {
  name: 'conv2d',
  shape: ([x, w, b], a) => {
    if (x.rank !== 4) shapeError('conv2d', `expects a 4-D NCHW input, got [${x.shape.join(', ')}]`);
    const [n, c, h, wd] = x.shape;
    const [o, cg, kh, kw] = w.shape;
    if (c !== cg * a.groups) shapeError('conv2d', `input has ${c} channels, weight [${w.shape.join(', ')}] with groups ${a.groups} expects ${cg * a.groups}`);
    if (o % a.groups !== 0) shapeError('conv2d', `out channels ${o} not divisible by groups ${a.groups}`);
    if (b && (b.rank !== 1 || b.shape[0] !== o)) shapeError('conv2d', 'bias shape mismatch');
    const [dh, dw] = dil(a);
    if (!(dh >= 1 && dw >= 1 && Number.isInteger(dh) && Number.isInteger(dw))) shapeError('conv2d', `invalid dilation [${dil(a)}]`);
    const oh = convOutSize(h, span(kh, dh), a.stride[0], a.pads[0], a.pads[2]);
    const ow = convOutSize(wd, span(kw, dw), a.stride[1], a.pads[1], a.pads[3]);
    if (oh < 1 || ow < 1) shapeError('conv2d', `input ${h}x${wd} is too small for a ${kh}x${kw} kernel`);
    return [{ shape: [n, o, oh, ow], dtype: x.dtype }];
  },
  lower: (ctx, n) => {
    const [kh, kw] = n.inputs[1].shape.slice(2);
    ctx.emit('Conv', n.inputs.map((v) => ctx.name(v)), [ctx.name(n.outputs[0])], {
      kernel_shape: attr.ints([kh, kw]),
      strides: attr.ints(n.attrs.stride),
      pads: attr.ints([n.attrs.pads[0], n.attrs.pads[1], n.attrs.pads[2], n.attrs.pads[3]]),
      dilations: attr.ints(dil(n.attrs)),
      group: attr.int(n.attrs.groups),
    });
  },
  vjp: (n, [g]) => {
    if (!g) return n.inputs.map(() => null);
    const [x, w, b] = n.inputs;
    return [convInputGrad(g, w, x.shape, n.attrs), convWeightGrad(g, x, w.shape, n.attrs), b ? reduceSum(g, [0, 2, 3]) : null];
  },
  madds: (n) => kernelMadds(n, n.outputs[0].size),
};

export function conv2d(x: Value, w: Value, b: Value | null, a: ConvAttrs): Value {
  const [, c, h, wd] = x.shape;
  const depthwise = a.groups === c && w.rank === 4 && w.shape[0] === c && w.shape[1] === 1;
  const maxMatrix = x.graph.options.lowering.conv.denseDepthwiseMaxMatrix;
  if (depthwise && maxMatrix > 0) {
    const [oh, ow] = [0, 1].map((i) => convOutSize(x.shape[2 + i], span(w.shape[2 + i], dil(a)[i]), a.stride[i], a.pads[i], a.pads[2 + i]));
    if (oh >= 1 && ow >= 1 && h * wd * oh * ow <= maxMatrix) return depthwiseConvDense(x, w, b, a, oh, ow);
  }
  return x.graph.apply1(Conv2dOp, b ? [x, w, b] : [x, w], a);
}

/** ConvTranspose used for the input gradient of strided convs (no gradient of its own). */
export const ConvTransposeOp: OpDef<ConvAttrs & { outHW: [number, number] }> = {
  name: 'conv_transpose2d',
  shape: ([g, w], a) => [{ shape: [g.shape[0], w.shape[1] * a.groups, a.outHW[0], a.outHW[1]], dtype: g.dtype }],
  lower: (ctx, n) => {
    const [g, w] = n.inputs;
    const [kh, kw] = w.shape.slice(2);
    const [sh, sw] = n.attrs.stride;
    const [pt, pl, pb, pr] = n.attrs.pads;
    const natural = [(g.shape[2] - 1) * sh + kh - pt - pb, (g.shape[3] - 1) * sw + kw - pl - pr];
    ctx.emit('ConvTranspose', [ctx.name(g), ctx.name(w)], [ctx.name(n.outputs[0])], {
      kernel_shape: attr.ints([kh, kw]),
      strides: attr.ints([sh, sw]),
      pads: attr.ints([pt, pl, pb, pr]),
      output_padding: attr.ints([n.attrs.outHW[0] - natural[0], n.attrs.outHW[1] - natural[1]]),
      group: attr.int(n.attrs.groups),
    });
  },
  vjp: noSecondOrder,
  madds: (n) => kernelMadds(n, n.inputs[0].size),
};

/** The conv lowering choices (graph/options.ts ConvLowering), under the name this file always used. */
export type ConvGradLowering = ConvLowering;

/** A plain ONNX Conv with pads and dilations (used only inside gradients; no gradient of its own). */
export const Conv2dRawOp: OpDef<{ groups: number; dilation: [number, number]; pads: [number, number, number, number] }> = {
  name: 'conv2d_raw',
  shape: ([x, w], a) => {
    const [n, , h, wd] = x.shape;
    const [o, , kh, kw] = w.shape;
    const [dh, dw] = a.dilation;
    const [pt, pl, pb, pr] = a.pads;
    return [{ shape: [n, o, h + pt + pb - (kh - 1) * dh, wd + pl + pr - (kw - 1) * dw], dtype: x.dtype }];
  },
  lower: (ctx, n) => {
    const [kh, kw] = n.inputs[1].shape.slice(2);
    ctx.emit('Conv', n.inputs.map((v) => ctx.name(v)), [ctx.name(n.outputs[0])], {
      kernel_shape: attr.ints([kh, kw]),
      strides: attr.ints([1, 1]),
      pads: attr.ints(n.attrs.pads),
      dilations: attr.ints(n.attrs.dilation),
      group: attr.int(n.attrs.groups),
    });
  },
  vjp: noSecondOrder,
  madds: (n) => kernelMadds(n, n.outputs[0].size),
};

/**
 * dx[i] = Σ_k gd[i + p − k]·w[k] per spatial axis: a stride-1 conv of gd with the flipped,
 * group-transposed kernel, padded (or, where the forward padding exceeded k−1, cropped) so that the
 * result has the input's size.
 */
function correlateBack(gd: Value, w: Value, xShape: readonly number[], a: ConvAttrs): Value {
  const [o, cg, k0, k1] = w.shape;
  const [dh, dw] = dil(a);
  const [kh, kw] = [span(k0, dh), span(k1, dw)];
  const G = a.groups;
  let wt = reshape(w, [G, o / G, cg, k0, k1]);
  wt = reshape(transpose(wt, [0, 2, 1, 3, 4]), [G * cg, o / G, k0, k1]);
  if (k0 * k1 > 1) wt = slice(wt, [k0 - 1, k1 - 1], [-k0 - 1, -k1 - 1], [2, 3], [-1, -1]);
  const top = kh - 1 - a.pads[0];
  const left = kw - 1 - a.pads[1];
  const bottom = xShape[2] + kh - 1 - gd.shape[2] - top;
  const right = xShape[3] + kw - 1 - gd.shape[3] - left;
  const crop = [top, left, bottom, right].map((v) => Math.max(0, -v));
  if (crop.some((v) => v > 0)) gd = slice(gd, [crop[0], crop[1]], [gd.shape[2] - crop[2], gd.shape[3] - crop[3]], [2, 3]);
  const pads = [top, left, bottom, right].map((v) => Math.max(0, v)) as [number, number, number, number];
  return conv2d(gd, wt, null, { stride: [1, 1], pads, groups: G, ...(isDilated(a) ? { dilation: [dh, dw] } : {}) });
}

/** g [N, O, oh, ow] spread onto a stride grid: [N, O, (oh−1)·sh+1, (ow−1)·sw+1] with zeros between. */
function zeroInsert(g: Value, [sh, sw]: [number, number]): Value {
  const [n, o, oh, ow] = g.shape;
  const u = pad(reshape(g, [n, o, oh, 1, ow, 1]), [0, 0, 0, 0, 0, 0], [0, 0, 0, sh - 1, 0, sw - 1]);
  return slice(reshape(u, [n, o, oh * sh, ow * sw]), [0, 0], [(oh - 1) * sh + 1, (ow - 1) * sw + 1], [2, 3]);
}

function convInputGrad(g: Value, w: Value, xShape: readonly number[], a: ConvAttrs): Value {
  if (a.stride[0] === 1 && a.stride[1] === 1) return correlateBack(g, w, xShape, a);
  if (isDilated(a) || g.graph.options.lowering.conv.stridedInput === 'zeroInsert') return correlateBack(zeroInsert(g, a.stride), w, xShape, a);
  return g.graph.apply1(ConvTransposeOp, [g, w], { ...a, outHW: [xShape[2], xShape[3]] });
}

function convWeightGrad(g: Value, x: Value, wShape: readonly number[], a: ConvAttrs): Value {
  const [o, cg, kh, kw] = wShape;
  if (isDilated(a)) return convWeightGradTaps(g, x, wShape, a);
  const strided = a.stride[0] > 1 || a.stride[1] > 1;
  const lowering = g.graph.options.lowering.conv;
  let choice = cg === 1 ? lowering.depthwiseWeight : lowering.denseWeight;
  if (choice === 'auto') choice = strided ? 'conv' : 'rows';
  if (cg === 1 && o === x.shape[1] && kh * kw > 1 && choice === 'rows') return depthwiseWeightGradRows(g, x, wShape, a);
  const useConv = kh * kw > 1 && choice === 'conv';
  return useConv ? convWeightGradConv(g, x, wShape, a) : convWeightGradTaps(g, x, wShape, a);
}

/** Input padded (and cropped) to exactly the extent the forward conv read: [N, C, (oh−1)·sh+kh, (ow−1)·sw+kw]. */
function paddedInput(x: Value, g: Value, kh: number, kw: number, a: ConvAttrs): Value {
  const { x: xc, pads } = readExtent(x, g, kh, kw, a);
  return pad(xc, [0, 0, pads[0], pads[1]], [0, 0, pads[2], pads[3]]);
}

/** The rows/cols of x the forward conv read, as (x cropped where it never read the end, pads). */
function readExtent(x: Value, g: Value, kh: number, kw: number, a: ConvAttrs): { x: Value; pads: [number, number, number, number] } {
  const [, , oh, ow] = g.shape;
  const needH = (oh - 1) * a.stride[0] + span(kh, dil(a)[0]);
  const needW = (ow - 1) * a.stride[1] + span(kw, dil(a)[1]);
  const [pt, pl] = a.pads;
  const pb = needH - pt - x.shape[2];
  const pr = needW - pl - x.shape[3];
  const xc = pb < 0 || pr < 0 ? slice(x, [0, 0], [x.shape[2] + Math.min(0, pb), x.shape[3] + Math.min(0, pr)], [2, 3]) : x;
  return { x: xc, pads: [pt, pl, Math.max(0, pb), Math.max(0, pr)] };
}

/**
 * The weight gradient as one Conv whose kernel is the output gradient (dilation = stride):
 * - depthwise (one input channel per group): N·C groups over x viewed as [1, N·C, H, W] (no
 *   transposes), kernels g as [N·O, 1, oh, ow], then a small sum over the batch;
 * - otherwise dW[o, ci] = Σ_n x[n, γ·cg + ci] ⋆ g[n, o]: input [cg, G·N, H, W] (batch and channels
 *   swapped), kernel g as [O, N, oh, ow], groups G; output [cg, O, kh, kw].
 * Padding is the Conv's own (no padded copy of x).
 */
function convWeightGradConv(g: Value, x: Value, wShape: readonly number[], a: ConvAttrs): Value {
  const [o, cg, kh, kw] = wShape;
  const [n, c] = x.shape;
  const G = a.groups;
  const { x: xr, pads } = readExtent(x, g, kh, kw, a);
  const [, , h, w] = xr.shape;
  const [, , oh, ow] = g.shape;
  if (cg === 1) {
    const k = reshape(g, [n * o, 1, oh, ow]);
    const dw = g.graph.apply1(Conv2dRawOp, [reshape(xr, [1, n * c, h, w]), k], { groups: n * c, dilation: a.stride, pads });
    return reshape(reduceSum(reshape(dw, [n, o, kh * kw]), [0]), [o, 1, kh, kw]);
  }
  const xt = reshape(transpose(reshape(xr, [n, G, cg, h, w]), [2, 1, 0, 3, 4]), [cg, G * n, h, w]);
  const gt = transpose(g, [1, 0, 2, 3]);
  const dw = g.graph.apply1(Conv2dRawOp, [xt, gt], { groups: G, dilation: a.stride, pads });
  return transpose(dw, [1, 0, 2, 3]);
}

/**
 * Depthwise weight gradient as matrix products, one per kernel row i, batched over channels:
 *   M_i = P_iᵀ·G  with P_i = rows i, i+s, … of the padded input [C, N·oh, Wp] and G = the output
 *   gradient [C, N·oh, ow]  (the batch and the output rows are the contraction),
 *   dW[c, i, j] = Σ_w M_i[c, s·w + j, w]  — a strided diagonal of M_i, read by one strided Slice.
 * The data is read about kh times instead of the kh·kw-fold copy a Conv's im2col makes.
 */
function depthwiseWeightGradRows(g: Value, x: Value, wShape: readonly number[], a: ConvAttrs): Value {
  const [o, , kh, kw] = wShape;
  const [n] = x.shape;
  const [, , oh, ow] = g.shape;
  const [sh, sw] = a.stride;
  const xp = transpose(paddedInput(x, g, kh, kw, a), [1, 0, 2, 3]); // [C, N, Hp, Wp]
  const wp = xp.shape[3];
  const gt = reshape(transpose(g, [1, 0, 2, 3]), [o, n * oh, ow]);
  const taps: Value[] = [];
  for (let i = 0; i < kh; i++) {
    const rows = reshape(slice(xp, [i], [i + (oh - 1) * sh + 1], [2], [sh]), [o, n * oh, wp]);
    const m = reshape(matmul(transpose(rows, [0, 2, 1]), gt), [o, wp * ow]);
    for (let j = 0; j < kw; j++) {
      const step = sw * ow + 1;
      taps.push(reduceSum(slice(m, [j * ow], [j * ow + (ow - 1) * step + 1], [1], [step]), [1], true));
    }
  }
  return reshape(concat(taps, 1), [o, 1, kh, kw]);
}

function convWeightGradTaps(g: Value, x: Value, wShape: readonly number[], a: ConvAttrs): Value {
  const [o, cg, kh, kw] = wShape;
  const [n, c] = x.shape;
  const [, , oh, ow] = g.shape;
  const G = a.groups;
  const [sh, sw] = a.stride;
  const xp = paddedInput(x, g, kh, kw, a);
  const hw = oh * ow;
  if (kh * kw === 1 && cg > 1 && hw * (o / G + cg) < (o / G) * cg) {
    // Small maps (e.g. the 2x2..8x8 maps of the v2 attention): batch folded into ONE GEMM per group,
    // [G, o/G, N·hw] x [G, N·hw, cg], instead of N tiny GEMMs and a sum over the batch.
    const xs = slice(xp, [0, 0], [(oh - 1) * sh + 1, (ow - 1) * sw + 1], [2, 3], [sh, sw]);
    const gm = reshape(transpose(reshape(g, [n, G, o / G, hw]), [1, 2, 0, 3]), [G, o / G, n * hw]);
    const xm = reshape(transpose(reshape(xs, [n, G, cg, hw]), [1, 0, 3, 2]), [G, n * hw, cg]);
    return reshape(matmul(gm, xm), [o, cg, 1, 1]);
  }
  const taps: Value[] = [];
  const depthwise = cg === 1;
  const gg = depthwise ? reshape(g, [n, c, o / c, hw]) : reshape(g, [n, G, o / G, hw]);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const [yi, xj] = [i * dil(a)[0], j * dil(a)[1]];
      const xs = slice(xp, [yi, xj], [yi + (oh - 1) * sh + 1, xj + (ow - 1) * sw + 1], [2, 3], [sh, sw]);
      if (depthwise) {
        // one input channel per group: a broadcast product summed over batch and pixels -> [C, mult]
        const prod = mul(gg, reshape(xs, [n, c, 1, hw]));
        taps.push(reshape(reduceSum(prod, [0, 3]), [o, 1, 1]));
      } else {
        const xt = transpose(reshape(xs, [n, G, cg, hw]), [0, 1, 3, 2]);
        taps.push(reshape(reduceSum(matmul(gg, xt), [0]), [o, cg, 1]));
      }
    }
  }
  return reshape(concat(taps, 2), [o, cg, kh, kw]);
}
