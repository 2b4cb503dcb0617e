/** Heat-map overlays: a grid of values, min-max scaled, coloured and drawn over the image. */
import type { RgbImage } from '../src/web/index.js';

function colour(t: number): [number, number, number] {
  // dark blue -> cyan -> yellow -> red
  const r = Math.min(1, Math.max(0, 1.5 * t * 2 - 1.5 + 0.5));
  const g = Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - 2)));
  const b = Math.min(1, Math.max(0, 1.5 - 2 * t * 1.5));
  return [r * 255, g * 255, b * 255];
}

export function imageCanvas(img: RgbImage): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = img.width;
  c.height = img.height;
  const ctx = c.getContext('2d')!;
  const id = ctx.createImageData(img.width, img.height);
  for (let i = 0; i < img.width * img.height; i++) {
    id.data[i * 4] = img.data[i * 3];
    id.data[i * 4 + 1] = img.data[i * 3 + 1];
    id.data[i * 4 + 2] = img.data[i * 3 + 2];
    id.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(id, 0, 0);
  return c;
}

/** Draws `img` scaled to the canvas and the h×w map over it (alpha 0.6). */
export function drawHeatmap(canvas: HTMLCanvasElement, img: RgbImage | null, map: ArrayLike<number>, h: number, w: number): void {
  const ctx = canvas.getContext('2d')!;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (img) {
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(imageCanvas(img), 0, 0, canvas.width, canvas.height);
  }
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < h * w; i++) {
    lo = Math.min(lo, map[i]);
    hi = Math.max(hi, map[i]);
  }
  const span = hi - lo || 1;
  const grid = document.createElement('canvas');
  grid.width = w;
  grid.height = h;
  const g = grid.getContext('2d')!;
  const id = g.createImageData(w, h);
  for (let i = 0; i < h * w; i++) {
    const [r, gg, b] = colour((map[i] - lo) / span);
    id.data[i * 4] = r;
    id.data[i * 4 + 1] = gg;
    id.data[i * 4 + 2] = b;
    id.data[i * 4 + 3] = 255;
  }
  g.putImageData(id, 0, 0);
  ctx.globalAlpha = img ? 0.6 : 1;
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(grid, 0, 0, canvas.width, canvas.height);
  ctx.globalAlpha = 1;
}
