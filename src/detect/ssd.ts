/**
 * SSD (SSDLite) anchors, box coding, matching, post-processing and the multibox loss as the official
 * CVNets code defines them (v0.1 `misc/anchor_generator.py` / `misc/box_utils.py` / `SingleShotDetector.predict`,
 * v0.2 `anchor_generator/ssd_anchor_generator.py` / `SSDMatcher` / `postprocess_detections`).
 *
 * Layouts (what the in-graph head must produce):
 * - anchors [N, 4] (cx, cy, w, h) normalised to [0, 1]; N runs level-major, then row y, then column x,
 *   then anchor slot (slot order per cell: s_min square, s_max square, then per aspect ratio r the wide
 *   (s·√r, s/√r) and the tall (s/√r, s·√r) box);
 * - cls_logits [B, N, C] with class 0 = background; box_regressions [B, N, 4] as (tx, ty, tw, th).
 */
import { HybridVisionError } from '../tensor.js';
import { argsortDesc, boxIou, cxcywhToXyxy, gatherBoxes, xyxyToCxcywh } from './boxes.js';
import { batchedNms, nms } from './nms.js';

const f = Math.fround;

export interface SsdAnchorConfig {
  /** Per level; -1 is the global (1×1) level. Default [16, 32, 64, 128, 256, -1]. */
  outputStrides: number[];
  /** Extra aspect ratios per level (each adds a wide and a tall box). Default [[2,3]]×5 + [[2]]. */
  aspectRatios: number[][];
  minScaleRatio: number;
  maxScaleRatio: number;
  /** Clamp all four numbers to [0, 1] (official: yes). */
  clip: boolean;
}

export const SSD_ANCHOR_DEFAULTS: SsdAnchorConfig = {
  outputStrides: [16, 32, 64, 128, 256, -1],
  aspectRatios: [[2, 3], [2, 3], [2, 3], [2, 3], [2, 3], [2]],
  minScaleRatio: 0.1,
  maxScaleRatio: 1.05,
  clip: true,
};

export function ssdAnchorsPerLocation(cfg: SsdAnchorConfig = SSD_ANCHOR_DEFAULTS): number[] {
  return cfg.aspectRatios.map((r) => 2 + 2 * r.length);
}

/**
 * The feature-map sizes of the SSD levels for an H×W input: every stride-2 step is ceil(x/2); the
 * global level is 1×1. `roundOddToEven` reproduces the MobileViT v2 block (v0.2 backbones), which
 * turns an odd map at output stride 8, 16 and 32 into the next even size.
 */
export function ssdGridSizes(height: number, width: number, opts: { outputStrides?: number[]; roundOddToEven?: boolean } = {}): [number, number][] {
  const strides = opts.outputStrides ?? SSD_ANCHOR_DEFAULTS.outputStrides;
  const out: [number, number][] = [];
  let h = height;
  let w = width;
  let os = 1;
  const sizeAt = new Map<number, [number, number]>();
  while (os < Math.max(...strides)) {
    h = Math.ceil(h / 2);
    w = Math.ceil(w / 2);
    os *= 2;
    if (opts.roundOddToEven && os >= 8 && os <= 32) {
      h += h % 2;
      w += w % 2;
    }
    sizeAt.set(os, [h, w]);
  }
  for (const s of strides) out.push(s === -1 ? [1, 1] : sizeAt.get(s) ?? (() => { throw new HybridVisionError(`SSD output stride ${s} is not a power of two`); })());
  return out;
}

/** numpy linspace (float64). */
function linspace(a: number, b: number, n: number): number[] {
  const step = (b - a) / (n - 1);
  const o = Array.from({ length: n }, (_, i) => i * step + a);
  o[n - 1] = b;
  return o;
}

