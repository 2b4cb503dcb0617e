/**
 * Detect & segment: the shipped SSDLite detector's boxes and the shipped DeepLabv3 segmenter's
 * classes drawn over a scene (a bundled fmnist-scenes test image, or the user's). Both run through
 * the web pipelines. Writes its detections as JSON into data-testid="detections", the pixels per
 * class into data-testid="segments" and its state into data-testid="scene-status".
 */
import {
  decodeWebImage,
  fetchBytes,
  modelFromCheckpoint,
  pipeline,
  type DetectionObject,
  type RgbImage,
  type SegmentationObject,
  type WebImageInput,
  type WebImageSegmenter,
  type WebObjectDetector,
} from '../src/web/index.js';
import { imageCanvas } from './heatmap.js';
import { sampleList, shippedModelUrl } from './shipped.js';
import { $, errorText } from './state.js';

const here = new URL('./', location.href);
let models: Promise<{ detect: WebObjectDetector; segment: WebImageSegmenter }> | null = null;
let current: { image: RgbImage; map: Uint8Array } | null = null;
let runToken = 0;

function setSceneStatus(s: string): void {
  const el = $('scene-status');
  el.textContent = s;
  el.dataset.state = s.startsWith('error') ? 'error' : s;
}

async function loadShipped(key: 'detector' | 'segmenter') {
  const url = await shippedModelUrl(key, here);
  return modelFromCheckpoint(await fetchBytes(url), { fileLabel: `${key}.safetensors` });
}

function loadModels(): Promise<{ detect: WebObjectDetector; segment: WebImageSegmenter }> {
  models ??= (async () => {
    const [d, s] = [await loadShipped('detector'), await loadShipped('segmenter')];
    $('scene-models').textContent = `${d.name} · ${s.name} · ${d.numClasses - 1} classes + background`;
    return { detect: await pipeline('object-detection', d), segment: await pipeline('image-segmentation', s) };
  })();
  models.catch(() => (models = null));
  return models;
}

/** The colour of class k ≥ 1: hues a golden angle apart, bright enough to read on dark scenes (background is never drawn). */
function colour(k: number): [number, number, number] {
  const h = ((k - 1) * 137.508) % 360;
  const f = (n: number) => {
    const a = (n + h / 30) % 12;
    return Math.round(255 * (0.6 - 0.4 * Math.max(-1, Math.min(a - 3, 9 - a, 1))));
  };
  return [f(0), f(8), f(4)];
}

/** Draws `img` scaled to fit the canvas; returns the scale and offset used. */
function drawImage(canvas: HTMLCanvasElement, img: RgbImage): { s: number; x0: number; y0: number } {
  const ctx = canvas.getContext('2d')!;
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const s = Math.min(canvas.width / img.width, canvas.height / img.height);
  const x0 = (canvas.width - img.width * s) / 2;
  const y0 = (canvas.height - img.height * s) / 2;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(imageCanvas(img), x0, y0, img.width * s, img.height * s);
  return { s, x0, y0 };
}

function drawDetections(img: RgbImage, dets: DetectionObject[], labels: string[]): void {
  const canvas = $<HTMLCanvasElement>('det-canvas');
  const { s, x0, y0 } = drawImage(canvas, img);
  const ctx = canvas.getContext('2d')!;
  ctx.lineWidth = 2;
  ctx.font = '11px system-ui, sans-serif';
  for (const d of dets) {
    const [r, g, b] = colour(Math.max(1, labels.indexOf(d.label)));
    const x = x0 + d.box.xmin * s;
    const y = y0 + d.box.ymin * s;
    ctx.strokeStyle = `rgb(${r},${g},${b})`;
    ctx.strokeRect(x, y, (d.box.xmax - d.box.xmin) * s, (d.box.ymax - d.box.ymin) * s);
    const text = `${d.label} ${(100 * d.score).toFixed(0)}%`;
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(x, Math.max(0, y - 14), ctx.measureText(text).width + 6, 14);
    ctx.fillStyle = '#fff';
    ctx.fillText(text, x + 3, Math.max(11, y - 3));
  }
}

/** The per-pixel class index from the pipeline's one-mask-per-class result (0 where no mask is set). */
function classIndexMap(img: RgbImage, segs: SegmentationObject[], labels: string[]): Uint8Array {
  const map = new Uint8Array(img.width * img.height);
  for (const o of segs) {
    const k = labels.indexOf(o.label);
    for (let i = 0; i < map.length; i++) if (o.mask.data[i]) map[i] = k;
  }
  return map;
}

