/**
 * A RetinaNet forward pass end to end, as torchvision's `RetinaNet.forward` in eval mode: the host
 * transform (normalise, resize, pad the batch to 32), the network graph, anchors for the padded batch
 * and the actual level grids, post-processing per image, and the boxes mapped back to each original
 * image.
 */
import { retinaAnchors, retinaPostprocess, RETINA_POSTPROCESS_DEFAULTS, type RetinaCandidates, type RetinaPostprocessOptions } from '../detect/retinanet.js';
import type { Detections } from '../detect/ssd.js';
import { rcnnRescaleBoxes, rcnnTransform, RCNN_TRANSFORM_DEFAULTS, type ChwImage, type RcnnBatch, type RcnnTransformOptions } from '../detect/retina_transform.js';
import { HybridVisionError, type HostTensor } from '../tensor.js';
import type { HybridModel } from './model.js';
import { LEVELS } from './retinanet.js';
import type { PretrainedCfg } from './types.js';

export interface RetinaImageResult {
  /** Final detections, boxes in the original image's pixels. */
  detections: Detections;
  /** Pre-NMS candidates (boxes in the resized image) and the batched-NMS keep list into them. */
  candidates: RetinaCandidates;
  nmsKeep: number[];
}

export interface RetinaRun {
  batch: RcnnBatch;
  /** Every network output by name (logits = cls_logits [B, A, C], bbox_regression, C3…P7, raw head maps). */
  outputs: Record<string, HostTensor>;
  /** [A, 4] x1 y1 x2 y2 of the padded batch, shared by every image. */
  anchors: Float32Array;
  anchorsPerLevel: number[];
  images: RetinaImageResult[];
}

/**
 * The transform a RetinaNet model's cfg implies: the zoo cfg (800², ImageNet mean/std) gives
 * torchvision's deployment defaults; a model trained here at S×S resizes the short side to S (long
 * side at most S·1333/800) with the mean/std it was trained with.
 */
export function retinaTransformOf(cfg: Pick<PretrainedCfg, 'inputSize' | 'mean' | 'std'>): RcnnTransformOptions {
  const minSize = Math.min(...cfg.inputSize);
  const maxSize = minSize === RCNN_TRANSFORM_DEFAULTS.minSize ? RCNN_TRANSFORM_DEFAULTS.maxSize : Math.round((minSize * RCNN_TRANSFORM_DEFAULTS.maxSize) / RCNN_TRANSFORM_DEFAULTS.minSize);
  return { ...RCNN_TRANSFORM_DEFAULTS, minSize, maxSize, mean: [...cfg.mean] as [number, number, number], std: [...cfg.std] as [number, number, number] };
}

export async function retinaDetect(model: HybridModel, images: ChwImage[], opts: { transform?: RcnnTransformOptions; postprocess?: RetinaPostprocessOptions } = {}): Promise<RetinaRun> {
  if (model.spec.family !== 'retinanet') throw new HybridVisionError(`${model.name} is not a RetinaNet model`);
  const batch = rcnnTransform(images, opts.transform ?? retinaTransformOf(model.cfg));
  const B = images.length;
  const { paddedHeight: Hp, paddedWidth: Wp } = batch;
  const outputs = await model.forwardFeatures({ dtype: 'float32', shape: [B, 3, Hp, Wp], data: batch.batch });
  const grids = LEVELS.map((l) => outputs[l].shape.slice(2) as [number, number]);
  const anchors = retinaAnchors(Hp, Wp, grids);
  const anchorsPerLevel = grids.map(([h, w]) => h * w * 9);
  const A = anchors.length / 4;
  const C = model.numClasses;
  const cls = outputs['logits'].data as Float32Array;
  const reg = outputs['bbox_regression'].data as Float32Array;
  const result = batch.imageSizes.map((size, b) => {
    const r = retinaPostprocess(cls.subarray(b * A * C, (b + 1) * A * C), reg.subarray(b * A * 4, (b + 1) * A * 4), anchors, anchorsPerLevel, size, C, opts.postprocess ?? RETINA_POSTPROCESS_DEFAULTS);
    const boxes = rcnnRescaleBoxes(r.detections.boxes, size, batch.originalSizes[b]);
    return { detections: { ...r.detections, boxes }, candidates: r.candidates, nmsKeep: r.nmsKeep };
  });
  return { batch, outputs, anchors, anchorsPerLevel, images: result };
}
