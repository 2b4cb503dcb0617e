/** Small raster drawing on RGB images: class-map overlays and box outlines (the segment/detect pictures). */
import type { RgbImage } from './image.js';
import { VOC_PALETTE } from './voc_classes.js';

/** The image blended half and half with each pixel's class colour (VOC palette); class 0 and 255 (ignore) leave the image as is. */
export function overlayClassMap(img: RgbImage, map: ArrayLike<number>, palette: Uint8Array = VOC_PALETTE): RgbImage {
  const out = new Uint8Array(img.data);
  for (let i = 0; i < img.width * img.height; i++) {
    const k = map[i];
    if (k === 0 || k === 255) continue;
    const p = 3 * (k % 256);
    for (let c = 0; c < 3; c++) out[3 * i + c] = (img.data[3 * i + c] + palette[p + c] + 1) >> 1;
  }
  return { width: img.width, height: img.height, data: out };
}

/** A copy of the image with each box (x1 y1 x2 y2, pixels) outlined `thickness` pixels wide in its label's palette colour. */
export function drawBoxes(img: RgbImage, boxes: ArrayLike<number>, labels: ArrayLike<number>, thickness = 2, palette: Uint8Array = VOC_PALETTE): RgbImage {
  const out = new Uint8Array(img.data);
  const { width: W, height: H } = img;
  const clampX = (v: number) => Math.min(W - 1, Math.max(0, Math.round(v)));
  const clampY = (v: number) => Math.min(H - 1, Math.max(0, Math.round(v)));
  for (let i = 0; i < labels.length; i++) {
    // palette entry 0 is black: shift by one so every class is visible
    const p = 3 * ((labels[i] % 255) + 1);
    const x1 = clampX(boxes[4 * i]), y1 = clampY(boxes[4 * i + 1]), x2 = clampX(boxes[4 * i + 2]), y2 = clampY(boxes[4 * i + 3]);
    const put = (x: number, y: number) => out.set(palette.subarray(p, p + 3), 3 * (y * W + x));
    for (let t = 0; t < thickness; t++) {
      for (let x = x1; x <= x2; x++) put(x, Math.min(y1 + t, H - 1)), put(x, Math.max(y2 - t, 0));
      for (let y = y1; y <= y2; y++) put(Math.min(x1 + t, W - 1), y), put(Math.max(x2 - t, 0), y);
    }
  }
  return { width: W, height: H, data: out };
}