/** The official SSD prior boxes [N, 4] (cx, cy, w, h) for the levels' actual feature-map sizes. */
export function ssdAnchors(gridSizes: readonly (readonly [number, number])[], cfg: SsdAnchorConfig = SSD_ANCHOR_DEFAULTS): Float32Array {
  if (gridSizes.length !== cfg.aspectRatios.length) throw new HybridVisionError(`SSD anchors: ${gridSizes.length} feature maps for ${cfg.aspectRatios.length} levels`);
  const scales = linspace(cfg.minScaleRatio, cfg.maxScaleRatio, gridSizes.length + 1);
  const out: number[] = [];
  gridSizes.forEach(([h, w], l) => {
    const sMin = scales[l];
    const sMax = Math.sqrt(scales[l] * scales[l + 1]);
    const ratios = [...new Set(cfg.aspectRatios[l])];
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const cx = (x + 0.5) / w;
        const cy = (y + 0.5) / h;
        out.push(cx, cy, sMin, sMin, cx, cy, sMax, sMax);
        for (const r of ratios) {
          const q = Math.sqrt(r);
          out.push(cx, cy, sMin * q, sMin / q, cx, cy, sMin / q, sMin * q);
        }
      }
  });
  const a = Float32Array.from(out);
  if (cfg.clip) for (let i = 0; i < a.length; i++) a[i] = Math.min(Math.max(a[i], 0), 1);
  return a;
}

export interface SsdVariances {
  center: number;
  size: number;
}
export const SSD_VARIANCES: SsdVariances = { center: 0.1, size: 0.2 };

/** Official decode: regressions [N,4] (per image) + anchors [N,4] cxcywh → boxes [N,4] xyxy, normalised, not clipped. */
export function ssdDecode(reg: Float32Array, anchors: Float32Array, v: SsdVariances = SSD_VARIANCES): Float32Array {
  if (reg.length !== anchors.length) throw new HybridVisionError(`SSD decode: ${reg.length / 4} regressions for ${anchors.length / 4} anchors`);
  const cv = f(v.center);
  const sv = f(v.size);
  const c = new Float32Array(reg.length);
  for (let i = 0; i < reg.length; i += 4) {
    c[i] = f(f(f(reg[i] * cv) * anchors[i + 2]) + anchors[i]);
    c[i + 1] = f(f(f(reg[i + 1] * cv) * anchors[i + 3]) + anchors[i + 1]);
    c[i + 2] = f(f(Math.exp(f(reg[i + 2] * sv))) * anchors[i + 2]);
    c[i + 3] = f(f(Math.exp(f(reg[i + 3] * sv))) * anchors[i + 3]);
  }
  return cxcywhToXyxy(c);
}

/** Official encode of matched boxes (cxcywh) against anchors (cxcywh): ((g−a)/a_wh/cv, log(g_wh/a_wh)/sv). */
export function ssdEncode(boxesCxcywh: Float32Array, anchors: Float32Array, v: SsdVariances = SSD_VARIANCES): Float32Array {
  const o = new Float32Array(boxesCxcywh.length);
  const cv = f(v.center);
  const sv = f(v.size);
  for (let i = 0; i < o.length; i += 4) {
    o[i] = f(f(f(boxesCxcywh[i] - anchors[i]) / anchors[i + 2]) / cv);
    o[i + 1] = f(f(f(boxesCxcywh[i + 1] - anchors[i + 1]) / anchors[i + 3]) / cv);
    o[i + 2] = f(f(Math.log(f(boxesCxcywh[i + 2] / anchors[i + 2]))) / sv);
    o[i + 3] = f(f(Math.log(f(boxesCxcywh[i + 3] / anchors[i + 3]))) / sv);
  }
  return o;
}

export interface SsdMatch {
  /** [N] class per anchor, 0 = background. */
  labels: Int32Array;
  /** [N, 4] encoded target of the matched gt (also for background anchors). */
  locations: Float32Array;
  /** [N] index of the matched gt (-1 for an image without objects). */
  gtIndex: Int32Array;
}

