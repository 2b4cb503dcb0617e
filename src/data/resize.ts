/**
 * Pillow-exact resampling of 8-bit RGB images (Pillow's `Image.resize`, libImaging/Resample.c
 * and the nearest-neighbour path of Geometry.c), plus torchvision's Resize(int) and CenterCrop
 * as applied to PIL images. Results are bit-identical to Pillow for 8-bit RGB.
 *
 * How Pillow does it, and so how this does it:
 * - separable, two passes: horizontal first (into an intermediate 8-bit image holding only the
 *   rows the vertical pass needs), then vertical; a pass is skipped when its axis is unchanged;
 * - the filter support is widened by the downscale factor (antialiasing);
 * - coefficients are computed in double, normalised to sum 1, then converted to fixed point with
 *   PRECISION_BITS = 32 - 8 - 2 (rounded half away from zero);
 * - each output sample starts at 1 << (PRECISION_BITS - 1), accumulates pixel * coefficient in
 *   integers, and is clipped to 0..255 after an arithmetic shift;
 * - the box (source region) is single precision, as in Pillow's C argument parsing.
 *
 * Core module: no Node built-ins.
 */

import { HybridVisionError } from '../tensor.js';
import { assertRgbImage, cropImage, type RgbImage } from './image.js';

export type ResampleFilter = 'nearest' | 'bilinear' | 'bicubic' | 'lanczos' | 'box' | 'hamming';

/** Source region (left, upper, right, lower) in source pixel coordinates, as in Pillow. */
export type ResizeBox = readonly [number, number, number, number];

interface Filter {
  fn: (x: number) => number;
  support: number;
}

const F32_054 = Math.fround(0.54);
const F32_046 = Math.fround(0.46);

function boxFilter(x: number): number {
  return x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
}

