/**
 * RetinaNet anchors, box coder, matcher, post-processing and loss pieces exactly as torchvision 0.14
 * (`AnchorGenerator`, `BoxCoder(weights=(1,1,1,1))`, `Matcher(0.5, 0.4, allow_low_quality_matches=True)`,
 * `RetinaNet.postprocess_detections`). All arithmetic is float32 as in torch.
 *
 * Layouts (what the in-graph head must produce):
 * - anchors [A, 4] x1, y1, x2, y2 in pixels of the padded batch; rows level-major (P3..P7), then row y,
 *   then column x, then anchor a = ratio_index·3 + scale_index (ratios 0.5, 1, 2 as h/w);
 * - cls_logits [B, A, C] (sigmoid, no background class), bbox_regression [B, A, 4] (dx, dy, dw, dh).
 */
import { HybridVisionError } from '../tensor.js';
import { argsortDesc, boxIou, clipBoxes, gatherBoxes } from './boxes.js';
import { batchedNms } from './nms.js';
import type { Detections } from './ssd.js';

const f = Math.fround;

/** torchvision's RetinaNet sizes: (x, int(x·2^(1/3)), int(x·2^(2/3))) for x = 32 … 512. */
export const RETINA_ANCHOR_SIZES: number[][] = [32, 64, 128, 256, 512].map((x) => [x, Math.trunc(x * 2 ** (1.0 / 3)), Math.trunc(x * 2 ** (2.0 / 3))]);
export const RETINA_ASPECT_RATIOS = [0.5, 1.0, 2.0];

/** round half to even (torch.round). */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The cell anchors of one level [S·R, 4]: round([−ws, −hs, ws, hs] / 2), ratio-major, float32. */
export function retinaCellAnchors(sizes: readonly number[], ratios: readonly number[] = RETINA_ASPECT_RATIOS): Float32Array {
  const out = new Float32Array(sizes.length * ratios.length * 4);
  let k = 0;
  for (const r of ratios) {
    const hr = f(Math.sqrt(f(r)));
    const wr = f(1 / hr);
    for (const s of sizes) {
      const ws = f(wr * f(s));
      const hs = f(hr * f(s));
      out[k++] = roundHalfEven(f(-ws / 2));
      out[k++] = roundHalfEven(f(-hs / 2));
      out[k++] = roundHalfEven(f(ws / 2));
      out[k++] = roundHalfEven(f(hs / 2));
    }
  }
  return out;
}

/** The padded batch size: each dimension rounded up to a multiple of `divisible` (32). */
export function paddedBatchSize(sizes: readonly (readonly [number, number])[], divisible = 32): [number, number] {
  const h = Math.max(...sizes.map((s) => s[0]));
  const w = Math.max(...sizes.map((s) => s[1]));
  return [Math.ceil(h / divisible) * divisible, Math.ceil(w / divisible) * divisible];
}

/** P3…P7 grid sizes for a padded batch (stride-2 convs with padding 1 give ceil(x/2) for P6, P7). */
export function retinaGridSizes(paddedH: number, paddedW: number): [number, number][] {
  const out: [number, number][] = [];
  let h = Math.ceil(paddedH / 8);
  let w = Math.ceil(paddedW / 8);
  for (let l = 0; l < 5; l++) {
    out.push([h, w]);
    h = Math.ceil(h / 2);
    w = Math.ceil(w / 2);
  }
  return out;
}

/**
 * torchvision AnchorGenerator: per level, stride = padded size // grid size (integer division, not 2^l),
 * shifts j·stride_x, i·stride_y (cell top-left, no half-stride), anchor = shift + cell anchor.
 */
