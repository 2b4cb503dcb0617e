/**
 * "fmnist-scenes": a deterministic synthetic detection + segmentation set built from Fashion-MNIST.
 *
 * Each scene is an S×S gray canvas (default 128) holding 1–4 items drawn from one Fashion-MNIST split
 * (train items for train scenes, test items for test scenes). Each item is scaled by a factor in [1, 3]
 * (bilinear, half-pixel centres), placed fully inside the canvas so that every pair of item boxes has
 * IoU ≤ 0.3, and composited by per-pixel max over a dark noisy background.
 * - box: the tight box of the item's pixels above 10% of its own maximum (x1, y1, x2, y2, exclusive end);
 * - mask: class id + 1 where the item's intensity exceeds 0.1 (of 255), later items on top; 0 = background.
 * The same (split, seed, index, size) always gives the same scene.
 */
import { HybridVisionError } from '../tensor.js';
import type { DetectionDataset, SegmentationDataset } from './dense_dataset.js';

export interface FmnistSource {
  /** count × 28 × 28 gray bytes */
  images: Uint8Array;
  labels: ArrayLike<number>;
  count: number;
  rows: number;
  cols: number;
}

export interface SceneObject {
  /** Fashion-MNIST class 0..9 */
  label: number;
  /** pixel box [x1, y1, x2, y2], x2/y2 exclusive */
  box: [number, number, number, number];
  /** the source item's index in its split */
  source: number;
  scale: number;
}

export interface Scene {
  size: number;
  /** size × size gray bytes */
  pixels: Uint8Array;
  /** size × size class map: 0 background, class + 1 elsewhere */
  mask: Uint8Array;
  objects: SceneObject[];
}

export interface SceneOptions {
  size?: number;
  minItems?: number;
  maxItems?: number;
  minScale?: number;
  maxScale?: number;
  maxIou?: number;
  /** Background noise: uniform in [0, bgMax] per pixel. */
  bgMax?: number;
}

export const SCENE_DEFAULTS: Required<SceneOptions> = { size: 128, minItems: 1, maxItems: 4, minScale: 1, maxScale: 3, maxIou: 0.3, bgMax: 40 };

/** splitmix32 over (seed, index): each scene has its own stream, so scenes can be made in any order. */
export function sceneRandom(seed: number, index: number): () => number {
  let s = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca77)) >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 4294967296;
  };
}

/** Bilinear resize (half-pixel centres, edge clamp) of a rows×cols byte image to n×n floats. */
function scaleItem(src: Uint8Array, rows: number, cols: number, n: number): Float32Array {
  const out = new Float32Array(n * n);
  const sy = rows / n;
  const sx = cols / n;
  for (let y = 0; y < n; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), rows - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, rows - 1);
    const wy = fy - y0;
    for (let x = 0; x < n; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), cols - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, cols - 1);
      const wx = fx - x0;
      const top = src[y0 * cols + x0] * (1 - wx) + src[y0 * cols + x1] * wx;
      const bot = src[y1 * cols + x0] * (1 - wx) + src[y1 * cols + x1] * wx;
      out[y * n + x] = top * (1 - wy) + bot * wy;
    }
  }
  return out;
}

/** Tight box [x1, y1, x2, y2) of values > thr in an n×n map, or null. */
function tightBox(v: Float32Array, n: number, thr: number): [number, number, number, number] | null {
  let x1 = n, y1 = n, x2 = -1, y2 = -1;
  for (let y = 0; y < n; y++)
    for (let x = 0; x < n; x++)
      if (v[y * n + x] > thr) {
        if (x < x1) x1 = x;
        if (x > x2) x2 = x;
        if (y < y1) y1 = y;
        if (y > y2) y2 = y;
      }
  return x2 < 0 ? null : [x1, y1, x2 + 1, y2 + 1];
}

export function boxIouXyxy(a: readonly number[], b: readonly number[]): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const i = w * h;
  return i / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - i);
}