/**
 * The official SSD matcher (`assign_priors` + encode): IoU with +1e-5 in the denominator; every anchor
 * takes its best gt; then each gt in order takes over its best anchor (IoU set to 2, a later gt wins a
 * shared anchor); label = gt label where IoU ≥ threshold, else 0. gtBoxes are normalised xyxy.
 * An image without objects is matched against one zero box (labels 0, w/h targets −inf), as upstream.
 */
export function ssdMatch(gtBoxes: Float32Array, gtLabels: ArrayLike<number>, anchors: Float32Array, iouThreshold = 0.5, v: SsdVariances = SSD_VARIANCES): SsdMatch {
  const N = anchors.length / 4;
  const empty = gtLabels.length === 0;
  const gb = empty ? new Float32Array(4) : gtBoxes;
  const gl = empty ? [0] : gtLabels;
  const G = gl.length;
  const corner = cxcywhToXyxy(anchors);
  const iou = boxIou(gb, corner, 1e-5); // [G, N]
  const best = new Float32Array(N);
  const bestIdx = new Int32Array(N);
  for (let n = 0; n < N; n++) {
    let m = -Infinity;
    let mi = 0;
    for (let g = 0; g < G; g++) if (iou[g * N + n] > m) (m = iou[g * N + n]), (mi = g);
    best[n] = m;
    bestIdx[n] = mi;
  }
  const bestPrior = new Int32Array(G);
  for (let g = 0; g < G; g++) {
    let m = -Infinity;
    for (let n = 0; n < N; n++) if (iou[g * N + n] > m) (m = iou[g * N + n]), (bestPrior[g] = n);
  }
  for (let g = 0; g < G; g++) bestIdx[bestPrior[g]] = g;
  for (let g = 0; g < G; g++) best[bestPrior[g]] = 2;
  const labels = new Int32Array(N);
  for (let n = 0; n < N; n++) labels[n] = best[n] < f(iouThreshold) ? 0 : gl[bestIdx[n]];
  const matched = xyxyToCxcywh(gatherBoxes(gb, bestIdx));
  const locations = ssdEncode(matched, anchors, v);
  return { labels, locations, gtIndex: empty ? new Int32Array(N).fill(-1) : bestIdx };
}

/**
 * Hard-negative mining (per image): positives = label > 0, plus the 3·#positives non-positive anchors
 * with the largest background loss (−log softmax[0]). Returns the 0/1 mask of anchors the CE counts.
 */
export function hardNegativeMask(bgLoss: ArrayLike<number>, labels: ArrayLike<number>, negPosRatio = 3): Uint8Array {
  const N = labels.length;
  const mask = new Uint8Array(N);
  const cand: number[] = [];
  let pos = 0;
  for (let n = 0; n < N; n++) {
    if (labels[n] > 0) (mask[n] = 1), pos++;
    else cand.push(n);
  }
  const numNeg = Math.min(pos * negPosRatio, cand.length);
  const order = argsortDesc(bgLoss, cand);
  for (let k = 0; k < numNeg; k++) mask[order[k]] = 1;
  return mask;
}

/** −log_softmax(x)[c] for one row of logits (float64 accumulation). */
export function negLogSoftmaxAt(logits: ArrayLike<number>, offset: number, C: number, c: number): number {
  let m = -Infinity;
  for (let k = 0; k < C; k++) m = Math.max(m, logits[offset + k]);
  let s = 0;
  for (let k = 0; k < C; k++) s += Math.exp(logits[offset + k] - m);
  return Math.log(s) + m - logits[offset + c];
}

export interface SsdLossParts {
  loss: number;
  smoothL1Sum: number;
  ceSum: number;
  numPos: number;
  masks: Uint8Array[];
}

/**
 * The SSD multibox loss on the host (a reference for the in-graph loss): (Σ smooth-L1(β=1) over
 * positives + Σ CE over positives and mined negatives) / #positives in the batch (v0.2 guards with
 * max(1, N); v0.1 has no guard and gives NaN for a batch without objects).
 */
