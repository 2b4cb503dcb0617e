/**
 * Semantic-segmentation metrics from a confusion matrix (the standard convention of
 * shared/golden/eval/README.md): ignore pixels dropped, cm[label, pred] over all images together,
 * IoU per class, mIoU over the classes present in the label or the prediction.
 */
import { HybridVisionError } from '../tensor.js';

export const IGNORE_INDEX = 255;

/** A running confusion matrix over any number of images. */
export class ConfusionMatrix {
  /** counts[label * C + pred] */
  readonly counts: Float64Array;
  constructor(
    readonly numClasses: number,
    readonly ignoreIndex: number = IGNORE_INDEX,
  ) {
    if (!Number.isInteger(numClasses) || numClasses < 1) throw new HybridVisionError(`numClasses must be a positive integer, got ${numClasses}`);
    this.counts = new Float64Array(numClasses * numClasses);
  }

  /** Adds one map (or a batch of maps flattened): pred and label hold class ids per pixel. */
  add(pred: ArrayLike<number>, label: ArrayLike<number>): this {
    if (pred.length !== label.length) throw new HybridVisionError(`prediction has ${pred.length} pixels, the label ${label.length}`);
    const C = this.numClasses;
    for (let i = 0; i < label.length; i++) {
      const l = label[i];
      if (l === this.ignoreIndex) continue;
      const p = pred[i];
      if (!(l >= 0 && l < C && Number.isInteger(l))) throw new HybridVisionError(`label value ${l} at pixel ${i} is outside the classes 0..${C - 1} (and not the ignore index ${this.ignoreIndex})`);
      if (!(p >= 0 && p < C && Number.isInteger(p))) throw new HybridVisionError(`predicted value ${p} at pixel ${i} is outside the classes 0..${C - 1}`);
      this.counts[l * C + p]++;
    }
    return this;
  }

  /** Row i, column j: pixels labelled i and predicted j. */
  at(label: number, pred: number): number {
    return this.counts[label * this.numClasses + pred];
  }

  metrics(): SegmentationMetrics {
    return segmentationMetrics(this.counts, this.numClasses);
  }
}

export interface SegmentationMetrics {
  /** Mean IoU over the classes present in the label or the prediction; NaN when no pixel is kept. */
  mIoU: number;
  /** IoU per class; null for a class absent from both label and prediction. */
  perClassIoU: (number | null)[];
  classesInUnion: number;
  /** Correct pixels over kept (non-ignored) pixels. */
  pixelAccuracy: number;
  /** Mean over classes present in the label of cm[c,c]/row_c. */
  meanClassAccuracy: number;
  keptPixels: number;
}

export function segmentationMetrics(cm: ArrayLike<number>, C: number): SegmentationMetrics {
  const row = new Float64Array(C);
  const col = new Float64Array(C);
  let total = 0;
  let trace = 0;
  for (let i = 0; i < C; i++)
    for (let j = 0; j < C; j++) {
      const v = cm[i * C + j];
      row[i] += v;
      col[j] += v;
      total += v;
      if (i === j) trace += v;
    }
  const perClassIoU: (number | null)[] = [];
  let sum = 0;
  let n = 0;
  let accSum = 0;
  let accN = 0;
  for (let c = 0; c < C; c++) {
    const d = cm[c * C + c];
    const union = row[c] + col[c] - d;
    if (union > 0) {
      const iou = d / union;
      perClassIoU.push(iou);
      sum += iou;
      n++;
    } else perClassIoU.push(null);
    if (row[c] > 0) {
      accSum += d / row[c];
      accN++;
    }
  }
  return { mIoU: n ? sum / n : NaN, perClassIoU, classesInUnion: n, pixelAccuracy: total ? trace / total : NaN, meanClassAccuracy: accN ? accSum / accN : NaN, keptPixels: total };
}

/**
 * The "iou" cvnets reports while training (metrics/intersection_over_union.py + stats.py), for
 * comparing with its logs; not the standard mIoU. Per batch: intersection, prediction and label areas
 * per class over non-ignored pixels, union = pred + label − inter + 1e-7 (float32); over batches,
 * inter·n and union·n accumulate (n = images in the batch); the result is the mean over ALL classes
 * of inter/union × 100, so a class absent from both counts as 0. cvnets prints it rounded to 4 decimals.
 */
export function cvnetsTrainingIou(batches: { pred: ArrayLike<number>; label: ArrayLike<number>; n: number }[], numClasses: number, ignoreIndex = IGNORE_INDEX): number {
  const f = Math.fround;
  const C = numClasses;
  const inter = new Float64Array(C);
  const union = new Float64Array(C);
  for (const { pred, label, n } of batches) {
    const ai = new Float64Array(C);
    const ap = new Float64Array(C);
    const al = new Float64Array(C);
    for (let i = 0; i < label.length; i++) {
      const l = label[i];
      if (l === ignoreIndex) continue;
      const p = pred[i];
      if (p >= 0 && p < C) ap[p]++;
      if (l >= 0 && l < C) al[l]++;
      if (p === l && l >= 0 && l < C) ai[l]++;
    }
    for (let c = 0; c < C; c++) {
      inter[c] = f(inter[c] + f(ai[c] * n));
      union[c] = f(union[c] + f(f(f(f(ap[c] + al[c]) - ai[c]) + f(1e-7)) * n));
    }
  }
  let s = 0;
  for (let c = 0; c < C; c++) s = f(s + f(inter[c] / union[c]));
  return f(f(s / C) * 100);
}
