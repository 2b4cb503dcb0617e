/**
 * 2-D convolution (NCHW, OIHW weights, groups). The gradient is lowered for speed: the input
 * gradient of a stride-1 conv is a Conv with the flipped, group-transposed kernel, of a strided conv
 * a ConvTranspose; the weight gradient sums one shifted product per kernel tap.
 */
import { HybridVisionError } from '../../tensor.js';
import { shapeError, type Value } from '../ir.js';
import type { OpDef } from '../op.js';
import { attr } from '../op.js';
import { mul } from './elementwise.js';
import { matmul } from './matmul.js';
import { reduceSum } from './reduce.js';
import { concat, pad, reshape, slice, transpose } from './shape.js';

export interface ConvAttrs {
  stride: [number, number];
  /** top, left, bottom, right */
  pads: [number, number, number, number];
  groups: number;
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
    const oh = convOutSize(h, kh, a.stride[0], a.pads[0], a.pads[2]);
    const ow = convOutSize(wd, kw, a.stride[1], a.pads[1], a.pads[3]);
    if (oh < 1 || ow < 1) shapeError('conv2d', `input ${h}x${wd} is too small for a ${kh}x${kw} kernel`);
    return [{ shape: [n, o, oh, ow], dtype: x.dtype }];
  },
  lower: (ctx, n) => {
    const [kh, kw] = n.inputs[1].shape.slice(2);
    ctx.emit('Conv', n.inputs.map((v) => ctx.name(v)), [ctx.name(n.outputs[0])], {
      kernel_shape: attr.ints([kh, kw]),
      strides: attr.ints(n.attrs.stride),
      pads: attr.ints([n.attrs.pads[0], n.attrs.pads[1], n.attrs.pads[2], n.attrs.pads[3]]),
      dilations: attr.ints([1, 1]),
      group: attr.int(n.attrs.groups),
    });
  },
  vjp: (n, [g]) => {
    if (!g) return n.inputs.map(() => null);
    const [x, w, b] = n.inputs;
    return [convInputGrad(g, w, x.shape, n.attrs), convWeightGrad(g, x, w.shape, n.attrs), b ? reduceSum(g, [0, 2, 3]) : null];
  },
  madds: (n) => {
    const [, cg, kh, kw] = n.inputs[1].shape;
    return n.outputs[0].size * cg * kh * kw;
  },
};

export function conv2d(x: Value, w: Value, b: Value | null, a: ConvAttrs): Value {
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
  vjp: () => {
    throw new HybridVisionError('second-order gradients of convolutions are not supported');
  },
  madds: (n) => {
    const [, cg, kh, kw] = n.inputs[1].shape;
    return n.inputs[0].size * cg * kh * kw;
  },
};

function convInputGrad(g: Value, w: Value, xShape: readonly number[], a: ConvAttrs): Value {
  const [o, cg, kh, kw] = w.shape;
  const G = a.groups;
  if (a.stride[0] === 1 && a.stride[1] === 1) {
    // dx = correlate(g, flip(w) with in/out swapped per group), padded by k-1-p on each side.
    let wt = reshape(w, [G, o / G, cg, kh, kw]);
    wt = reshape(transpose(wt, [0, 2, 1, 3, 4]), [G * cg, o / G, kh, kw]);
    wt = slice(wt, [kh - 1, kw - 1], [-kh - 1, -kw - 1], [2, 3], [-1, -1]);
    const [pt, pl, pb, pr] = a.pads;
    const dx = conv2d(g, wt, null, { stride: [1, 1], pads: [kh - 1 - pt, kw - 1 - pl, kh - 1 - pb, kw - 1 - pr], groups: G });
    // Rows/cols the forward conv never read (when padding trimmed them) get zero gradient.
    return dx.shape[2] === xShape[2] && dx.shape[3] === xShape[3] ? dx : pad(dx, [0, 0, 0, 0], [0, 0, xShape[2] - dx.shape[2], xShape[3] - dx.shape[3]]);
  }
  return g.graph.apply1(ConvTransposeOp, [g, w], { ...a, outHW: [xShape[2], xShape[3]] });
}

function convWeightGrad(g: Value, x: Value, wShape: readonly number[], a: ConvAttrs): Value {
  const [o, cg, kh, kw] = wShape;
  const [n, c] = x.shape;
  const [, , oh, ow] = g.shape;
  const G = a.groups;
  const [sh, sw] = a.stride;
  const [pt, pl] = a.pads;
  const needH = (oh - 1) * sh + kh;
  const needW = (ow - 1) * sw + kw;
  const xp = pad(x, [0, 0, pt, pl], [0, 0, Math.max(0, needH - pt - x.shape[2]), Math.max(0, needW - pl - x.shape[3])]);
  const hw = oh * ow;
  const taps: Value[] = [];
  const depthwise = cg === 1;
  const gg = depthwise ? reshape(g, [n, c, o / c, hw]) : reshape(g, [n, G, o / G, hw]);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const xs = slice(xp, [i, j], [i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1], [2, 3], [sh, sw]);
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
