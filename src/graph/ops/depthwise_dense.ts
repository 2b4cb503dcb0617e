/**
 * A depthwise convolution on a small feature map as per-channel matrix products. onnxruntime runs a
 * grouped Conv (and ConvTranspose) on CPU as one small im2col + GEMM per (image, group); in training
 * graphs the weights are inputs, so its blocked-layout rewrite does not apply, and on 2x2 ... 8x8
 * maps those per-group calls, not arithmetic, set the time (e.g. 2 ms for the strided input
 * gradient of a [32, 384, 4, 4] map). Here each channel's conv is one dense [oh·ow, H·W] matrix
 *   M[c] = w[c, :] · E      (E: the constant one-hot map from kernel tap to (output, input) pair)
 * and y[:, c] = x[:, c] · M[c]ᵀ is one batched matrix product over channels. The forward pass, the
 * input gradient and the weight gradient are then all matrix products (autodiff through matmul),
 * each a single engine call.
 */
import type { Value } from '../ir.js';
import type { ConvAttrs } from './conv.js';
import { add } from './elementwise.js';
import { matmul } from './matmul.js';
import { reshape, transpose } from './shape.js';

/** E [kh·kw, oh·ow·H·W]: 1 where output pixel p reads input pixel q through tap k. */
function tapMatrix(h: number, w: number, kh: number, kw: number, a: ConvAttrs, oh: number, ow: number): Float32Array {
  const hw = h * w;
  const e = new Float32Array(kh * kw * oh * ow * hw);
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const k = i * kw + j;
      for (let py = 0; py < oh; py++) {
        const qy = py * a.stride[0] - a.pads[0] + i * (a.dilation?.[0] ?? 1);
        if (qy < 0 || qy >= h) continue;
        for (let px = 0; px < ow; px++) {
          const qx = px * a.stride[1] - a.pads[1] + j * (a.dilation?.[1] ?? 1);
          if (qx < 0 || qx >= w) continue;
          e[k * oh * ow * hw + (py * ow + px) * hw + qy * w + qx] = 1;
        }
      }
    }
  }
  return e;
}

/** Depthwise conv (weight [C, 1, kh, kw], groups = C) as per-channel dense matrices; output [N, C, oh, ow]. */
export function depthwiseConvDense(x: Value, w: Value, b: Value | null, a: ConvAttrs, oh: number, ow: number): Value {
  const [n, c, h, wd] = x.shape;
  const [, , kh, kw] = w.shape;
  const hw = h * wd;
  const key = `depthwise_taps:${[h, wd, kh, kw, oh, ow, ...a.stride, ...a.pads, ...(a.dilation ?? [1, 1])]}`;
  const e = x.graph.cachedConstant(key, () => ({ dtype: 'float32', shape: [kh * kw, oh * ow * hw], data: tapMatrix(h, wd, kh, kw, a, oh, ow) }));
  const m = reshape(matmul(reshape(w, [c, kh * kw]), e), [c, oh * ow, hw]);
  const xc = transpose(reshape(x, [n, c, hw]), [1, 0, 2]); // [C, N, HW]
  const y = matmul(xc, transpose(m, [0, 2, 1])); // [C, N, oh·ow]
  const out = reshape(transpose(y, [1, 0, 2]), [n, c, oh, ow]);
  return b ? add(out, reshape(b, [1, c, 1, 1])) : out;
}
