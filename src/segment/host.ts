/**
 * Segmentation helpers on the host (Float32Arrays, NCHW): bilinear resize as PyTorch's
 * F.interpolate (align_corners True or False), the class map, the v0.2 training loss as a reference
 * for the in-graph loss, and the Transformers.js image-segmentation result shape.
 */
import { HybridVisionError } from '../tensor.js';

/** F.interpolate(x, size=(H, W), mode='bilinear', align_corners) on [N, C, h, w]. */
export function resizeBilinear(x: Float32Array, n: number, c: number, h: number, w: number, H: number, W: number, alignCorners: boolean): Float32Array {
  if (x.length !== n * c * h * w) throw new HybridVisionError(`resizeBilinear: ${x.length} values for [${n}, ${c}, ${h}, ${w}]`);
  const out = new Float32Array(n * c * H * W);
  const src = (o: number, i: number, inSize: number) => {
    if (alignCorners) return o > 1 ? (i * (inSize - 1)) / (o - 1) : 0;
    return Math.max(0, ((i + 0.5) * inSize) / o - 0.5);
  };
  const ys = Array.from({ length: H }, (_, i) => src(H, i, h));
  const xs = Array.from({ length: W }, (_, j) => src(W, j, w));
  for (let p = 0; p < n * c; p++) {
    const base = p * h * w;
    for (let i = 0; i < H; i++) {
      const y0 = Math.min(Math.floor(ys[i]), h - 1);
      const y1 = Math.min(y0 + 1, h - 1);
      const ly = ys[i] - y0;
      for (let j = 0; j < W; j++) {
        const x0 = Math.min(Math.floor(xs[j]), w - 1);
        const x1 = Math.min(x0 + 1, w - 1);
        const lx = xs[j] - x0;
        const top = (1 - lx) * x[base + y0 * w + x0] + lx * x[base + y0 * w + x1];
        const bot = (1 - lx) * x[base + y1 * w + x0] + lx * x[base + y1 * w + x1];
        out[(p * H + i) * W + j] = (1 - ly) * top + ly * bot;
      }
    }
  }
  return out;
}

/** Per pixel the arg-max class of [N, C, H, W] logits → [N, H, W] (first on ties, as torch.argmax). */
export function classMap(logits: Float32Array, n: number, c: number, h: number, w: number): Uint8Array | Uint16Array {
  const out = c <= 256 ? new Uint8Array(n * h * w) : new Uint16Array(n * h * w);
  const hw = h * w;
  for (let b = 0; b < n; b++)
    for (let p = 0; p < hw; p++) {
      let best = 0;
      let bv = logits[b * c * hw + p];
      for (let k = 1; k < c; k++) {
        const v = logits[(b * c + k) * hw + p];
        if (v > bv) (bv = v), (best = k);
      }
      out[b * hw + p] = best;
    }
  return out;
}

/** Cross-entropy over [N, C, H, W] logits and [N, H, W] labels, mean over pixels whose label ≠ ignoreIndex. */
export function segCrossEntropy(logits: Float32Array, labels: ArrayLike<number>, n: number, c: number, h: number, w: number, ignoreIndex = 255): number {
  const hw = h * w;
  let s = 0;
  let cnt = 0;
  for (let b = 0; b < n; b++)
    for (let p = 0; p < hw; p++) {
      const l = labels[b * hw + p];
      if (l === ignoreIndex) continue;
      if (!(l >= 0 && l < c)) throw new HybridVisionError(`label ${l} at image ${b} pixel ${p} is outside 0..${c - 1} (${ignoreIndex} = ignore)`);
      let m = -Infinity;
      for (let k = 0; k < c; k++) m = Math.max(m, logits[(b * c + k) * hw + p]);
      let z = 0;
      for (let k = 0; k < c; k++) z += Math.exp(logits[(b * c + k) * hw + p] - m);
      s += Math.log(z) + m - logits[(b * c + l) * hw + p];
      cnt++;
    }
  return s / cnt;
}

/**
 * cvnets v0.2 SegCrossEntropy with an aux head: CE(main) + auxWeight·CE(aux resized to the label size,
 * bilinear, align_corners=True). `main` must already be at the label size.
 */
export function segLossWithAux(main: Float32Array, aux: Float32Array, auxHw: [number, number], labels: ArrayLike<number>, n: number, c: number, h: number, w: number, opts: { auxWeight?: number; ignoreIndex?: number } = {}): { loss: number; main: number; aux: number } {
  const ig = opts.ignoreIndex ?? 255;
  const lm = segCrossEntropy(main, labels, n, c, h, w, ig);
  const up = resizeBilinear(aux, n, c, auxHw[0], auxHw[1], h, w, true);
  const la = segCrossEntropy(up, labels, n, c, h, w, ig);
  return { loss: lm + (opts.auxWeight ?? 0.4) * la, main: lm, aux: la };
}

/** Transformers.js image-segmentation results for one class map: one entry per present class, mask 255 where that class is. */
export function toSegmentationObjects(map: ArrayLike<number>, width: number, height: number, classNames: readonly string[]): { label: string; score: null; mask: { width: number; height: number; data: Uint8Array } }[] {
  const present = [...new Set(Array.from(map))].sort((a, b) => a - b);
  return present.map((k) => {
    const data = new Uint8Array(width * height);
    for (let i = 0; i < data.length; i++) if (map[i] === k) data[i] = 255;
    return { label: classNames[k] ?? String(k), score: null, mask: { width, height, data } };
  });
}
