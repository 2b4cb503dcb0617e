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
