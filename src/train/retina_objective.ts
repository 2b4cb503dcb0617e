/**
 * RetinaNet's training loss as torchvision 0.14 computes it (`RetinaNetHead.compute_loss`), as a train
 * step Objective. Matching (Matcher(0.5, 0.4, low-quality matches) on box IoU) and box encoding run on
 * the host, per image, into one packed target tensor [B, A, 7]:
 *
 *   0: class of the matched gt (foreground anchors; 0 elsewhere)    1: valid (matched ≠ −2, not ignored)
 *   2: foreground (matched ≥ 0)                                     3–6: encode(matched gt, anchor)
 *
 * In the graph, per image b with n_b = max(1, #foreground):
 *   classification_b = Σ_{valid anchors, all classes} focal(x, onehot) / n_b,  focal = BCE·(1−p_t)^2·α_t
 *   box_b            = Σ_{foreground anchors, 4 coords} |bbox_regression − target| / n_b   (L1)
 *   loss = mean_b classification_b + Σ_b box_b / max(1, B)
 */
import type { Graph, Value } from '../graph/ir.js';
import { add, compare, div, exp, log, maximum, mul, neg, relu, sigmoid, sub } from '../graph/ops/elementwise.js';
import { reduceSum } from '../graph/ops/reduce.js';
import { reshape, slice } from '../graph/ops/shape.js';
import { retinaEncode, retinaMatch } from '../detect/retinanet.js';
import type { NetworkOutput } from '../models/types.js';
import { HybridVisionError, type HostTensor } from '../tensor.js';
import type { Objective } from './objective.js';

/** Columns of the packed target. */
export const RETINA_TARGET_COLUMNS = 7;

/** One image's ground truth: boxes [n, 4] x1 y1 x2 y2 in pixels of the padded batch, labels [n]. */
export interface BoxTargets {
  boxes: Float32Array;
  labels: ArrayLike<number>;
}

/**
 * Host side: matches every image's boxes to the anchors and packs the step's target [B, A, 7]. Also
 * returns the matched indices (for checks and logging).
 */
export function retinaTrainTargets(images: readonly BoxTargets[], anchors: Float32Array, numClasses: number): { target: HostTensor; matched: Int32Array[] } {
  const A = anchors.length / 4;
  const K = RETINA_TARGET_COLUMNS;
  const data = new Float32Array(images.length * A * K);
  const matched = images.map((im, b) => {
    const n = im.labels.length;
    if (im.boxes.length !== 4 * n) throw new HybridVisionError(`image ${b}: ${im.boxes.length / 4} boxes for ${n} labels`);
    for (let i = 0; i < n; i++) {
      const l = Number(im.labels[i]);
      if (!Number.isInteger(l) || l < 0 || l >= numClasses) throw new HybridVisionError(`image ${b}: label ${l} outside [0, ${numClasses})`);
    }
    const m = n ? retinaMatch(im.boxes, anchors) : new Int32Array(A).fill(-1);
    const fg: number[] = [];
    for (let a = 0; a < A; a++) if (m[a] >= 0) fg.push(a);
    const gt = new Float32Array(fg.length * 4);
    const an = new Float32Array(fg.length * 4);
    fg.forEach((a, j) => {
      gt.set(im.boxes.subarray(4 * m[a], 4 * m[a] + 4), 4 * j);
      an.set(anchors.subarray(4 * a, 4 * a + 4), 4 * j);
    });
    const enc = retinaEncode(gt, an);
    const base = b * A * K;
    for (let a = 0; a < A; a++) data[base + a * K + 1] = m[a] === -2 ? 0 : 1;
    fg.forEach((a, j) => {
      const o = base + a * K;
      data[o] = Number(im.labels[m[a]]);
      data[o + 2] = 1;
      data.set(enc.subarray(4 * j, 4 * j + 4), o + 3);
    });
    return m;
  });
  return { target: { dtype: 'float32', shape: [images.length, A, K], data }, matched };
}

/** |x| with torch's gradient (0 at 0): max(x, −x) splits the tie evenly. */
const abs = (x: Value): Value => maximum(x, neg(x));

/** The two loss terms (each a scalar) of cls_logits [B, A, C] and bbox_regression [B, A, 4] against the packed target. */
export function retinaLossTerms(cls: Value, reg: Value, target: Value, alpha = 0.25): { classification: Value; boxRegression: Value } {
  const [B, A, C] = cls.shape;
  const g: Graph = cls.graph;
  const col = (i: number, n = 1) => slice(target, [i], [i + n], [2]);
  const classes = g.constant({ dtype: 'float32', shape: [1, 1, C], data: Float32Array.from({ length: C }, (_, i) => i) });
  const fg = col(2);
  const t = mul(compare(col(0), classes, 'eq'), fg); // one-hot at the matched label, foreground only
  const valid = col(1);
  // BCE with logits: relu(x) − x·t + log(1 + exp(−|x|))
  const ce = add(sub(relu(cls), mul(cls, t)), log(add(exp(neg(abs(cls))), 1)));
  const p = sigmoid(cls);
  // 1 − p_t = p + t − 2·p·t
  const q = sub(add(p, t), mul(mul(p, t), 2));
  const alphaT = add(mul(t, 2 * alpha - 1), 1 - alpha);
  const focal = mul(mul(ce, mul(q, q)), mul(alphaT, valid));
  const norm = maximum(reduceSum(fg, [1, 2]), 1); // [B]
  // Over the classes, then the anchors: one ReduceSum over all A·C (630k) terms of an image accumulates
  // in float32 one by one and drifts by 3e-5 relative (4.4e-4 on the golden loss, beyond its tolerance).
  const clsPer = div(reduceSum(reduceSum(focal, [2]), [1]), norm);
  const l1 = mul(abs(sub(reg, col(3, 4))), fg);
  const boxPer = div(reduceSum(l1, [1, 2]), norm);
  if (A !== target.shape[1] || B !== target.shape[0]) throw new HybridVisionError('RetinaNet loss: target does not match the head outputs');
  return { classification: mul(reduceSum(clsPer, [0]), 1 / B), boxRegression: mul(reduceSum(boxPer, [0]), 1 / Math.max(1, B)) };
}

/** The RetinaNet train objective: input `retina_targets` [B, A, 7] (retinaTrainTargets). */
export function retinaObjective(alpha = 0.25): Objective {
  return {
    build(g, out: NetworkOutput) {
      const reg = out.features.find((f) => f.name === 'bbox_regression')?.value;
      if (!reg || out.logits.rank !== 3) throw new HybridVisionError('the RetinaNet objective needs a RetinaNet network (cls_logits [B, A, C] and bbox_regression)');
      const [B, A] = out.logits.shape;
      const target = g.input('retina_targets', [B, A, RETINA_TARGET_COLUMNS]);
      const { classification, boxRegression } = retinaLossTerms(out.logits, reg, target, alpha);
      return { target, loss: reshape(add(classification, boxRegression), []) };
    },
    feed(t, shapes) {
      const h = t as HostTensor;
      if (!h || h.dtype !== 'float32' || h.shape.join(',') !== shapes.target.join(',')) throw new HybridVisionError(`RetinaNet targets must be float32 [${shapes.target.join(', ')}] (retinaTrainTargets)`);
      return h;
    },
  };
}