function bilinearFilter(x: number): number {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

function hammingFilter(x: number): number {
  if (x < 0.0) x = -x;
  if (x === 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x = x * Math.PI;
  return (Math.sin(x) / x) * (F32_054 + F32_046 * Math.cos(x));
}

function bicubicFilter(x: number): number {
  // a = -0.5, written exactly as Resample.c evaluates it
  const a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

function sincFilter(x: number): number {
  if (x === 0.0) return 1.0;
  x = x * Math.PI;
  return Math.sin(x) / x;
}

function lanczosFilter(x: number): number {
  if (-3.0 <= x && x < 3.0) return sincFilter(x) * sincFilter(x / 3);
  return 0.0;
}

const FILTERS: Record<Exclude<ResampleFilter, 'nearest'>, Filter> = {
  box: { fn: boxFilter, support: 0.5 },
  bilinear: { fn: bilinearFilter, support: 1.0 },
  hamming: { fn: hammingFilter, support: 1.0 },
  bicubic: { fn: bicubicFilter, support: 2.0 },
  lanczos: { fn: lanczosFilter, support: 3.0 },
};

const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

interface Coeffs {
  ksize: number;
  /** per output index: [xmin, count] */
  bounds: Int32Array;
  /** fixed-point coefficients, ksize per output index */
  kk: Int32Array;
}

/** Resample.c precompute_coeffs + normalize_coeffs_8bpc. in0/in1 are float32 values. */
function precomputeCoeffs(inSize: number, in0: number, in1: number, outSize: number, filter: Filter): Coeffs {
  // (double)(in1 - in0): the subtraction happens in single precision
  const scale = Math.fround(in1 - in0) / outSize;
  const filterscale = scale < 1.0 ? 1.0 : scale;
  const support = filter.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const kk = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1.0 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = in0 + (xx + 0.5) * scale;
    let ww = 0.0;
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    for (let x = 0; x < xmax; x++) {
      const w = filter.fn((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    const base = xx * ksize;
    for (let x = 0; x < xmax; x++) {
      let v = k[x]!;
      if (ww !== 0.0) v /= ww;
      kk[base + x] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    // remaining entries stay 0
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { ksize, bounds, kk };
}

function clip8(ss: number): number {
  const v = ss >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Horizontal pass: rows [offset, offset + outH) of `src` into an outW-wide image. */
function resampleHorizontal(src: RgbImage, outW: number, outH: number, offset: number, c: Coeffs): RgbImage {
  const { ksize, bounds, kk } = c;
  const inData = src.data;
  const inStride = src.width * 3;
  const out = new Uint8Array(outW * outH * 3);
  for (let yy = 0; yy < outH; yy++) {
    const rowBase = (yy + offset) * inStride;
    const outRow = yy * outW * 3;
    for (let xx = 0; xx < outW; xx++) {
      const xmin = bounds[xx * 2]!;
      const xmax = bounds[xx * 2 + 1]!;
      const kb = xx * ksize;
      let ss0 = HALF;
      let ss1 = HALF;
      let ss2 = HALF;
      let p = rowBase + xmin * 3;
      for (let x = 0; x < xmax; x++, p += 3) {
        const w = kk[kb + x]!;
        ss0 += inData[p]! * w;
        ss1 += inData[p + 1]! * w;
        ss2 += inData[p + 2]! * w;
      }
      const o = outRow + xx * 3;
      out[o] = clip8(ss0);
      out[o + 1] = clip8(ss1);
      out[o + 2] = clip8(ss2);
    }
  }
  return { width: outW, height: outH, data: out };
}

/** Vertical pass; bounds index rows of `src` directly. */
function resampleVertical(src: RgbImage, outH: number, c: Coeffs): RgbImage {
  const { ksize, bounds, kk } = c;
  const inData = src.data;
  const w3 = src.width * 3;
  const out = new Uint8Array(w3 * outH);
  for (let yy = 0; yy < outH; yy++) {
    const ymin = bounds[yy * 2]!;
    const ymax = bounds[yy * 2 + 1]!;
    const kb = yy * ksize;
    const outRow = yy * w3;
    for (let i = 0; i < w3; i++) {
      let ss = HALF;
      let p = ymin * w3 + i;
      for (let y = 0; y < ymax; y++, p += w3) ss += inData[p]! * kk[kb + y]!;
      out[outRow + i] = clip8(ss);
    }
  }
  return { width: src.width, height: outH, data: out };
}

/** Resample.c ImagingResampleInner for 8-bit RGB. box holds float32 values. */
function resampleInner(img: RgbImage, xsize: number, ysize: number, filter: Filter, box: readonly number[]): RgbImage {
  const [b0, b1, b2, b3] = box as [number, number, number, number];
  // Pillow compares box[2] / box[3] with the *output* size here; kept as is.
  const needHorizontal = xsize !== img.width || b0 !== 0 || b2 !== xsize;
  const needVertical = ysize !== img.height || b1 !== 0 || b3 !== ysize;

  const vert = precomputeCoeffs(img.height, b1, b3, ysize, filter);
  const yboxFirst = vert.bounds[0]!;
  const yboxLast = vert.bounds[ysize * 2 - 2]! + vert.bounds[ysize * 2 - 1]!;

  let cur = img;
  let done = false;
  if (needHorizontal) {
    const horiz = precomputeCoeffs(img.width, b0, b2, xsize, filter);
    for (let i = 0; i < ysize; i++) vert.bounds[i * 2] = vert.bounds[i * 2]! - yboxFirst;
    cur = resampleHorizontal(img, xsize, yboxLast - yboxFirst, yboxFirst, horiz);
    done = true;
  }
  if (needVertical) {
    cur = resampleVertical(cur, ysize, vert);
    done = true;
  }
  return done ? cur : { width: cur.width, height: cur.height, data: cur.data.slice() };
}

/** Geometry.c ImagingScaleAffine (nearest neighbour, fill 0). */
function scaleNearest(img: RgbImage, xsize: number, ysize: number, box: readonly number[]): RgbImage {
  const [b0, b1, b2, b3] = box as [number, number, number, number];
  const a0 = Math.fround(b2 - b0) / xsize;
  const a4 = Math.fround(b3 - b1) / ysize;
  const coord = (v: number): number => (v < 0.0 ? -1 : Math.trunc(v));
  const xintab = new Int32Array(xsize).fill(-1);
  let xo = b0 + a0 * 0.5;
  for (let x = 0; x < xsize; x++) {
    const xin = coord(xo);
    if (xin >= 0 && xin < img.width) xintab[x] = xin;
    xo += a0;
  }
  const out = new Uint8Array(xsize * ysize * 3);
  let yo = b1 + a4 * 0.5;
  for (let y = 0; y < ysize; y++) {
    const yi = coord(yo);
    if (yi >= 0 && yi < img.height) {
      const row = yi * img.width * 3;
      for (let x = 0; x < xsize; x++) {
        const xin = xintab[x]!;
        if (xin < 0) continue;
        const s = row + xin * 3;
        const d = (y * xsize + x) * 3;
        out[d] = img.data[s]!;
        out[d + 1] = img.data[s + 1]!;
        out[d + 2] = img.data[s + 2]!;
      }
    }
    yo += a4;
  }
  return { width: xsize, height: ysize, data: out };
}

/** _imaging.c `_resize`: validation, integer-crop shortcut, nearest or two-pass resample. */
function imagingResize(img: RgbImage, xsize: number, ysize: number, filter: ResampleFilter, box: readonly number[]): RgbImage {
  const [b0, b1, b2, b3] = box as [number, number, number, number];
  if (xsize < 1 || ysize < 1) throw new HybridVisionError('resize: height and width must be > 0');
  if (b0 < 0 || b1 < 0) throw new HybridVisionError("resize: box offset can't be negative");
  if (b2 > img.width || b3 > img.height) throw new HybridVisionError("resize: box can't exceed original image size");
  if (Math.fround(b2 - b0) < 0 || Math.fround(b3 - b1) < 0) throw new HybridVisionError("resize: box can't be empty");
  if (
    b0 - Math.trunc(b0) === 0 &&
    Math.fround(b2 - b0) === xsize &&
    b1 - Math.trunc(b1) === 0 &&
    Math.fround(b3 - b1) === ysize
  ) {
    return cropImage(img, Math.trunc(b0), Math.trunc(b1), xsize, ysize);
  }
  if (filter === 'nearest') return scaleNearest(img, xsize, ysize, box);
  return resampleInner(img, xsize, ysize, FILTERS[filter], box);
}

/**
 * Pillow's `Image.resize((width, height), filter, box)` for an 8-bit RGB image, bit-exact.
 * `box` (left, upper, right, lower) selects the source region; it defaults to the whole image.
 */
export function resize(img: RgbImage, width: number, height: number, filter: ResampleFilter = 'bicubic', box?: ResizeBox): RgbImage {
  assertRgbImage(img);
  if (!Number.isInteger(width) || !Number.isInteger(height)) throw new HybridVisionError(`resize: size must be integers, got ${width}x${height}`);
  if (!(filter in FILTERS) && filter !== 'nearest') throw new HybridVisionError(`resize: unknown filter '${String(filter)}' (nearest, bilinear, bicubic, lanczos, box, hamming)`);
  const fullBox = box === undefined || (box[0] === 0 && box[1] === 0 && box[2] === img.width && box[3] === img.height);
  if (width === img.width && height === img.height && fullBox) {
    return { width, height, data: img.data.slice() };
  }
  if (box !== undefined && (box.length !== 4 || box.some((v) => !Number.isFinite(v)))) {
    throw new HybridVisionError('resize: box must be 4 finite numbers (left, upper, right, lower)');
  }
  const fbox = (box ?? [0, 0, img.width, img.height]).map((v) => Math.fround(v));
  if (img.height > img.width * 100 && height < img.height) {
    // Pillow resizes very tall images vertically first
    const tmp = imagingResize(img, img.width, height, filter, [0, fbox[1]!, img.width, fbox[3]!]);
    return imagingResize(tmp, width, height, filter, [fbox[0]!, 0, fbox[2]!, Math.fround(height)]);
  }
  return imagingResize(img, width, height, filter, fbox);
}

/**
 * torchvision's output size for Resize(size) with an int size: the short side becomes `size`,
 * the long side int(size * long / short). Returns [width, height].
 */
export function shortSideSize(width: number, height: number, size: number): [number, number] {
  if (!Number.isInteger(size) || size < 1) throw new HybridVisionError(`resize size must be a positive integer, got ${size}`);
  if (width <= height) return [size, Math.trunc((size * height) / width)];
  return [Math.trunc((size * width) / height), size];
}

/** torchvision `transforms.Resize(size)` (int size) on a PIL image. */
export function resizeShortSide(img: RgbImage, size: number, filter: ResampleFilter = 'bilinear'): RgbImage {
  assertRgbImage(img);
  const [w, h] = shortSideSize(img.width, img.height, size);
  if (w === img.width && h === img.height) return { width: w, height: h, data: img.data.slice() };
  return resize(img, w, h, filter);
}

/** Python's round(): half to even. */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/**
 * torchvision `transforms.CenterCrop((height, width))` on a PIL image: zero padding when the crop is
 * larger than the image (left/top get the floor half), then top = int(round((H - h) / 2.0)) and
 * left = int(round((W - w) / 2.0)) with Python's half-to-even rounding.
 */
export function centerCrop(img: RgbImage, height: number, width: number): RgbImage {
  assertRgbImage(img);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new HybridVisionError(`center crop size must be positive integers, got ${height}x${width}`);
  }
  let W = img.width;
  let H = img.height;
  let offX = 0;
  let offY = 0;
  if (width > W || height > H) {
    // pad: left = (w - W) // 2, top = (h - H) // 2 (right/bottom take the rest)
    offX = width > W ? Math.floor((width - W) / 2) : 0;
    offY = height > H ? Math.floor((height - H) / 2) : 0;
    W = width > W ? width : W;
    H = height > H ? height : H;
  }
  const top = roundHalfEven((H - height) / 2.0);
  const left = roundHalfEven((W - width) / 2.0);
  return cropImage(img, left - offX, top - offY, width, height);
}
