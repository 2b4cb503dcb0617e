/**
 * Training tasks for the dense models (see ./task.ts): semantic segmentation (per-pixel CE, mIoU),
 * SSD detection (multibox loss on host-matched targets, COCO mAP of the post-processed detections)
 * and RetinaNet detection (focal + L1 on host-matched targets, COCO mAP). Augmentation: horizontal
 * flip of image and boxes / label map.
 */
import type { Normalize } from '../data/augment.js';
import { copyLabelMap, renderDense } from '../data/dense_augment.js';
import { flipBoxes, type DetectionDataset, type SegmentationDataset } from '../data/dense_dataset.js';
import { retinaAnchors, retinaGridSizes, retinaPostprocess, RETINA_POSTPROCESS_DEFAULTS } from '../detect/retinanet.js';
import { ssdGridSizes, ssdPostprocess, type Detections } from '../detect/ssd.js';
import { ssdTargets } from '../detect/targets.js';
import { cocoEvaluate, STATS_NAMES, type CocoAnnotation, type CocoDetection, type CocoGroundTruth } from '../eval/coco_eval.js';
import { toCocoResults } from '../eval/coco_results.js';
import { ConfusionMatrix } from '../eval/segmentation.js';
import type { HybridModel } from '../models/model.js';
import { SsdLite, ssdModelAnchors } from '../models/ssdlite.js';
import { HybridVisionError } from '../tensor.js';
import { retinaObjective, retinaTrainTargets } from './retina_objective.js';
import { segmentation } from './segmentation_objective.js';
import { ssdMultibox, ssdTargetTensor } from './ssd_objective.js';
import type { TaskEval, TrainTask } from './task.js';

export interface DenseTaskOptions {
  norm: Normalize;
  /** Random horizontal flips (default true). */
  flip?: boolean;
  /** Evaluation batch size (default 16). */
  evalBatch?: number;
}

function checkSize(kind: string, ds: { size: number; count: number }, what: string): void {
  if (!Number.isInteger(ds.size) || ds.size < 32) throw new HybridVisionError(`${kind}: the ${what} images must be at least 32x32, got ${ds.size}`);
  if (ds.count < 1) throw new HybridVisionError(`${kind}: the ${what} set has no images`);
}

/** Runs the model over a dataset in batches of `eb` (the last one zero-padded) and hands each image's outputs to `each`. */
async function forEachBatch(model: HybridModel, ds: { count: number; size: number; pixels: Uint8Array; channels?: 1 | 3 }, eb: number, norm: Normalize, each: (out: Record<string, { data: unknown; shape: number[] }>, b: number, index: number) => void): Promise<void> {
  const S = ds.size;
  const per = 3 * S * S;
  const x = new Float32Array(eb * per);
  for (let from = 0; from < ds.count; from += eb) {
    const n = Math.min(eb, ds.count - from);
    x.fill(0);
    for (let b = 0; b < n; b++) renderDense(ds.pixels, from + b, S, false, x, b * per, norm, ds.channels);
    const out = await model.forwardFeatures({ dtype: 'float32', shape: [eb, 3, S, S], data: x });
    for (let b = 0; b < n; b++) each(out, b, from + b);
  }
}

