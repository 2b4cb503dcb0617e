/**
 * torchvision 0.14 GeneralizedRCNNTransform on the host (RetinaNet's input side and its box
 * post-scaling): normalise in float32, resize by min(min_size/short, max_size/long) (bilinear,
 * align_corners=False, output floor(size·scale)), zero-pad the batch bottom/right to a multiple of 32.
 */
import { HybridVisionError } from '../tensor.js';
import { resizeBilinear } from '../segment/host.js';

const f = Math.fround;

export interface RcnnTransformOptions {
  minSize: number;
  maxSize: number;
  mean: [number, number, number];
  std: [number, number, number];
  sizeDivisible: number;
}

/** retinanet_resnet50_fpn's deployment defaults. */
export const RCNN_TRANSFORM_DEFAULTS: RcnnTransformOptions = { minSize: 800, maxSize: 1333, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], sizeDivisible: 32 };

export interface ChwImage {
  /** 3 × height × width floats (0..1) */
  data: Float32Array;
  height: number;
  width: number;
}

/** The resize scale in float32, as torchvision computes it. */
export function rcnnScale(height: number, width: number, minSize: number, maxSize: number): number {
  const mn = f(Math.min(height, width));
  const mx = f(Math.max(height, width));
  return Math.min(f(f(minSize) / mn), f(f(maxSize) / mx));
}

export interface RcnnBatch {
  /** [B, 3, Hp, Wp] */
  batch: Float32Array;
  paddedHeight: number;
  paddedWidth: number;
  /** per image (H, W) after resizing, before padding: the clip size of the post-processing */
  imageSizes: [number, number][];
  originalSizes: [number, number][];
}

export function rcnnTransform(images: ChwImage[], opts: RcnnTransformOptions = RCNN_TRANSFORM_DEFAULTS): RcnnBatch {
  if (images.length === 0) throw new HybridVisionError('RetinaNet transform: no images');
  const resized = images.map((im) => {
    if (im.data.length !== 3 * im.height * im.width) throw new HybridVisionError(`RetinaNet transform: an image has ${im.data.length} values for 3x${im.height}x${im.width}`);
    const x = new Float32Array(im.data.length);
    const hw = im.height * im.width;
    for (let c = 0; c < 3; c++) {
      const m = f(opts.mean[c]);
      const s = f(opts.std[c]);
      for (let p = 0; p < hw; p++) x[c * hw + p] = f(f(im.data[c * hw + p] - m) / s);
    }
    const scale = rcnnScale(im.height, im.width, opts.minSize, opts.maxSize);
    const H = Math.floor(im.height * scale);
    const W = Math.floor(im.width * scale);
    if (H === im.height && W === im.width) return { data: x, height: H, width: W };
    return { data: resizeBilinear(x, 1, 3, im.height, im.width, H, W, false), height: H, width: W };
  });
  const d = opts.sizeDivisible;
  const Hp = Math.ceil(Math.max(...resized.map((r) => r.height)) / d) * d;
  const Wp = Math.ceil(Math.max(...resized.map((r) => r.width)) / d) * d;
  const batch = new Float32Array(images.length * 3 * Hp * Wp);
  resized.forEach((r, b) => {
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < r.height; y++) batch.set(r.data.subarray((c * r.height + y) * r.width, (c * r.height + y + 1) * r.width), ((b * 3 + c) * Hp + y) * Wp);
  });
  return { batch, paddedHeight: Hp, paddedWidth: Wp, imageSizes: resized.map((r) => [r.height, r.width]), originalSizes: images.map((im) => [im.height, im.width]) };
}

/** transform.postprocess: boxes (x1, y1, x2, y2) in the resized image → the original image (float32 ratios). */
export function rcnnRescaleBoxes(boxes: Float32Array, resized: [number, number], original: [number, number]): Float32Array {
  const rh = f(f(original[0]) / f(resized[0]));
  const rw = f(f(original[1]) / f(resized[1]));
  const o = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    o[i] = f(boxes[i] * rw);
    o[i + 1] = f(boxes[i + 1] * rh);
    o[i + 2] = f(boxes[i + 2] * rw);
    o[i + 3] = f(boxes[i + 3] * rh);
  }
  return o;
}
