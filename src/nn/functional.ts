/** Composite functions built from primitive ops; their gradients follow by autodiff. */
import type { HostTensor } from '../tensor.js';
import type { Value } from '../graph/ir.js';
import { add, clip, erf, hardSigmoid, mul } from '../graph/ops/elementwise.js';
import { matmul } from '../graph/ops/matmul.js';
import { reshape, transpose } from '../graph/ops/shape.js';
import { siluOp } from '../graph/ops/activation.js';
import { batchNormTrainCompositeOp, batchNormTrainOp } from '../graph/ops/batchnorm.js';

/** SiLU as one op with a fused gradient (graph/ops/activation.ts). */
export const silu = (x: Value): Value => siluOp(x);
export const relu6 = (x: Value): Value => clip(x, 0, 6);
export const hardSwish = (x: Value): Value => mul(x, hardSigmoid(x));
/** Exact (erf) GELU, as torch's default. */
export const gelu = (x: Value): Value => mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));

/** y = x W^T + b with W stored [out, in] as in PyTorch. */
export function linear(x: Value, w: Value, b: Value | null): Value {
  const y = matmul(x, transpose(w, [1, 0]));
  return b ? add(y, b) : y;
}

/** ChannelShuffle(g): view channels as [g, C/g], transpose, flatten. */
export function channelShuffle(x: Value, groups: number): Value {
  if (groups <= 1) return x;
  const [n, c, h, w] = x.shape;
  return reshape(transpose(reshape(x, [n, groups, c / groups, h, w]), [0, 2, 1, 3, 4]), [n, c, h, w]);
}

/** The [out, in] matrix of torch's 1-D bilinear interpolation (no antialias). */
export function bilinearMatrix(inSize: number, outSize: number, alignCorners: boolean): HostTensor {
  const m = new Float32Array(outSize * inSize);
  const scale = alignCorners ? (outSize > 1 ? (inSize - 1) / (outSize - 1) : 0) : inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    let src = alignCorners ? o * scale : Math.max((o + 0.5) * scale - 0.5, 0);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    const l1 = src - i0;
    m[o * inSize + i0] += 1 - l1;
    m[o * inSize + i1] += l1;
  }
  return { dtype: 'float32', shape: [outSize, inSize], data: m };
}

/** Bilinear resize of an NCHW map as two products with interpolation matrices (exactly differentiable). */
export function resizeBilinear(x: Value, outH: number, outW: number, alignCorners: boolean): Value {
  const [, , h, w] = x.shape;
  let y = x;
  if (w !== outW) y = matmul(y, x.graph.constant(transposed(bilinearMatrix(w, outW, alignCorners))));
  if (h !== outH) y = matmul(x.graph.constant(bilinearMatrix(h, outH, alignCorners)), y);
  return y;
}

function transposed(t: HostTensor): HostTensor {
  const [r, c] = t.shape;
  const src = t.data as Float32Array;
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = src[i * c + j];
  return { dtype: 'float32', shape: [c, r], data: out };
}

export interface BatchNormParams {
  weight: Value;
  bias: Value;
  runningMean: Value;
  runningVar: Value;
}

/**
 * Train-mode BatchNorm over axis 1: normalise with the batch mean and biased variance, and return the
 * running statistics moved by `momentum` towards the batch mean and unbiased variance.
 */
export function batchNormTrain(x: Value, p: BatchNormParams, eps: number, momentum: number): { y: Value; mean: Value; var: Value } {
  // One op with a hand-written gradient (graph/ops/batchnorm.ts); the composite below is the reference.
  return batchNormTrainOp(x, p.weight, p.bias, p.runningMean, p.runningVar, eps, momentum);
}

/** The same train-mode BatchNorm as a composite of primitive ops (reference for tests and benchmarks). */
export function batchNormTrainComposite(x: Value, p: BatchNormParams, eps: number, momentum: number): { y: Value; mean: Value; var: Value } {
  return batchNormTrainCompositeOp(x, p.weight, p.bias, p.runningMean, p.runningVar, eps, momentum);
}
