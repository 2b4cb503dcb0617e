/**
 * In-memory detection and segmentation datasets at a fixed square input size (8-bit RGB, HWC), the
 * dense counterpart of `Dataset`. Boxes are in pixels of the resized image; label maps are resized
 * with nearest neighbour (class ids never blend).
 */
import { HybridVisionError } from '../tensor.js';
import type { RgbImage } from './image.js';
import { resize } from './resize.js';

export interface DetectionDataset {
  readonly count: number;
  readonly size: number;
  /** count × size × size × channels bytes */
  readonly pixels: Uint8Array;
  /** 3 (RGB, the default) or 1 (gray, read as R = G = B) */
  readonly channels?: 1 | 3;
  /** per image [n, 4] x1, y1, x2, y2 in pixels of the size × size image */
  readonly boxes: Float32Array[];
  /** per image labels 1..K (0 = background) */
  readonly labels: Int32Array[];
  /** K names (label k ↔ classNames[k − 1]) */
  readonly classNames: readonly string[];
}

export interface SegmentationDataset {
  readonly count: number;
  readonly size: number;
  readonly pixels: Uint8Array;
  readonly channels?: 1 | 3;
  /** count × size × size class ids (255 = ignore) */
  readonly labels: Uint8Array;
  readonly classNames: readonly string[];
}

/** Resizes an image to size × size (bilinear) and scales its boxes to match. */
export function resizeDetectionSample(img: RgbImage, boxes: Float32Array, size: number): { image: RgbImage; boxes: Float32Array } {
  const sx = size / img.width;
  const sy = size / img.height;
  const out = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    out[i] = boxes[i] * sx;
    out[i + 1] = boxes[i + 1] * sy;
    out[i + 2] = boxes[i + 2] * sx;
    out[i + 3] = boxes[i + 3] * sy;
  }
  return { image: resize(img, size, size, 'bilinear'), boxes: out };
}

/** Nearest-neighbour resize of a class map (source pixel floor((i + 0.5)·in/out)). */
export function resizeLabelMap(label: Uint8Array, width: number, height: number, outW: number, outH: number): Uint8Array {
  if (label.length !== width * height) throw new HybridVisionError(`label map has ${label.length} values for ${width}x${height}`);
  const out = new Uint8Array(outW * outH);
  for (let y = 0; y < outH; y++) {
    const sy = Math.min(height - 1, Math.floor(((y + 0.5) * height) / outH));
    for (let x = 0; x < outW; x++) out[y * outW + x] = label[sy * width + Math.min(width - 1, Math.floor(((x + 0.5) * width) / outW))];
  }
  return out;
}

/** Horizontal flip of boxes in an image of width W (x1' = W − x2, x2' = W − x1). */
export function flipBoxes(boxes: Float32Array, width: number): Float32Array {
  const o = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    o[i] = width - boxes[i + 2];
    o[i + 1] = boxes[i + 1];
    o[i + 2] = width - boxes[i];
    o[i + 3] = boxes[i + 3];
  }
  return o;
}