/** Segmentation: labels 0..K−1 (0 = background), 255 ignored; model classes = classNames.length. */
export function segmentationTask(train: SegmentationDataset, val: SegmentationDataset | null, o: DenseTaskOptions & { ignoreIndex?: number; auxWeight?: number }): TrainTask {
  checkSize('segmentation', train, 'training');
  const S = train.size;
  if (val && val.size !== S) throw new HybridVisionError(`segmentation: validation images are ${val.size}x${val.size}, training ${S}x${S}`);
  const ignore = o.ignoreIndex ?? 255;
  const K = train.classNames.length;
  for (const ds of [train, val]) {
    if (!ds) continue;
    for (let i = 0; i < ds.labels.length; i++) {
      const l = ds.labels[i];
      if (l >= K && l !== ignore) throw new HybridVisionError(`segmentation: label value ${l} in image ${Math.floor(i / (S * S))} is outside the ${K} classes and is not the ignore index ${ignore}`);
    }
  }
  return {
    kind: 'segmentation',
    count: train.count,
    size: S,
    objective: segmentation({ ignoreIndex: ignore, auxWeight: o.auxWeight }),
    batch(indices, rand, x) {
      const B = indices.length;
      const y = new Int32Array(B * S * S);
      for (let b = 0; b < B; b++) {
        const flip = (o.flip ?? true) && rand() < 0.5;
        renderDense(train.pixels, indices[b], S, flip, x, b * 3 * S * S, o.norm, train.channels);
        copyLabelMap(train.labels, indices[b], S, flip, y, b * S * S);
      }
      return { dtype: 'int32', shape: [B, S, S], data: y };
    },
    async evaluate(model) {
      if (!val) return null;
      const cm = new ConfusionMatrix(K, ignore);
      const pred = new Int32Array(S * S);
      await forEachBatch(model, val, o.evalBatch ?? 16, o.norm, (out, b, i) => {
        const lg = out.logits.data as Float32Array;
        const plane = S * S;
        const base = b * K * plane;
        for (let p = 0; p < plane; p++) {
          let arg = 0;
          let best = lg[base + p];
          for (let c = 1; c < K; c++) {
            const v = lg[base + c * plane + p];
            if (v > best) (best = v), (arg = c);
          }
          pred[p] = arg;
        }
        cm.add(pred, val.labels.subarray(i * plane, (i + 1) * plane));
      });
      const m = cm.metrics();
      return { primary: 'mIoU', metrics: { mIoU: m.mIoU, pixelAccuracy: m.pixelAccuracy, meanClassAccuracy: m.meanClassAccuracy } };
    },
  };
}

/** COCO ground truth of a detection dataset: image ids 1..count, category id = label (1..K). */
export function cocoGroundTruth(ds: DetectionDataset): CocoGroundTruth {
  const annotations: CocoAnnotation[] = [];
  for (let i = 0; i < ds.count; i++) {
    const bx = ds.boxes[i];
    for (let k = 0; k < ds.labels[i].length; k++) {
      const [x1, y1, x2, y2] = bx.subarray(4 * k, 4 * k + 4);
      annotations.push({ id: annotations.length + 1, image_id: i + 1, category_id: ds.labels[i][k], bbox: [x1, y1, x2 - x1, y2 - y1], area: (x2 - x1) * (y2 - y1), iscrowd: 0 });
    }
  }
  return {
    images: Array.from({ length: ds.count }, (_, i) => ({ id: i + 1, width: ds.size, height: ds.size })),
    annotations,
    categories: ds.classNames.map((name, k) => ({ id: k + 1, name })),
  };
}

function checkDetection(ds: DetectionDataset, what: string): void {
  checkSize('detection', ds, what);
  const K = ds.classNames.length;
  for (let i = 0; i < ds.count; i++) {
    const bx = ds.boxes[i];
    if (bx.length !== 4 * ds.labels[i].length) throw new HybridVisionError(`detection: ${what} image ${i} has ${bx.length / 4} boxes for ${ds.labels[i].length} labels`);
    for (let k = 0; k < ds.labels[i].length; k++) {
      const l = ds.labels[i][k];
      if (!Number.isInteger(l) || l < 1 || l > K) throw new HybridVisionError(`detection: ${what} image ${i} has label ${l} outside 1..${K}`);
      const [x1, y1, x2, y2] = bx.subarray(4 * k, 4 * k + 4);
      if (!(x2 > x1 && y2 > y1) || ![x1, y1, x2, y2].every(Number.isFinite)) throw new HybridVisionError(`detection: ${what} image ${i} has a malformed box [${x1}, ${y1}, ${x2}, ${y2}]`);
    }
  }
}

function mapOf(gt: CocoGroundTruth, dets: CocoDetection[]): TaskEval {
  // no detection at all (an untrained detector below the score threshold): every AP and AR is 0
  if (dets.length === 0) return { primary: 'AP', metrics: Object.fromEntries(STATS_NAMES.map((n) => [n, 0])) };
  const r = cocoEvaluate(gt, dets);
  return { primary: 'AP', metrics: Object.fromEntries(STATS_NAMES.map((n, i) => [n, r.stats[i]])) };
}