export function ssdMultiboxLoss(clsLogits: Float32Array, boxReg: Float32Array, matches: SsdMatch[], C: number, opts: { negPosRatio?: number; guardEmpty?: boolean } = {}): SsdLossParts {
  const B = matches.length;
  const N = matches[0]?.labels.length ?? 0;
  let l1 = 0;
  let ce = 0;
  let numPos = 0;
  const masks: Uint8Array[] = [];
  for (let b = 0; b < B; b++) {
    const { labels, locations } = matches[b];
    const bg = new Float64Array(N);
    for (let n = 0; n < N; n++) bg[n] = negLogSoftmaxAt(clsLogits, (b * N + n) * C, C, 0);
    const mask = hardNegativeMask(bg, labels, opts.negPosRatio ?? 3);
    masks.push(mask);
    for (let n = 0; n < N; n++) {
      if (mask[n]) ce += negLogSoftmaxAt(clsLogits, (b * N + n) * C, C, labels[n]);
      if (labels[n] > 0) {
        numPos++;
        for (let k = 0; k < 4; k++) {
          const d = Math.abs(boxReg[(b * N + n) * 4 + k] - locations[n * 4 + k]);
          l1 += d < 1 ? 0.5 * d * d : d - 0.5;
        }
      }
    }
  }
  const denom = opts.guardEmpty ? Math.max(1, numPos) : numPos;
  return { loss: (l1 + ce) / denom, smoothL1Sum: l1, ceSum: ce, numPos, masks };
}

export interface SsdPostprocessOptions {
  /** Keep class scores strictly above this. v0.1: 0.05; v0.2: 0.01. */
  confThreshold: number;
  nmsIouThreshold: number;
  /** Per class, the best top-k before NMS (v0.2: 400); null = none (v0.1). */
  topKBeforeNms: number | null;
  /** Per class, the first k after NMS (v0.1: 200); null = none (v0.2). */
  topKAfterNms: number | null;
  /** Per image cap after NMS (v0.2: 200); null = none (v0.1). */
  maxDetections: number | null;
  /** 'per-class': NMS per class, output in class order (v0.1). 'batched': batched_nms, output by score (v0.2). */
  mode: 'per-class' | 'batched';
  variances: SsdVariances;
}

/** cvnets v0.1 `SingleShotDetector.predict` with the thresholds as resolved by the official configs. */
export const SSD_POSTPROCESS_V1: SsdPostprocessOptions = { confThreshold: 0.05, nmsIouThreshold: 0.5, topKBeforeNms: null, topKAfterNms: 200, maxDetections: null, mode: 'per-class', variances: SSD_VARIANCES };
/** cvnets v0.2 `SingleShotMaskDetector.postprocess_detections` defaults. */
export const SSD_POSTPROCESS_V2: SsdPostprocessOptions = { confThreshold: 0.01, nmsIouThreshold: 0.5, topKBeforeNms: 400, topKAfterNms: null, maxDetections: 200, mode: 'batched', variances: SSD_VARIANCES };

export interface Detections {
  /** [K, 4] x1, y1, x2, y2 (SSD: normalised; RetinaNet: pixels). */
  boxes: Float32Array;
  scores: Float32Array;
  labels: Int32Array;
  /** The anchor each detection decodes. */
  anchorIndex: Int32Array;
}

/** Float32 softmax of one row, as torch computes it (max-shifted, sum, divide). */
export function softmaxRow(x: ArrayLike<number>, offset: number, C: number, out: Float32Array): void {
  let m = -Infinity;
  for (let k = 0; k < C; k++) m = Math.max(m, x[offset + k]);
  let s = 0;
  for (let k = 0; k < C; k++) {
    const e = Math.exp(x[offset + k] - m);
    out[k] = e;
    s += e;
  }
  for (let k = 0; k < C; k++) out[k] = f(out[k] / s);
}