export function retinaAnchors(paddedH: number, paddedW: number, gridSizes: readonly (readonly [number, number])[] = retinaGridSizes(paddedH, paddedW), sizes: readonly (readonly number[])[] = RETINA_ANCHOR_SIZES, ratios: readonly number[] = RETINA_ASPECT_RATIOS): Float32Array {
  if (gridSizes.length !== sizes.length) throw new HybridVisionError(`RetinaNet anchors: ${gridSizes.length} feature maps for ${sizes.length} anchor size sets`);
  const parts: Float32Array[] = [];
  gridSizes.forEach(([gh, gw], l) => {
    const cell = retinaCellAnchors(sizes[l], ratios);
    const A = cell.length / 4;
    const sy = Math.floor(paddedH / gh);
    const sx = Math.floor(paddedW / gw);
    const o = new Float32Array(gh * gw * A * 4);
    let k = 0;
    for (let y = 0; y < gh; y++)
      for (let x = 0; x < gw; x++)
        for (let a = 0; a < A; a++) {
          o[k++] = x * sx + cell[4 * a];
          o[k++] = y * sy + cell[4 * a + 1];
          o[k++] = x * sx + cell[4 * a + 2];
          o[k++] = y * sy + cell[4 * a + 3];
        }
    parts.push(o);
  });
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) out.set(p, off), (off += p.length);
  return out;
}

export const BBOX_XFORM_CLIP = Math.log(1000 / 16);

export interface BoxCoderWeights {
  wx: number;
  wy: number;
  ww: number;
  wh: number;
}
export const RETINA_BOX_WEIGHTS: BoxCoderWeights = { wx: 1, wy: 1, ww: 1, wh: 1 };

/** BoxCoder.decode_single: deltas [n,4] against anchors [n,4] (xyxy) → boxes xyxy, dw/dh clamped from above. */
export function retinaDecode(deltas: Float32Array, anchors: Float32Array, w: BoxCoderWeights = RETINA_BOX_WEIGHTS, clip = BBOX_XFORM_CLIP): Float32Array {
  const o = new Float32Array(deltas.length);
  const fclip = f(clip);
  for (let i = 0; i < deltas.length; i += 4) {
    const aw = f(anchors[i + 2] - anchors[i]);
    const ah = f(anchors[i + 3] - anchors[i + 1]);
    const cx = f(anchors[i] + f(0.5 * aw));
    const cy = f(anchors[i + 1] + f(0.5 * ah));
    const dx = f(deltas[i] / w.wx);
    const dy = f(deltas[i + 1] / w.wy);
    const dw = Math.min(f(deltas[i + 2] / w.ww), fclip);
    const dh = Math.min(f(deltas[i + 3] / w.wh), fclip);
    const pcx = f(f(dx * aw) + cx);
    const pcy = f(f(dy * ah) + cy);
    const pw = f(f(Math.exp(dw)) * aw);
    const ph = f(f(Math.exp(dh)) * ah);
    const hw = f(0.5 * pw);
    const hh = f(0.5 * ph);
    o[i] = f(pcx - hw);
    o[i + 1] = f(pcy - hh);
    o[i + 2] = f(pcx + hw);
    o[i + 3] = f(pcy + hh);
  }
  return o;
}

/** BoxCoder.encode_single: targets of gt boxes [n,4] against anchors [n,4], both xyxy. */
export function retinaEncode(gt: Float32Array, anchors: Float32Array, w: BoxCoderWeights = RETINA_BOX_WEIGHTS): Float32Array {
  const o = new Float32Array(gt.length);
  for (let i = 0; i < gt.length; i += 4) {
    const aw = f(anchors[i + 2] - anchors[i]);
    const ah = f(anchors[i + 3] - anchors[i + 1]);
    const acx = f(anchors[i] + f(0.5 * aw));
    const acy = f(anchors[i + 1] + f(0.5 * ah));
    const gw = f(gt[i + 2] - gt[i]);
    const gh = f(gt[i + 3] - gt[i + 1]);
    const gcx = f(gt[i] + f(0.5 * gw));
    const gcy = f(gt[i + 1] + f(0.5 * gh));
    o[i] = f(f(w.wx * f(gcx - acx)) / aw);
    o[i + 1] = f(f(w.wy * f(gcy - acy)) / ah);
    o[i + 2] = f(w.ww * f(Math.log(f(gw / aw))));
    o[i + 3] = f(w.wh * f(Math.log(f(gh / ah))));
  }
  return o;
}