/** Scene `index` of the set (split items from `src`, `seed`). */
export function makeScene(src: FmnistSource, seed: number, index: number, options: SceneOptions = {}): Scene {
  const o = { ...SCENE_DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) } as Required<SceneOptions>;
  const S = o.size;
  if (!Number.isInteger(S) || S < 3 * src.rows) throw new HybridVisionError(`fmnist-scenes: --size must be an integer >= ${3 * src.rows} (items are scaled up to 3x), got ${S}`);
  if (src.count < 1) throw new HybridVisionError('fmnist-scenes: the source split has no images');
  const rand = sceneRandom(seed, index);
  const pixels = new Uint8Array(S * S);
  for (let i = 0; i < S * S; i++) pixels[i] = Math.floor(rand() * (o.bgMax + 1));
  const mask = new Uint8Array(S * S);
  const want = o.minItems + Math.floor(rand() * (o.maxItems - o.minItems + 1));
  const objects: SceneObject[] = [];
  const item = src.rows * src.cols;
  for (let tries = 0; objects.length < want && tries < 50 * want; tries++) {
    const srcIdx = Math.floor(rand() * src.count);
    const scale = o.minScale + rand() * (o.maxScale - o.minScale);
    const n = Math.min(S, Math.round(src.rows * scale));
    const v = scaleItem(src.images.subarray(srcIdx * item, (srcIdx + 1) * item), src.rows, src.cols, n);
    let vmax = 0;
    for (const x of v) vmax = Math.max(vmax, x);
    const local = tightBox(v, n, 0.1 * vmax);
    const px = Math.floor(rand() * (S - n + 1));
    const py = Math.floor(rand() * (S - n + 1));
    if (!local || vmax <= 0.1 * 255) continue; // an empty item: draw another
    const box: [number, number, number, number] = [local[0] + px, local[1] + py, local[2] + px, local[3] + py];
    if (objects.some((ob) => boxIouXyxy(ob.box, box) > o.maxIou)) continue;
    const label = src.labels[srcIdx];
    for (let y = 0; y < n; y++)
      for (let x = 0; x < n; x++) {
        const val = v[y * n + x];
        const at = (py + y) * S + px + x;
        const b = Math.min(255, Math.round(val));
        if (b > pixels[at]) pixels[at] = b;
        if (val > 0.1 * 255) mask[at] = label + 1;
      }
    objects.push({ label, box, source: srcIdx, scale });
  }
  return { size: S, pixels, mask, objects };
}

/** Scene names: zero-padded indices, e.g. 'train_000042'. */
export function sceneName(split: string, index: number): string {
  return `${split}_${String(index).padStart(6, '0')}`;
}

export interface SceneSet {
  count: number;
  size: number;
  /** count × size × size gray bytes */
  pixels: Uint8Array;
  /** count × size × size class maps */
  masks: Uint8Array;
  /** per scene; detection label k + 1 and mask value k + 1 both mean Fashion-MNIST class k */
  objects: SceneObject[][];
}

/** Scenes 0..count−1 in memory (the same content `hybridvision data fmnist-scenes` writes, before JPEG). */
export function makeSceneSet(src: FmnistSource, seed: number, count: number, options: SceneOptions = {}): SceneSet {
  const size = options.size ?? SCENE_DEFAULTS.size;
  const px = new Uint8Array(count * size * size);
  const masks = new Uint8Array(count * size * size);
  const objects: SceneObject[][] = [];
  for (let i = 0; i < count; i++) {
    const s = makeScene(src, seed, i, options);
    px.set(s.pixels, i * size * size);
    masks.set(s.mask, i * size * size);
    objects.push(s.objects);
  }
  return { count, size, pixels: px, masks, objects };
}

/** A scene set as a detection dataset (gray, labels = class + 1) and a segmentation dataset (0 = background). */
export function sceneDatasets(set: SceneSet, classNames: readonly string[]): { detection: DetectionDataset; segmentation: SegmentationDataset } {
  const boxes = set.objects.map((obs) => Float32Array.from(obs.flatMap((o) => o.box)));
  const labels = set.objects.map((obs) => Int32Array.from(obs, (o) => o.label + 1));
  return {
    detection: { count: set.count, size: set.size, pixels: set.pixels, channels: 1, boxes, labels, classNames },
    segmentation: { count: set.count, size: set.size, pixels: set.pixels, channels: 1, labels: set.masks, classNames: ['background', ...classNames] },
  };
}
