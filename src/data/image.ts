/**
 * 8-bit RGB images on the host: interleaved R, G, B bytes, row-major, no padding.
 * Core module: no Node built-ins, usable in the browser.
 */

import { HybridVisionError } from '../tensor.js';

/** An 8-bit RGB image: `data[(y * width + x) * 3 + c]`, c = 0 red, 1 green, 2 blue. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A new image filled with one colour (black by default). */
export function createImage(width: number, height: number, fill: readonly [number, number, number] = [0, 0, 0]): RgbImage {
  checkSize(width, height);
  const data = new Uint8Array(width * height * 3);
  if (fill[0] !== 0 || fill[1] !== 0 || fill[2] !== 0) {
    for (let i = 0; i < data.length; i += 3) {
      data[i] = fill[0];
      data[i + 1] = fill[1];
      data[i + 2] = fill[2];
    }
  }
  return { width, height, data };
}

/** Throws a HybridVisionError unless `img` is a well-formed RgbImage. */
export function assertRgbImage(img: RgbImage, what = 'image'): void {
  if (!img || !(img.data instanceof Uint8Array)) throw new HybridVisionError(`${what} is not an RGB image (data must be a Uint8Array)`);
  if (!Number.isInteger(img.width) || !Number.isInteger(img.height) || img.width < 0 || img.height < 0) {
    throw new HybridVisionError(`${what} has an invalid size ${img.width}x${img.height}`);
  }
  if (img.data.length !== img.width * img.height * 3) {
    throw new HybridVisionError(`${what} is ${img.width}x${img.height} RGB and needs ${img.width * img.height * 3} bytes, got ${img.data.length}`);
  }
}

/** The [r, g, b] of one pixel. */
export function getPixel(img: RgbImage, x: number, y: number): [number, number, number] {
  const i = (y * img.width + x) * 3;
  return [img.data[i]!, img.data[i + 1]!, img.data[i + 2]!];
}

/** A deep copy. */
export function cloneImage(img: RgbImage): RgbImage {
  return { width: img.width, height: img.height, data: img.data.slice() };
}

/**
 * The region [left, left + width) x [top, top + height); parts of the region outside
 * the source are filled with zeros (like PIL's Image.crop).
 */
export function cropImage(img: RgbImage, left: number, top: number, width: number, height: number): RgbImage {
  checkSize(width, height);
  const out = new Uint8Array(width * height * 3);
  const x0 = Math.max(0, left);
  const x1 = Math.min(img.width, left + width);
  if (x1 > x0) {
    for (let y = 0; y < height; y++) {
      const sy = top + y;
      if (sy < 0 || sy >= img.height) continue;
      const src = (sy * img.width + x0) * 3;
      out.set(img.data.subarray(src, src + (x1 - x0) * 3), (y * width + (x0 - left)) * 3);
    }
  }
  return { width, height, data: out };
}

/** Mirror left-right. */
export function flipHorizontal(img: RgbImage): RgbImage {
  const { width, height, data } = img;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < height; y++) {
    const row = y * width * 3;
    for (let x = 0; x < width; x++) {
      const s = row + x * 3;
      const d = row + (width - 1 - x) * 3;
      out[d] = data[s]!;
      out[d + 1] = data[s + 1]!;
      out[d + 2] = data[s + 2]!;
    }
  }
  return { width, height, data: out };
}

/**
 * Interleaved pixels with `channels` bytes each (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) to RGB.
 * Alpha is dropped without compositing and gray is replicated, like PIL's `convert('RGB')`.
 */
export function toRgb(data: Uint8Array, width: number, height: number, channels: number): RgbImage {
  checkSize(width, height);
  const n = width * height;
  if (channels < 1 || channels > 4 || !Number.isInteger(channels)) throw new HybridVisionError(`cannot convert ${channels}-channel pixels to RGB`);
  if (data.length < n * channels) throw new HybridVisionError(`pixel buffer has ${data.length} bytes, ${width}x${height}x${channels} needs ${n * channels}`);
  if (channels === 3) return { width, height, data: data.slice(0, n * 3) };
  const out = new Uint8Array(n * 3);
  if (channels <= 2) {
    for (let i = 0, s = 0; i < n; i++, s += channels) {
      const v = data[s]!;
      out[i * 3] = v;
      out[i * 3 + 1] = v;
      out[i * 3 + 2] = v;
    }
  } else {
    for (let i = 0, s = 0; i < n; i++, s += 4) {
      out[i * 3] = data[s]!;
      out[i * 3 + 1] = data[s + 1]!;
      out[i * 3 + 2] = data[s + 2]!;
    }
  }
  return { width, height, data: out };
}

function checkSize(width: number, height: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 0 || height < 0) {
    throw new HybridVisionError(`invalid image size ${width}x${height}`);
  }
}