export const BELOW_LOW_THRESHOLD = -1;
export const BETWEEN_THRESHOLDS = -2;

/**
 * torchvision Matcher on box_iou(gt, anchors): per anchor the best gt (first on ties); < low → −1,
 * [low, high) → −2; with low-quality matches, every anchor whose IoU equals a gt's maximum (exact,
 * ties included) gets back its own best gt. No gt → all −1 (RetinaNet.compute_loss).
 */
export function retinaMatch(gtBoxes: Float32Array, anchors: Float32Array, high = 0.5, low = 0.4, allowLowQuality = true): Int32Array {
  const A = anchors.length / 4;
  const G = gtBoxes.length / 4;
  const out = new Int32Array(A).fill(BELOW_LOW_THRESHOLD);
  if (G === 0) return out;
  const iou = boxIou(gtBoxes, anchors); // [G, A]
  const lo = f(low); // float32 tensor vs threshold: torch casts the threshold to float32
  const hi = f(high);
  const all = new Int32Array(A);
  for (let a = 0; a < A; a++) {
    let m = -Infinity;
    let mi = 0;
    for (let g = 0; g < G; g++) if (iou[g * A + a] > m) (m = iou[g * A + a]), (mi = g);
    all[a] = mi;
    out[a] = m < lo ? BELOW_LOW_THRESHOLD : m < hi ? BETWEEN_THRESHOLDS : mi;
  }
  if (allowLowQuality)
    for (let g = 0; g < G; g++) {
      let m = -Infinity;
      for (let a = 0; a < A; a++) m = Math.max(m, iou[g * A + a]);
      for (let a = 0; a < A; a++) if (iou[g * A + a] === m) out[a] = all[a];
    }
  return out;
}

/**
 * The RetinaNet box loss of one image (torchvision 0.14: L1): Σ |regression − encode(matched gt, anchor)|
 * over foreground anchors / max(1, #foreground). The batch loss divides the sum over images by max(1, B).
 */
export function retinaBoxLossL1(bboxRegression: Float32Array, matched: Int32Array, gtBoxes: Float32Array, anchors: Float32Array): { loss: number; numForeground: number } {
  const fg: number[] = [];
  for (let a = 0; a < matched.length; a++) if (matched[a] >= 0) fg.push(a);
  if (fg.length === 0) return { loss: 0, numForeground: 0 };
  const target = retinaEncode(gatherBoxes(gtBoxes, fg.map((a) => matched[a])), gatherBoxes(anchors, fg));
  let s = 0;
  fg.forEach((a, i) => {
    for (let k = 0; k < 4; k++) s += Math.abs(bboxRegression[4 * a + k] - target[4 * i + k]);
  });
  return { loss: s / Math.max(1, fg.length), numForeground: fg.length };
}

/**
 * The sigmoid focal loss of one image (α 0.25, γ 2, summed over the classes of anchors with
 * matched ≠ −2, divided by max(1, #foreground)); t is one-hot at the matched gt's label.
 */
export function retinaFocalLoss(clsLogits: Float32Array, matched: Int32Array, gtLabels: ArrayLike<number>, C: number, alpha = 0.25, gamma = 2): number {
  let s = 0;
  let fg = 0;
  for (let a = 0; a < matched.length; a++) {
    const m = matched[a];
    if (m === BETWEEN_THRESHOLDS) continue;
    if (m >= 0) fg++;
    for (let c = 0; c < C; c++) {
      const x = clsLogits[a * C + c];
      const t = m >= 0 && gtLabels[m] === c ? 1 : 0;
      const p = 1 / (1 + Math.exp(-x));
      const ce = Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));
      const pt = p * t + (1 - p) * (1 - t);
      s += ce * (1 - pt) ** gamma * (alpha * t + (1 - alpha) * (1 - t));
    }
  }
  return s / Math.max(1, fg);
}