/** Detection with a box-flipping batch; `targets` turns the (possibly flipped) pixel boxes of a batch into the objective's tensor. */
function detectionTask(kind: string, train: DetectionDataset, val: DetectionDataset | null, o: DenseTaskOptions, objective: TrainTask['objective'], targets: (boxes: Float32Array[], labels: Int32Array[]) => ReturnType<TrainTask['batch']>, detect: (out: Record<string, { data: unknown; shape: number[] }>, b: number) => { det: Detections; scale: number }): TrainTask {
  checkDetection(train, 'training');
  if (val) checkDetection(val, 'validation');
  const S = train.size;
  if (val && val.size !== S) throw new HybridVisionError(`detection: validation images are ${val.size}x${val.size}, training ${S}x${S}`);
  const gt = val ? cocoGroundTruth(val) : null;
  return {
    kind,
    count: train.count,
    size: S,
    objective,
    batch(indices, rand, x) {
      const boxes: Float32Array[] = [];
      const labels: Int32Array[] = [];
      for (let b = 0; b < indices.length; b++) {
        const i = indices[b];
        const flip = (o.flip ?? true) && rand() < 0.5;
        renderDense(train.pixels, i, S, flip, x, b * 3 * S * S, o.norm, train.channels);
        boxes.push(flip ? flipBoxes(train.boxes[i], S) : train.boxes[i]);
        labels.push(train.labels[i]);
      }
      return targets(boxes, labels);
    },
    async evaluate(model) {
      if (!val || !gt) return null;
      const dets: CocoDetection[] = [];
      await forEachBatch(model, val, o.evalBatch ?? 16, o.norm, (out, b, i) => {
        const { det, scale } = detect(out, b);
        dets.push(...toCocoResults(i + 1, det, (l) => (l >= 1 && l <= val.classNames.length ? l : null), { sx: scale, sy: scale }));
      });
      return mapOf(gt, dets);
    },
  };
}

/** SSDLite: labels 1..K, model classes K + 1 (0 = background); the model's prior boxes; `matchIou`: the matcher's IoU threshold (official 0.5). */
export function ssdTask(model: HybridModel, train: DetectionDataset, val: DetectionDataset | null, o: DenseTaskOptions & { matchIou?: number }): TrainTask {
  const net = model.net;
  if (!(net instanceof SsdLite)) throw new HybridVisionError(`${model.name} is not an SSDLite model`);
  const S = train.size;
  const anchors = ssdModelAnchors(net, model.cfg, ssdGridSizes(S, S, { outputStrides: net.cfg.outputStrides }));
  const N = anchors.length / 4;
  const C = train.classNames.length + 1;
  if (model.numClasses !== C) throw new HybridVisionError(`${model.name} has ${model.numClasses} classes, the data ${C} (with background)`);
  return detectionTask('detection', train, val, o, ssdMultibox(), (boxes, labels) => ssdTargetTensor(boxes.map((bx, b) => ssdTargets(bx, labels[b], S, S, anchors, o.matchIou ?? 0.5))), (out, b) => {
    const cls = (out.logits.data as Float32Array).subarray(b * N * C, (b + 1) * N * C);
    const reg = (out.box_regressions.data as Float32Array).subarray(b * N * 4, (b + 1) * N * 4);
    return { det: ssdPostprocess(cls, reg, anchors, C, net.postprocess), scale: S };
  });
}

/** RetinaNet: labels 1..K, model classes K + 1 (torchvision's convention: class 0 unused). S must be a multiple of 32. */
export function retinaTask(model: HybridModel, train: DetectionDataset, val: DetectionDataset | null, o: DenseTaskOptions): TrainTask {
  if (model.spec.family !== 'retinanet') throw new HybridVisionError(`${model.name} is not a RetinaNet model`);
  const S = train.size;
  if (S % 32) throw new HybridVisionError(`RetinaNet training needs a size divisible by 32, got ${S}`);
  const grids = retinaGridSizes(S, S);
  const anchors = retinaAnchors(S, S, grids);
  const perLevel = grids.map(([h, w]) => h * w * 9);
  const A = anchors.length / 4;
  const C = train.classNames.length + 1;
  if (model.numClasses !== C) throw new HybridVisionError(`${model.name} has ${model.numClasses} classes, the data ${C} (with background)`);
  return detectionTask('detection', train, val, o, retinaObjective(), (boxes, labels) => retinaTrainTargets(boxes.map((bx, b) => ({ boxes: bx, labels: labels[b] })), anchors, C).target, (out, b) => {
    const cls = (out.logits.data as Float32Array).subarray(b * A * C, (b + 1) * A * C);
    const reg = (out.bbox_regression.data as Float32Array).subarray(b * A * 4, (b + 1) * A * 4);
    return { det: retinaPostprocess(cls, reg, anchors, perLevel, [S, S], C, RETINA_POSTPROCESS_DEFAULTS).detections, scale: 1 };
  });
}
