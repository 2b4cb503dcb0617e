/**
 * SSD multibox objective (cvnets ssd_multibox_loss): with the matched targets of src/detect
 * (`ssdMatch`), loss = (Σ_pos smooth-L1(box_regressions − matched_locations) + Σ_{pos ∪ mined neg}
 * CE(cls_logits, matched_labels)) / max(1, #positives in the batch); the negatives are mined in the
 * graph, 3 per positive per image, by the largest background loss −log softmax[0].
 *
 * The target input `ssd_targets` [B, N, 5] holds per anchor (label, tx, ty, tw, th); `ssdTargetTensor`
 * packs the matcher's output (locations of background anchors, which the loss never reads and which
 * are −inf for an image without objects, become 0).
 */
import type { Value } from '../graph/ir.js';
import { add, clip, compare, div, maximum, mul, neg, sub } from '../graph/ops/elementwise.js';
import { hardNegativeMaskOf } from '../graph/ops/hard_negatives.js';
import { reduceSum } from '../graph/ops/reduce.js';
import { reshape, slice } from '../graph/ops/shape.js';
import { logSoftmax } from '../graph/ops/softmax.js';
import type { SsdMatch } from '../detect/ssd.js';
import { HybridVisionError, type HostTensor } from '../tensor.js';
import type { Objective } from './objective.js';

/** Packs per-image matches into the objective's target tensor [B, N, 5]. */
export function ssdTargetTensor(matches: SsdMatch[]): HostTensor & { data: Float32Array } {
  const B = matches.length;
  const N = B ? matches[0].labels.length : 0;
  const out = new Float32Array(B * N * 5);
  matches.forEach((m, b) => {
    if (m.labels.length !== N) throw new HybridVisionError('every image must be matched against the same anchors');
    for (let n = 0; n < N; n++) {
      const o = (b * N + n) * 5;
      out[o] = m.labels[n];
      if (m.labels[n] > 0) for (let k = 0; k < 4; k++) out[o + 1 + k] = m.locations[4 * n + k];
    }
  });
  return { dtype: 'float32', shape: [B, N, 5], data: out };
}

/** Smooth-L1 with β = 1: 0.5·q² + (|d| − q), q = min(|d|, 1). */
function smoothL1(d: Value): Value {
  const a = maximum(d, neg(d));
  const q = clip(a, 0, 1);
  return add(mul(mul(q, q), 0.5), sub(a, q));
}

export interface SsdObjectiveParts {
  loss: Value;
  boxSum: Value;
  clsSum: Value;
  numPos: Value;
  mask: Value;
}

/** The multibox loss and its parts: cls [B, N, C], reg [B, N, 4], targets [B, N, 5]. */
export function ssdMultiboxLossGraph(cls: Value, reg: Value, targets: Value, negPosRatio = 3): SsdObjectiveParts {
  const [B, N, C] = cls.shape;
  const labels = slice(targets, [0], [1], [2]); // [B, N, 1]
  const locs = slice(targets, [1], [5], [2]);
  const logp = logSoftmax(cls, 2);
  const pos = compare(labels, 0.5, 'gt'); // [B, N, 1]
  const pos2 = reshape(pos, [B, N]);
  const bg = reshape(neg(slice(logp, [0], [1], [2])), [B, N]);
  const numNegPerImage = mul(reduceSum(pos2, [1], true), negPosRatio); // [B, 1]
  const mask = hardNegativeMaskOf(bg, pos2, numNegPerImage);
  const classes = cls.graph.constant({ dtype: 'float32', shape: [1, 1, C], data: Float32Array.from({ length: C }, (_, i) => i) });
  const onehot = compare(labels, classes, 'eq'); // [B, N, C]
  const clsSum = neg(reduceSum(mul(mul(onehot, reshape(mask, [B, N, 1])), logp), [0, 1, 2]));
  const boxSum = reduceSum(mul(smoothL1(sub(reg, locs)), pos), [0, 1, 2]);
  const numPos = reduceSum(pos2, [0, 1]);
  const loss = div(add(boxSum, clsSum), maximum(numPos, 1));
  return { loss, boxSum, clsSum, numPos, mask };
}

export function ssdMultibox(opts: { negPosRatio?: number } = {}): Objective {
  return {
    build(g, out) {
      const reg = out.features.find((f) => f.name === 'box_regressions')?.value;
      if (!reg) throw new HybridVisionError('the SSD objective needs a network with box_regressions (an SSD detector)');
      const [B, N] = reg.shape;
      const target = g.input('ssd_targets', [B, N, 5]);
      return { target, loss: ssdMultiboxLossGraph(out.logits, reg, target, opts.negPosRatio ?? 3).loss };
    },
    feed(t, shapes) {
      const h = t as HostTensor;
      if (!h || h.dtype !== 'float32' || h.shape.join() !== shapes.target.join()) throw new HybridVisionError(`SSD targets must be float32 [${shapes.target.join(', ')}] (ssdTargetTensor of the matches)`);
      return h;
    },
  };
}
