/** Accuracy of a model on a dataset: top-1, top-5, per-class accuracy and the confusion matrix. */
import { centerBox, renderView, type Normalize } from '../data/augment.js';
import type { Dataset } from '../data/dataset.js';
import type { HybridModel } from '../models/model.js';

export interface EvalResult {
  count: number;
  top1: number;
  top5: number;
  loss: number;
  perClass: number[];
  /** confusion[true][predicted] */
  confusion: number[][];
}

export interface ViewOptions {
  size: number;
  /** Canvas padding around the image, in source pixels (Fashion-MNIST recipes pad 28 -> 32). */
  pad: number;
  norm: Normalize;
}

/** Renders images [from, from+n) of ds (center views) into a [batch, 3, S, S] buffer; the rest stays zero. */
export function renderEvalBatch(ds: Dataset, from: number, n: number, batch: number, v: ViewOptions): Float32Array {
  const per = 3 * v.size * v.size;
  const x = new Float32Array(batch * per);
  for (let b = 0; b < n; b++) renderView(ds, from + b, centerBox(ds.width, ds.height, v.pad), false, v.size, x, b * per, v.norm);
  return x;
}

/** `onProgress(done, total)` after each batch. top5 counts the true class among the top min(5, classes). */
export async function evaluate(model: HybridModel, ds: Dataset, v: ViewOptions, batch = 100, onProgress?: (done: number, total: number) => void): Promise<EvalResult> {
  const C = model.numClasses;
  const confusion = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  let top1 = 0;
  let top5 = 0;
  let loss = 0;
  for (let from = 0; from < ds.count; from += batch) {
    const n = Math.min(batch, ds.count - from);
    const x = renderEvalBatch(ds, from, n, batch, v);
    const logits = (await model.forward({ dtype: 'float32', shape: [batch, 3, v.size, v.size], data: x })).data as Float32Array;
    for (let b = 0; b < n; b++) {
      const row = logits.subarray(b * C, (b + 1) * C);
      const y = ds.labels[from + b];
      let max = -Infinity;
      let arg = 0;
      for (let c = 0; c < C; c++) if (row[c] > max) (max = row[c]), (arg = c);
      let sum = 0;
      for (let c = 0; c < C; c++) sum += Math.exp(row[c] - max);
      loss += Math.log(sum) - (row[y] - max);
      let rank = 0;
      for (let c = 0; c < C; c++) if (row[c] > row[y]) rank++;
      if (rank === 0) top1++;
      if (rank < 5) top5++;
      confusion[y][arg]++;
    }
    onProgress?.(from + n, ds.count);
  }
  const perClass = confusion.map((r, i) => {
    const total = r.reduce((a, b) => a + b, 0);
    return total ? r[i] / total : 0;
  });
  return { count: ds.count, top1: top1 / ds.count, top5: top5 / ds.count, loss: loss / ds.count, perClass, confusion };
}