function drawSegments(img: RgbImage, map: Uint8Array): void {
  const canvas = $<HTMLCanvasElement>('seg-canvas');
  const { s, x0, y0 } = drawImage(canvas, img);
  const overlay = document.createElement('canvas');
  overlay.width = img.width;
  overlay.height = img.height;
  const o = overlay.getContext('2d')!;
  const id = o.createImageData(img.width, img.height);
  for (let i = 0; i < map.length; i++) {
    if (map[i] === 0) continue;
    const [r, g, b] = colour(map[i]);
    id.data.set([r, g, b, 150], i * 4);
  }
  o.putImageData(id, 0, 0);
  const ctx = canvas.getContext('2d')!;
  ctx.imageSmoothingEnabled = false;
  ctx.drawImage(overlay, x0, y0, img.width * s, img.height * s);
}

function writeLegend(segs: SegmentationObject[], labels: string[], total: number): { label: string; pixels: number }[] {
  const rows = segs.map((o) => ({ label: o.label, pixels: o.mask.data.reduce((n, v) => n + (v ? 1 : 0), 0) }));
  $('seg-legend').replaceChildren(
    ...rows.map((r) => {
      const li = document.createElement('li');
      const sw = document.createElement('span');
      sw.className = 'swatch';
      const [cr, cg, cb] = colour(labels.indexOf(r.label));
      sw.style.background = r.label === labels[0] ? 'transparent' : `rgb(${cr},${cg},${cb})`;
      li.append(sw, `${r.label} ${((100 * r.pixels) / total).toFixed(1)}%`);
      return li;
    }),
  );
  return rows;
}

/** Runs both models on `input` and draws their results. */
export async function runScene(input: WebImageInput): Promise<void> {
  const token = ++runToken;
  setSceneStatus('loading');
  try {
    const { detect, segment } = await loadModels();
    const image = await decodeWebImage(input);
    const threshold = Number($<HTMLInputElement>('scene-threshold').value);
    const t0 = performance.now();
    const detections = await detect(image, { threshold: Number.isFinite(threshold) ? threshold : undefined });
    const t1 = performance.now();
    const segments = await segment(image);
    const t2 = performance.now();
    if (token !== runToken) return;
    const segLabels = segment.model.labels ?? [];
    current = { image, map: classIndexMap(image, segments, segLabels) };
    drawDetections(image, detections, detect.model.labels ?? []);
    drawSegments(image, current.map);
    const rows = writeLegend(segments, segLabels, image.width * image.height);
    $('detections').textContent = JSON.stringify(detections);
    $('segments').textContent = JSON.stringify(rows);
    $('scene-timings').textContent = `detection ${(t1 - t0).toFixed(0)} ms · segmentation ${(t2 - t1).toFixed(0)} ms (${image.width}×${image.height}, first runs include compiling)`;
    setSceneStatus('ready');
  } catch (e) {
    console.error(e);
    if (token === runToken) setSceneStatus(`error: ${errorText(e)}`);
  }
}


let opened = false;

/**
 * Called when the view is shown: the first time, lists the bundled scenes, loads the models and runs
 * the first (or the addressed) scene. Nothing of this view is fetched before it is shown.
 */
export function showScenes(scene?: string | null): void {
  if (opened) return;
  opened = true;
  void (async () => {
    const select = $<HTMLSelectElement>('scene-select');
    for (const f of await sampleList('samples/scenes', here)) select.add(new Option(f, new URL(`samples/scenes/${f}`, here).href));
    const first = scene ?? (select.options[0]?.value || null);
    if (first) await runScene(first);
    else setSceneStatus('error: this build ships no sample scenes: choose an image');
  })();
}

export function initScenes(): void {
  const select = $<HTMLSelectElement>('scene-select');
  select.addEventListener('change', () => void runScene(select.value));
  $<HTMLInputElement>('scene-file').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void runScene(f);
  });
  $<HTMLInputElement>('scene-threshold').addEventListener('change', () => {
    if (current) void runScene(current.image);
  });
}

/** For automated checks: the drawn per-pixel class indices of the last scene (row-major). */
export function sceneClassMap(): number[] | null {
  return current ? Array.from(current.map) : null;
}
