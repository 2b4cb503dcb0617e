/**
 * Dense prediction on decoded images, shared by the pipelines and the CLI: segmentation class maps and
 * detections at each image's original size, and their Transformers.js result shapes.
 */
import type { RgbImage } from './data/image.js';
import { imageToChw, batchImages } from './data/preprocess.js';
import { resize } from './data/resize.js';
import { toPixelBoxes, type Detections } from './detect/ssd.js';
import { toDetectionObjects } from './detect/targets.js';
import { denseOutputs } from './models/dense_outputs.js';
import type { HybridModel } from './models/model.js';
import { retinaDetect } from './models/retinanet_detect.js';
import { taskOf, type Task } from './models/task.js';
import { classMap, resizeBilinear, toSegmentationObjects } from './segment/host.js';
import { HybridVisionError, type HostTensor } from './tensor.js';

export interface DetectionObject {
  label: string;
  score: number;
  box: { xmin: number; ymin: number; xmax: number; ymax: number };
}
export interface SegmentationObject {
  label: string;
  score: null;
  mask: { width: number; height: number; data: Uint8Array };
}
/** Per image: class ids (height × width) at the image's own size. */
export interface ClassMap {
  width: number;
  height: number;
  map: Uint8Array | Uint16Array;
}

export function assertTask(model: HybridModel, task: Task): void {
  const t = taskOf(model.spec);
  if (t !== task) throw new HybridVisionError(`${model.name} is an ${t} model, not ${task}`);
}

/** Class names of the model's head, one per class index (`class k` where the head has none). */
export function classNames(model: HybridModel): string[] {
  return Array.from({ length: model.numClasses }, (_, i) => model.labels?.[i] ?? `class ${i}`);
}

/** The network input of one image for DeepLabv3 / SSDLite: resized to the input size (no crop), normalised as the model's config says. */
export function denseInput(model: HybridModel, img: RgbImage): Float32Array {
  const [h, w] = model.cfg.inputSize;
  const r = img.width === w && img.height === h ? img : resize(img, w, h, model.cfg.interpolation);
  return imageToChw(r, model.cfg.mean, model.cfg.std, model.cfg.channelOrder);
}

export function denseBatch(model: HybridModel, images: RgbImage[]): HostTensor {
  const [h, w] = model.cfg.inputSize;
  return batchImages(images.map((im) => denseInput(model, im)), h, w);
}

/** Segmentation: logits at the input size, resized bilinearly (align_corners false) to each image's size, then arg-max. */
export async function segmentImages(model: HybridModel, images: RgbImage[]): Promise<ClassMap[]> {
  assertTask(model, 'image-segmentation');
  if (images.length === 0) return [];
  const logits = await model.forward(denseBatch(model, images));
  const [, C, h, w] = logits.shape;
  const data = logits.data as Float32Array;
  return images.map((im, b) => {
    const one = data.subarray(b * C * h * w, (b + 1) * C * h * w);
    const up = im.width === w && im.height === h ? one : resizeBilinear(one, 1, C, h, w, im.height, im.width, false);
    return { width: im.width, height: im.height, map: classMap(up, 1, C, im.height, im.width) };
  });
}

/** Detection with the model's official post-processing; boxes x1 y1 x2 y2 in each original image's pixels. */
export async function detectImages(model: HybridModel, images: RgbImage[]): Promise<Detections[]> {
  assertTask(model, 'object-detection');
  if (images.length === 0) return [];
  if (model.spec.family === 'retinanet') {
    const chw = images.map((im) => ({ data: imageToChw(im, [0, 0, 0], [1, 1, 1]), height: im.height, width: im.width }));
    return (await retinaDetect(model, chw)).images.map((r) => r.detections);
  }
  const out = await denseOutputs(model, denseBatch(model, images));
  return images.map((im, b) => ({
    boxes: toPixelBoxes(out[`det${b}_boxes`].data as Float32Array, im.height, im.width),
    scores: out[`det${b}_scores`].data as Float32Array,
    labels: Int32Array.from(out[`det${b}_labels`].data as BigInt64Array, Number),
    anchorIndex: Int32Array.from(out[`det${b}_anchor_index`].data as BigInt64Array, Number),
  }));
}

/** Detections with score ≥ threshold (their order kept). */
export function filterDetections(d: Detections, threshold: number): Detections {
  const keep = [...d.scores.keys()].filter((i) => d.scores[i] >= threshold);
  return {
    boxes: Float32Array.from(keep.flatMap((i) => [0, 1, 2, 3].map((j) => d.boxes[4 * i + j]))),
    scores: Float32Array.from(keep, (i) => d.scores[i]),
    labels: Int32Array.from(keep, (i) => d.labels[i]),
    anchorIndex: Int32Array.from(keep, (i) => d.anchorIndex[i]),
  };
}

export function detectionObjects(model: HybridModel, d: Detections, threshold: number): DetectionObject[] {
  return toDetectionObjects(filterDetections(d, threshold), classNames(model));
}

export function segmentationObjects(model: HybridModel, m: ClassMap): SegmentationObject[] {
  return toSegmentationObjects(m.map, m.width, m.height, classNames(model));
}