export interface RetinaPostprocessOptions {
  scoreThreshold: number;
  topkCandidates: number;
  nmsThreshold: number;
  detectionsPerImage: number;
}
export const RETINA_POSTPROCESS_DEFAULTS: RetinaPostprocessOptions = { scoreThreshold: 0.05, topkCandidates: 1000, nmsThreshold: 0.5, detectionsPerImage: 300 };

export interface RetinaCandidates extends Detections {
  /** Candidates per level (before NMS). */
  perLevel: number[];
}

/**
 * RetinaNet.postprocess_detections for one image. clsLogits [A, C] and bboxRegression [A, 4] of this
 * image, anchors [A, 4], anchorsPerLevel (grid h·w·9 per level), imageSize the unpadded (H, W).
 * Returns the final detections and the pre-NMS candidates (`pre_nms` in the golden files) with the
 * `nms_keep` indices into them.
 */
export function retinaPostprocess(clsLogits: Float32Array, bboxRegression: Float32Array, anchors: Float32Array, anchorsPerLevel: readonly number[], imageSize: readonly [number, number], numClasses: number, opts: RetinaPostprocessOptions = RETINA_POSTPROCESS_DEFAULTS): { detections: Detections; candidates: RetinaCandidates; nmsKeep: number[] } {
  const C = numClasses;
  const A = anchors.length / 4;
  if (clsLogits.length !== A * C || bboxRegression.length !== A * 4) throw new HybridVisionError(`RetinaNet post-processing: expected cls_logits [${A}, ${C}] and bbox_regression [${A}, 4]`);
  if (anchorsPerLevel.reduce((s, x) => s + x, 0) !== A) throw new HybridVisionError(`RetinaNet post-processing: the per-level anchor counts do not add up to ${A}`);
  const boxes: Float32Array[] = [];
  const scores: number[] = [];
  const labels: number[] = [];
  const anchorIdx: number[] = [];
  const perLevel: number[] = [];
  const thr = f(opts.scoreThreshold); // torch compares a float32 tensor with the threshold cast to float32
  let start = 0;
  for (const count of anchorsPerLevel) {
    const flat: number[] = [];
    const sc: number[] = [];
    for (let i = start * C; i < (start + count) * C; i++) {
      const s = f(1 / (1 + Math.exp(-clsLogits[i])));
      if (s > thr) flat.push(i - start * C), sc.push(s);
    }
    const order = argsortDesc(sc).slice(0, Math.min(opts.topkCandidates, sc.length));
    const idx = order.map((k) => start + Math.floor(flat[k] / C));
    const dec = retinaDecode(gatherBoxes(bboxRegression, idx), gatherBoxes(anchors, idx));
    clipBoxes(dec, imageSize[0], imageSize[1]);
    boxes.push(dec);
    for (const k of order) scores.push(sc[k]), labels.push(flat[k] % C);
    anchorIdx.push(...idx);
    perLevel.push(order.length);
    start += count;
  }
  const all = new Float32Array(scores.length * 4);
  let off = 0;
  for (const b of boxes) all.set(b, off), (off += b.length);
  const cand: RetinaCandidates = { boxes: all, scores: Float32Array.from(scores), labels: Int32Array.from(labels), anchorIndex: Int32Array.from(anchorIdx), perLevel };
  const nmsKeep = batchedNms(all, cand.scores, cand.labels, opts.nmsThreshold);
  const keep = nmsKeep.slice(0, opts.detectionsPerImage);
  return {
    detections: { boxes: gatherBoxes(all, keep), scores: Float32Array.from(keep, (k) => cand.scores[k]), labels: Int32Array.from(keep, (k) => cand.labels[k]), anchorIndex: Int32Array.from(keep, (k) => cand.anchorIndex[k]) },
    candidates: cand,
    nmsKeep,
  };
}
