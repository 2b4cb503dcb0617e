/**
 * Semantic-segmentation objective (cvnets v0.2 SegCrossEntropy): per-pixel cross-entropy of the
 * logits at label size, averaged over the non-ignored pixels, plus `auxWeight` × the same loss of the
 * aux logits resized bilinearly (align_corners=True) to the label size. Labels [N, H, W] int64;
 * `ignoreIndex` (255 for VOC, −1 for ADE20K's 150-class labels) and only it may lie outside [0, K).
 */
import type { Value } from '../graph/ir.js';
import { add, div, mul } from '../graph/ops/elementwise.js';
import { reduceSum } from '../graph/ops/reduce.js';
import { reshape, transpose } from '../graph/ops/shape.js';
import { logSoftmax } from '../graph/ops/softmax.js';
import { resizeBilinear } from '../nn/functional.js';
import { HybridVisionError, type HostTensor } from '../tensor.js';
import { oneHot } from './loss.js';
import type { Objective } from './objective.js';

/** Mean cross-entropy over the pixels whose label is in [0, K): logits [N, K, H, W], labels [N, H, W] int64. */
export function pixelCrossEntropy(logits: Value, labels: Value): Value {
  const [n, k, h, w] = logits.shape;
  if (labels.rank !== 3 || labels.shape[0] !== n || labels.shape[1] !== h || labels.shape[2] !== w) {
    throw new HybridVisionError(`labels [${labels.shape}] do not match logits [${logits.shape}]`);
  }
  const rows = reshape(transpose(logits, [0, 2, 3, 1]), [n * h * w, k]);
  // an ignored label matches no class: its one-hot row is zero, so it adds neither loss nor count
  const q = oneHot(reshape(labels, [n * h * w]), k);
  const nll = reduceSum(mul(q, logSoftmax(rows, 1)), [0, 1]);
  return div(mul(nll, -1), reduceSum(q, [0, 1]));
}

export interface SegmentationObjectiveOptions {
  ignoreIndex?: number;
  /** Weight of the aux head's loss (its logits are the network feature `aux_logits`); 0 leaves it out. */
  auxWeight?: number;
}

export function segmentation(opts: SegmentationObjectiveOptions = {}): Objective {
  const ignore = opts.ignoreIndex ?? 255;
  const auxWeight = opts.auxWeight ?? 0.4;
  return {
    build(g, out) {
      const [n, , h, w] = out.logits.shape;
      const target = g.input('labels', [n, h, w], 'int64');
      let loss = pixelCrossEntropy(out.logits, target);
      const aux = out.features.find((f) => f.name === 'aux_logits')?.value;
      if (auxWeight > 0 && aux) {
        const up = aux.shape[2] === h && aux.shape[3] === w ? aux : resizeBilinear(aux, h, w, true);
        loss = add(loss, mul(pixelCrossEntropy(up, target), auxWeight));
      }
      return { target, loss };
    },
    feed(t, shapes) {
      const [n, h, w] = shapes.target;
      const k = shapes.logits[1];
      const data = 'dtype' in (t as object) && 'shape' in (t as object) ? ((t as HostTensor).data as ArrayLike<number> | BigInt64Array) : (t as ArrayLike<number> | BigInt64Array);
      if (data.length !== n * h * w) throw new HybridVisionError(`expected label maps [${n}, ${h}, ${w}] (${n * h * w} values), got ${data.length}`);
      const out = new BigInt64Array(data.length);
      for (let i = 0; i < data.length; i++) {
        const y = Number(data[i]);
        if (!Number.isInteger(y) || ((y < 0 || y >= k) && y !== ignore)) throw new HybridVisionError(`label ${y} at pixel ${i} is outside [0, ${k}) and is not the ignore index ${ignore}`);
        out[i] = BigInt(y);
      }
      return { dtype: 'int64', shape: [n, h, w], data: out };
    },
  };
}
