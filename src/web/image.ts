/**
 * Browser image inputs decoded to 8-bit RGB: HTMLImageElement, HTMLCanvasElement, OffscreenCanvas,
 * ImageBitmap, ImageData, VideoFrame / HTMLVideoElement (the current frame), Blob / File, encoded
 * bytes and URLs. Pixels are read back unscaled (no browser resampling); the model's preprocessing
 * (the same Pillow-exact resize as in Node) then runs on them. EXIF orientation is applied, as in
 * Node; alpha is dropped (fully transparent pixels read back black, as canvas stores them premultiplied).
 */
import type { RgbImage } from '../data/image.js';
import { HybridVisionError } from '../tensor.js';

export type WebImageInput =
  | RgbImage
  | ImageData
  | ImageBitmap
  | Blob
  | Uint8Array
  | URL
  | string
  | { readonly width: number; readonly height: number } /* HTMLImageElement, HTMLCanvasElement, OffscreenCanvas, HTMLVideoElement, VideoFrame */;

const isRgb = (x: unknown): x is RgbImage => typeof x === 'object' && x !== null && 'data' in x && (x as RgbImage).data instanceof Uint8Array && !(x instanceof Uint8ClampedArray);

/** RGBA bytes (ImageData layout) to RGB, alpha dropped. */
export function rgbaToRgb(rgba: ArrayLike<number>, width: number, height: number): RgbImage {
  const n = width * height;
  if (rgba.length !== n * 4) throw new HybridVisionError(`RGBA data for ${width}x${height} needs ${n * 4} bytes, got ${rgba.length}`);
  const data = new Uint8Array(n * 3);
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    data[i * 3] = rgba[j];
    data[i * 3 + 1] = rgba[j + 1];
    data[i * 3 + 2] = rgba[j + 2];
  }
  return { width, height, data };
}

function canvas(w: number, h: number): { ctx: CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D } {
  if (typeof OffscreenCanvas !== 'undefined') {
    const ctx = new OffscreenCanvas(w, h).getContext('2d', { willReadFrequently: true });
    if (ctx) return { ctx };
  }
  if (typeof document !== 'undefined') {
    const c = document.createElement('canvas');
    c.width = w;
    c.height = h;
    const ctx = c.getContext('2d', { willReadFrequently: true });
    if (ctx) return { ctx };
  }
  throw new HybridVisionError('no 2D canvas in this environment: pass decoded RGB images');
}

/** Reads any drawable at its natural size. */
function drawableToRgb(src: CanvasImageSource, w: number, h: number): RgbImage {
  if (!(w > 0 && h > 0)) throw new HybridVisionError(`image has no pixels (${w}x${h}): is it loaded?`);
  const { ctx } = canvas(w, h);
  ctx.drawImage(src, 0, 0, w, h);
  return rgbaToRgb(ctx.getImageData(0, 0, w, h).data, w, h);
}

async function blobToRgb(blob: Blob, what: string): Promise<RgbImage> {
  let bmp: ImageBitmap;
  try {
    bmp = await createImageBitmap(blob, { imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  } catch {
    throw new HybridVisionError(`cannot decode ${what} as an image${blob.type ? ` (${blob.type})` : ''}`);
  }
  try {
    return drawableToRgb(bmp, bmp.width, bmp.height);
  } finally {
    bmp.close();
  }
}

/** Decodes any supported browser input to RGB. */
export async function decodeWebImage(x: WebImageInput): Promise<RgbImage> {
  if (isRgb(x)) return x;
  if (typeof ImageData !== 'undefined' && x instanceof ImageData) return rgbaToRgb(x.data, x.width, x.height);
  if (typeof Blob !== 'undefined' && x instanceof Blob) return blobToRgb(x, x instanceof File ? x.name : 'the blob');
  if (x instanceof Uint8Array) return blobToRgb(new Blob([x as Uint8Array<ArrayBuffer>]), 'the bytes');
  if (typeof x === 'string' || x instanceof URL) {
    const url = String(x);
    let res: Response;
    try {
      res = await fetch(url);
    } catch {
      throw new HybridVisionError(`cannot fetch image ${url}`);
    }
    if (!res.ok) throw new HybridVisionError(`cannot fetch image ${url}: HTTP ${res.status}`);
    return blobToRgb(await res.blob(), url);
  }
  if (typeof HTMLImageElement !== 'undefined' && x instanceof HTMLImageElement) {
    if (!x.complete) await x.decode();
    return drawableToRgb(x, x.naturalWidth, x.naturalHeight);
  }
  if (typeof HTMLVideoElement !== 'undefined' && x instanceof HTMLVideoElement) return drawableToRgb(x, x.videoWidth, x.videoHeight);
  if (typeof VideoFrame !== 'undefined' && x instanceof VideoFrame) return drawableToRgb(x, x.displayWidth, x.displayHeight);
  if (typeof x === 'object' && x !== null && 'width' in x && 'height' in x) {
    // HTMLCanvasElement, OffscreenCanvas, ImageBitmap, SVGImageElement
    return drawableToRgb(x as CanvasImageSource, x.width, x.height);
  }
  throw new HybridVisionError('unsupported image input: pass an image element, canvas, ImageBitmap, ImageData, Blob/File, bytes or a URL');
}
