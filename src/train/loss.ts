/**
 * Classification losses as composites of graph ops (autodiff differentiates them), plus host-side
 * helpers that build smoothed / mixed soft targets (for mixup and cutmix).
 *
 * Semantics follow torch.nn.functional.cross_entropy(logits, labels, label_smoothing=eps,
 * reduction='mean'): the smoothed target spreads eps uniformly over ALL C classes, the true class
 * included, q_c = (1 - eps)·[c = y] + eps/C, and loss = mean_b −Σ_c q_bc · log_softmax(z_b)_c.
 */
import { HybridVisionError, numel, type HostTensor } from '../tensor.js';
import type { Value } from '../graph/ir.js';
import { add, compare, mul } from '../graph/ops/elementwise.js';
import { reduceSum } from '../graph/ops/reduce.js';
import { reshape } from '../graph/ops/shape.js';
import { logSoftmax } from '../graph/ops/softmax.js';

function checkLogits(logits: Value): [number, number] {
  if (logits.rank !== 2) throw new HybridVisionError(`loss: logits must be [N, C], got [${logits.shape.join(', ')}]`);
  return [logits.shape[0], logits.shape[1]];
}

/** One-hot float32 [N, C] of int64 class indices [N], computed in the graph. */
export function oneHot(labels: Value, numClasses: number): Value {
  if (labels.dtype !== 'int64' || labels.rank !== 1) throw new HybridVisionError('oneHot: labels must be int64 [N]');
  const classes = labels.graph.constant({ dtype: 'int64', shape: [1, numClasses], data: BigInt64Array.from({ length: numClasses }, (_, i) => BigInt(i)) });
  return compare(reshape(labels, [labels.shape[0], 1]), classes, 'eq');
}

/** Soft-target cross-entropy: mean over the batch of −Σ_c q_bc · log_softmax(z_b)_c; targets [N, C]. */
export function softTargetCrossEntropy(logits: Value, targets: Value): Value {
  const [n, c] = checkLogits(logits);
  if (targets.rank !== 2 || targets.shape[0] !== n || targets.shape[1] !== c) {
    throw new HybridVisionError(`soft targets must be [${n}, ${c}], got [${targets.shape.join(', ')}]`);
  }
  return mul(reduceSum(mul(targets, logSoftmax(logits, 1)), [0, 1]), -1 / n);
}

/** Cross-entropy from int64 labels [N] with label smoothing eps (torch semantics, eps over all C classes). */
export function crossEntropy(logits: Value, labels: Value, smoothing = 0): Value {
  const [, c] = checkLogits(logits);
  if (!(smoothing >= 0 && smoothing < 1)) throw new HybridVisionError(`label smoothing must be in [0, 1), got ${smoothing}`);
  let q = oneHot(labels, c);
  if (smoothing > 0) q = add(mul(q, 1 - smoothing), smoothing / c);
  return softTargetCrossEntropy(logits, q);
}

// ---------------------------------------------------------------------------------------------
// Host-side target helpers

function labelAt(labels: ArrayLike<number> | BigInt64Array, i: number): number {
  const v = labels[i];
  return typeof v === 'bigint' ? Number(v) : (v as number);
}

/** Int64 label tensor [N] from numbers (checked against numClasses). */
export function labelTensor(labels: ArrayLike<number> | BigInt64Array, numClasses: number): HostTensor {
  const n = labels.length;
  const data = new BigInt64Array(n);
  for (let i = 0; i < n; i++) {
    const y = labelAt(labels, i);
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) throw new HybridVisionError(`label ${y} at ${i} is outside [0, ${numClasses})`);
    data[i] = BigInt(y);
  }
  return { dtype: 'int64', shape: [n], data };
}

/** Smoothed one-hot targets [N, C]: (1 − eps)·onehot + eps/C. */
export function smoothTargets(labels: ArrayLike<number> | BigInt64Array, numClasses: number, smoothing = 0): HostTensor & { data: Float32Array } {
  const n = labels.length;
  const data = new Float32Array(n * numClasses).fill(smoothing / numClasses);
  for (let i = 0; i < n; i++) {
    const y = labelAt(labels, i);
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) throw new HybridVisionError(`label ${y} at ${i} is outside [0, ${numClasses})`);
    data[i * numClasses + y] += 1 - smoothing;
  }
  return { dtype: 'float32', shape: [n, numClasses], data };
}

/**
 * Mixed targets for mixup / cutmix: lam·smooth(labelsA) + (1 − lam)·smooth(labelsB) (timm's
 * mixup_target). For cutmix, lam is the kept-area fraction.
 */
export function mixTargets(
  labelsA: ArrayLike<number> | BigInt64Array,
  labelsB: ArrayLike<number> | BigInt64Array,
  lam: number,
  numClasses: number,
  smoothing = 0,
): HostTensor & { data: Float32Array } {
  if (labelsA.length !== labelsB.length) throw new HybridVisionError('mixTargets: label lists differ in length');
  const a = smoothTargets(labelsA, numClasses, smoothing);
  const b = smoothTargets(labelsB, numClasses, smoothing);
  for (let i = 0; i < a.data.length; i++) a.data[i] = lam * a.data[i] + (1 - lam) * b.data[i];
  return a;
}

/** Host reference of the same loss (float64), for checks: mean_b −Σ_c q_bc log_softmax(z_b)_c. */
export function crossEntropyHost(logits: HostTensor, targets: HostTensor): number {
  const [n, c] = logits.shape;
  if (numel(targets.shape) !== n * c) throw new HybridVisionError('crossEntropyHost: targets must be [N, C]');
  const z = logits.data as Float32Array;
  const q = targets.data as Float32Array;
  let total = 0;
  for (let b = 0; b < n; b++) {
    let m = -Infinity;
    for (let k = 0; k < c; k++) m = Math.max(m, z[b * c + k]);
    let s = 0;
    for (let k = 0; k < c; k++) s += Math.exp(z[b * c + k] - m);
    const lse = m + Math.log(s);
    for (let k = 0; k < c; k++) total -= q[b * c + k] * (z[b * c + k] - lse);
  }
  return total / n;
}
