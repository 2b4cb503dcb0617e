/**
 * Evaluation preprocessing, as timm's `transforms_imagenet_eval` on a PIL image:
 * Resize(floor(size / crop_pct)) on the short side, CenterCrop(size), ToTensor, Normalize.
 * Float arithmetic follows torch's float32 ops, so the result is bit-identical to
 * `Normalize(mean, std)(ToTensor()(img))` given the same resized 8-bit image.
 *
 * Core module: no Node built-ins.
 */

import { HybridVisionError, type HostTensor } from '../tensor.js';
import { assertRgbImage, toRgb, type RgbImage } from './image.js';
import { centerCrop, resize, resizeShortSide, roundHalfEven } from './resize.js';

export interface PreprocessConfig {
  /** [height, width] of the network input */
  inputSize: [number, number];
  /** timm crop_pct: the image is first resized to floor(inputSize / cropPct), then center-cropped */
  cropPct: number;
  interpolation: 'bilinear' | 'bicubic';
  /** per output channel (i.e. already in `channelOrder`), on the [0, 1] scale */
  mean: [number, number, number];
  std: [number, number, number];
  /** 'BGR': output channel 0 is blue */
  channelOrder: 'RGB' | 'BGR';
}

export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

/** The common ImageNet evaluation setting (224 input, crop_pct 0.875, bicubic). */
export const DEFAULT_PREPROCESS: PreprocessConfig = {
  inputSize: [224, 224],
  cropPct: 0.875,
  interpolation: 'bicubic',
  mean: IMAGENET_MEAN,
  std: IMAGENET_STD,
  channelOrder: 'RGB',
};

function checkConfig(cfg: PreprocessConfig): void {
  const [h, w] = cfg.inputSize;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) throw new HybridVisionError(`preprocess: invalid input size ${h}x${w}`);
  if (!(cfg.cropPct > 0 && cfg.cropPct <= 1)) throw new HybridVisionError(`preprocess: crop_pct must be in (0, 1], got ${cfg.cropPct}`);
  if (cfg.interpolation !== 'bilinear' && cfg.interpolation !== 'bicubic') {
    throw new HybridVisionError(`preprocess: interpolation must be 'bilinear' or 'bicubic', got '${String(cfg.interpolation)}'`);
  }
  if (cfg.channelOrder !== 'RGB' && cfg.channelOrder !== 'BGR') throw new HybridVisionError(`preprocess: channel order must be RGB or BGR, got '${String(cfg.channelOrder)}'`);
  for (let c = 0; c < 3; c++) {
    if (!Number.isFinite(cfg.mean[c]) || !Number.isFinite(cfg.std[c]) || cfg.std[c] === 0) {
      throw new HybridVisionError(`preprocess: invalid mean/std for channel ${c}`);
    }
  }
}


/**
 * The resize + center-crop half of the pipeline, as 8-bit RGB:
 * scale = floor(size / crop_pct) per side; square scale sizes use torchvision Resize(int)
 * (short side) with the configured interpolation; otherwise timm's ResizeKeepRatio (short-side
 * ratio, Python rounding), which timm builds without passing the interpolation, so bilinear.
 */
export function resizeAndCrop(img: RgbImage, cfg: PreprocessConfig): RgbImage {
  assertRgbImage(img);
  checkConfig(cfg);
  const [h, w] = cfg.inputSize;
  const sh = Math.floor(h / cfg.cropPct);
  const sw = Math.floor(w / cfg.cropPct);
  let scaled: RgbImage;
  if (sh === sw) {
    scaled = resizeShortSide(img, sh, cfg.interpolation);
  } else {
    const ratio = Math.min(img.height / sh, img.width / sw);
    const nh = roundHalfEven(img.height / ratio);
    const nw = roundHalfEven(img.width / ratio);
    scaled = nh === img.height && nw === img.width ? img : resize(img, nw, nh, 'bilinear');
  }
  return centerCrop(scaled, h, w);
}

/**
 * CHW float32 from an 8-bit RGB image of any size: x / 255, channel order, (x - mean) / std,
 * each step rounded to float32 as torch does. No resizing.
 */
export function imageToChw(img: RgbImage, mean: readonly [number, number, number], std: readonly [number, number, number], channelOrder: 'RGB' | 'BGR' = 'RGB'): Float32Array {
  assertRgbImage(img);
  const n = img.width * img.height;
  const out = new Float32Array(n * 3);
  const src = img.data;
  for (let c = 0; c < 3; c++) {
    const sc = channelOrder === 'BGR' ? 2 - c : c;
    const m = Math.fround(mean[c]!);
    const s = Math.fround(std[c]!);
    // per-value table: 256 possible inputs
    const lut = new Float32Array(256);
    for (let v = 0; v < 256; v++) lut[v] = Math.fround(Math.fround(Math.fround(v / 255) - m) / s);
    const base = c * n;
    for (let i = 0; i < n; i++) out[base + i] = lut[src[i * 3 + sc]!]!;
  }
  return out;
}

/** One image to a normalised CHW float32 array of shape [3, inputSize[0], inputSize[1]]. */
export function preprocess(img: RgbImage, cfg: PreprocessConfig): Float32Array {
  const cropped = resizeAndCrop(img, cfg);
  return imageToChw(cropped, cfg.mean, cfg.std, cfg.channelOrder);
}

/** Stacks CHW float32 images (each 3 x h x w) into a [N, 3, h, w] float32 tensor. */
export function batchImages(chws: Float32Array[], h: number, w: number): HostTensor & { data: Float32Array } {
  const per = 3 * h * w;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1) throw new HybridVisionError(`batchImages: invalid size ${h}x${w}`);
  const out = new Float32Array(per * chws.length);
  chws.forEach((chw, i) => {
    if (chw.length !== per) throw new HybridVisionError(`batchImages: image ${i} has ${chw.length} values, 3x${h}x${w} needs ${per}`);
    out.set(chw, i * per);
  });
  return { dtype: 'float32', shape: [chws.length, 3, h, w], data: out };
}

/** Gray 8-bit pixels (w * h bytes) to RGB by replication, like PIL's convert('RGB'). */
export function grayToRgb(gray: Uint8Array, w: number, h: number): RgbImage {
  if (gray.length !== w * h) throw new HybridVisionError(`grayToRgb: ${w}x${h} needs ${w * h} bytes, got ${gray.length}`);
  return toRgb(gray, w, h, 1);
}
