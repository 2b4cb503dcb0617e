/**
 * Rendering a training/eval view of an 8-bit image into a float CHW slot: one general mechanism,
 * a source box (which may extend past the image: zero padding) sampled bilinearly to S x S, with an
 * optional horizontal flip. Random resized crop and padding crop are box choices; mixup/cutmix mix
 * rendered batches.
 */
import type { Dataset } from './dataset.js';

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Normalize {
  mean: readonly number[];
  std: readonly number[];
  /** BGR: output channel 0 reads source channel 2. */
  channelOrder: 'RGB' | 'BGR';
}

/** Samples `box` of image i into out[offset .. offset + 3*S*S) as normalised CHW floats. */
export function renderView(ds: Dataset, i: number, box: Box, flip: boolean, size: number, out: Float32Array, offset: number, norm: Normalize): void {
  const { width: W, height: H, channels: C } = ds;
  const base = i * W * H * C;
  const px = ds.pixels;
  const sx = box.w / size;
  const sy = box.h / size;
  const plane = size * size;
  for (let oy = 0; oy < size; oy++) {
    const fy = box.y + (oy + 0.5) * sy - 0.5;
    const y0 = Math.floor(fy);
    const ly = fy - y0;
    for (let ox = 0; ox < size; ox++) {
      const fx = box.x + ((flip ? size - 1 - ox : ox) + 0.5) * sx - 0.5;
      const x0 = Math.floor(fx);
      const lx = fx - x0;
      for (let c = 0; c < 3; c++) {
        const sc = C === 1 ? 0 : norm.channelOrder === 'BGR' ? 2 - c : c;
        const at = (x: number, y: number) => (x < 0 || y < 0 || x >= W || y >= H ? 0 : px[base + (y * W + x) * C + sc]);
        const v = (1 - ly) * ((1 - lx) * at(x0, y0) + lx * at(x0 + 1, y0)) + ly * ((1 - lx) * at(x0, y0 + 1) + lx * at(x0 + 1, y0 + 1));
        out[offset + c * plane + oy * size + ox] = (v / 255 - norm.mean[c]) / norm.std[c];
      }
    }
  }
}

/** torchvision RandomResizedCrop box (scale 0.08-1, ratio 3/4-4/3), falling back to a center crop. */
export function randomResizedCropBox(w: number, h: number, rand: () => number, scale: [number, number] = [0.08, 1]): Box {
  const area = w * h;
  for (let t = 0; t < 10; t++) {
    const target = area * (scale[0] + rand() * (scale[1] - scale[0]));
    const logr = Math.log(3 / 4) + rand() * (Math.log(4 / 3) - Math.log(3 / 4));
    const r = Math.exp(logr);
    const cw = Math.round(Math.sqrt(target * r));
    const ch = Math.round(Math.sqrt(target / r));
    if (cw > 0 && ch > 0 && cw <= w && ch <= h) return { x: Math.floor(rand() * (w - cw + 1)), y: Math.floor(rand() * (h - ch + 1)), w: cw, h: ch };
  }
  const s = Math.min(w, h);
  return { x: (w - s) / 2, y: (h - s) / 2, w: s, h: s };
}

/** The image centred on a canvas `pad` pixels larger on each side, shifted by up to `jitter` pixels. */
export function padCropBox(w: number, h: number, pad: number, jitter: number, rand?: () => number): Box {
  const dx = rand ? Math.floor(rand() * (2 * jitter + 1)) - jitter : 0;
  const dy = rand ? Math.floor(rand() * (2 * jitter + 1)) - jitter : 0;
  return { x: -pad + dx, y: -pad + dy, w: w + 2 * pad, h: h + 2 * pad };
}

export const AUGMENT_KINDS = ['pad-crop', 'flip', 'rrc', 'none'] as const;
export type AugmentKind = (typeof AUGMENT_KINDS)[number];

/**
 * One training view: 'pad-crop' shifts the padded canvas by up to `shift` pixels (default
 * max(1, pad)), 'flip' keeps it centred, 'rrc' is a random resized crop; all but 'none' flip half
 * of the views (when `flip`).
 */
export function trainView(kind: AugmentKind, w: number, h: number, pad: number, flip: boolean, rand: () => number, shift = Math.max(1, pad)): { box: Box; flip: boolean } {
  const box = kind === 'rrc' ? randomResizedCropBox(w, h, rand) : kind === 'pad-crop' ? padCropBox(w, h, pad, shift, rand) : padCropBox(w, h, pad, 0);
  return { box, flip: flip && kind !== 'none' && rand() < 0.5 };
}

/** Center view for evaluation: the whole image (square images) or its central square. */
export function centerBox(w: number, h: number, pad = 0): Box {
  const s = Math.min(w, h);
  return { x: (w - s) / 2 - pad, y: (h - s) / 2 - pad, w: s + 2 * pad, h: s + 2 * pad };
}

/** Mixup (lambda ~ Beta(a,a)) or CutMix of a rendered batch with its reverse; returns soft targets. */
export function mixBatch(x: Float32Array, labels: ArrayLike<number>, numClasses: number, size: number, kind: 'mixup' | 'cutmix', alpha: number, smoothing: number, rand: () => number): Float32Array {
  const n = labels.length;
  const per = 3 * size * size;
  let lam = sampleBeta(alpha, rand);
  const src = x.slice();
  if (kind === 'mixup') {
    for (let b = 0; b < n; b++) {
      const o = n - 1 - b;
      for (let k = 0; k < per; k++) x[b * per + k] = lam * src[b * per + k] + (1 - lam) * src[o * per + k];
    }
  } else {
    const cut = Math.sqrt(1 - lam);
    const cw = Math.round(size * cut);
    const ch = Math.round(size * cut);
    const cx = Math.floor(rand() * size);
    const cy = Math.floor(rand() * size);
    const x0 = Math.max(0, cx - (cw >> 1));
    const x1 = Math.min(size, cx + (cw >> 1));
    const y0 = Math.max(0, cy - (ch >> 1));
    const y1 = Math.min(size, cy + (ch >> 1));
    lam = 1 - ((x1 - x0) * (y1 - y0)) / (size * size);
    for (let b = 0; b < n; b++) {
      const o = n - 1 - b;
      for (let c = 0; c < 3; c++)
        for (let y = y0; y < y1; y++)
          for (let xx = x0; xx < x1; xx++) {
            const k = c * size * size + y * size + xx;
            x[b * per + k] = src[o * per + k];
          }
    }
  }
  const t = new Float32Array(n * numClasses).fill(smoothing / numClasses);
  for (let b = 0; b < n; b++) {
    t[b * numClasses + labels[b]] += lam * (1 - smoothing);
    t[b * numClasses + labels[n - 1 - b]] += (1 - lam) * (1 - smoothing);
  }
  return t;
}

function sampleGamma(a: number, rand: () => number): number {
  // Marsaglia-Tsang (a >= 1); boost for a < 1.
  if (a < 1) return sampleGamma(a + 1, rand) * Math.pow(Math.max(rand(), 1e-12), 1 / a);
  const d = a - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      const u1 = Math.max(rand(), 1e-12);
      x = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * rand());
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rand();
    if (Math.log(Math.max(u, 1e-12)) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

export function sampleBeta(a: number, rand: () => number): number {
  const x = sampleGamma(a, rand);
  const y = sampleGamma(a, rand);
  return x / (x + y);
}