/** SSD post-processing of one image: cls_logits [N, C] (class 0 background), box_regressions [N, 4], anchors [N, 4] cxcywh. */
export function ssdPostprocess(clsLogits: Float32Array, boxReg: Float32Array, anchors: Float32Array, numClasses: number, opts: SsdPostprocessOptions = SSD_POSTPROCESS_V2): Detections {
  const N = anchors.length / 4;
  const C = numClasses;
  if (clsLogits.length !== N * C || boxReg.length !== N * 4) throw new HybridVisionError(`SSD post-processing: expected cls_logits [${N}, ${C}] and box_regressions [${N}, 4]`);
  const boxes = ssdDecode(boxReg, anchors, opts.variances);
  const probs = new Float32Array(N * C);
  const row = new Float32Array(C);
  for (let n = 0; n < N; n++) {
    softmaxRow(clsLogits, n * C, C, row);
    probs.set(row, n * C);
  }
  const outIdx: number[] = [];
  const outLab: number[] = [];
  const outSc: number[] = [];
  const candIdx: number[] = [];
  const candLab: number[] = [];
  const candSc: number[] = [];
  const thr = f(opts.confThreshold); // torch compares a float32 tensor with the threshold cast to float32
  for (let c = 1; c < C; c++) {
    let idx: number[] = [];
    for (let n = 0; n < N; n++) if (probs[n * C + c] > thr) idx.push(n);
    if (idx.length === 0) continue;
    const sc = (n: number) => probs[n * C + c];
    if (opts.topKBeforeNms !== null && idx.length > opts.topKBeforeNms) {
      const s = idx.map(sc);
      idx = argsortDesc(s).slice(0, opts.topKBeforeNms).map((k) => idx[k]);
    }
    if (opts.mode === 'batched') {
      for (const n of idx) candIdx.push(n), candLab.push(c), candSc.push(sc(n));
      continue;
    }
    let keep = nms(gatherBoxes(boxes, idx), idx.map(sc), opts.nmsIouThreshold);
    if (opts.topKAfterNms !== null) keep = keep.slice(0, opts.topKAfterNms);
    for (const k of keep) outIdx.push(idx[k]), outLab.push(c), outSc.push(sc(idx[k]));
  }
  if (opts.mode === 'batched') {
    let keep = batchedNms(gatherBoxes(boxes, candIdx), candSc, candLab, opts.nmsIouThreshold);
    if (opts.maxDetections !== null) keep = keep.slice(0, opts.maxDetections);
    for (const k of keep) outIdx.push(candIdx[k]), outLab.push(candLab[k]), outSc.push(candSc[k]);
  }
  // A per-image cap on per-class output (not an official setting) keeps the best scores, in score order.
  const order = opts.mode === 'per-class' && opts.maxDetections !== null && outIdx.length > opts.maxDetections ? argsortDesc(outSc).slice(0, opts.maxDetections) : outIdx.map((_, k) => k);
  const pick = order.map((k) => outIdx[k]);
  return { boxes: gatherBoxes(boxes, pick), scores: Float32Array.from(order, (k) => outSc[k]), labels: Int32Array.from(order, (k) => outLab[k]), anchorIndex: Int32Array.from(pick) };
}

/** The official evaluator's pixel conversion: x·W, y·H, clipped to [0, W] / [0, H]. */
export function toPixelBoxes(boxes: Float32Array, height: number, width: number): Float32Array {
  const o = new Float32Array(boxes.length);
  for (let i = 0; i < boxes.length; i += 4) {
    o[i] = Math.min(Math.max(f(boxes[i] * width), 0), width);
    o[i + 1] = Math.min(Math.max(f(boxes[i + 1] * height), 0), height);
    o[i + 2] = Math.min(Math.max(f(boxes[i + 2] * width), 0), width);
    o[i + 3] = Math.min(Math.max(f(boxes[i + 3] * height), 0), height);
  }
  return o;
}
