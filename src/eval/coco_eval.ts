/**
 * COCO bbox evaluation with pycocotools' COCOeval semantics (cocoapi@8c9bcc3c): the same parameters,
 * per-image greedy matching, 101-point interpolated precision and the 12 summary numbers, reproduced
 * to the last bit where pycocotools is deterministic. See shared/golden/eval/README.md for the rules.
 */
import { HybridVisionError } from '../tensor.js';

export interface CocoImage {
  id: number;
  width?: number;
  height?: number;
  file_name?: string;
}
export interface CocoCategory {
  id: number;
  name?: string;
  supercategory?: string;
}
export interface CocoAnnotation {
  id: number;
  image_id: number;
  category_id: number;
  /** [x, y, w, h] */
  bbox: number[];
  /** Decides the area range; bbox evaluation uses it, never w·h. */
  area: number;
  iscrowd?: number | boolean;
}
export interface CocoGroundTruth {
  images: CocoImage[];
  annotations: CocoAnnotation[];
  categories: CocoCategory[];
}
export interface CocoDetection {
  image_id: number;
  category_id: number;
  bbox: number[];
  score: number;
}

/** `np.linspace(start, stop, num)` exactly: i·step + start, the last value set to stop. */
export function linspace(start: number, stop: number, num: number): number[] {
  const step = (stop - start) / (num - 1);
  const out = Array.from({ length: num }, (_, i) => i * step + start);
  if (num > 1) out[num - 1] = stop;
  return out;
}

export const STATS_NAMES = ['AP', 'AP50', 'AP75', 'AP_small', 'AP_medium', 'AP_large', 'AR1', 'AR10', 'AR100', 'AR_small', 'AR_medium', 'AR_large'] as const;
export type StatName = (typeof STATS_NAMES)[number];

export interface CocoEvalParams {
  iouThrs: number[];
  recThrs: number[];
  maxDets: number[];
  areaRng: [number, number][];
  areaRngLbl: string[];
}

/** `Params.setDetParams()` for iouType 'bbox'. */
export function defaultCocoParams(): CocoEvalParams {
  return {
    iouThrs: linspace(0.5, 0.95, 10),
    recThrs: linspace(0, 1, 101),
    maxDets: [1, 10, 100],
    areaRng: [
      [0, 1e10],
      [0, 32 * 32],
      [32 * 32, 96 * 96],
      [96 * 96, 1e10],
    ],
    areaRngLbl: ['all', 'small', 'medium', 'large'],
  };
}

export interface CocoEvalResult {
  /** The 12 `COCOeval.stats` numbers, in STATS_NAMES order (-1 = nothing to evaluate). */
  stats: number[];
  /** Category ids in ascending order (the K axis). */
  catIds: number[];
  imgIds: number[];
  /** `eval['precision']` [T, R, K, A, M], row-major. */
  precision: Float64Array;
  /** `eval['recall']` [T, K, A, M], row-major. */
  recall: Float64Array;
  /** `eval['scores']` [T, R, K, A, M]. */
  scores: Float64Array;
  dims: { T: number; R: number; K: number; A: number; M: number };
  /** AP, AP50, AP75 and AR100 per category id (area all, maxDets 100). */
  perCategory: Map<number, { AP: number; AP50: number; AP75: number; AR100: number }>;
  params: CocoEvalParams;
}

interface Gt {
  id: number;
  bbox: number[];
  area: number;
  crowd: boolean;
}
interface Dt {
  id: number;
  bbox: number[];
  area: number;
  score: number;
}

interface ImgEval {
  dtScores: number[];
  /** [T][G] 0/1 after sorting (non-ignored first). */
  gtIgnore: Uint8Array;
  /** [T*D] matched GT id (0 = none) */
  dtMatches: Float64Array;
  dtIgnore: Uint8Array;
  D: number;
}

const fail = (msg: string): never => {
  throw new HybridVisionError(msg);
};

function finiteBox(b: unknown, what: string): number[] {
  if (!Array.isArray(b) || b.length !== 4 || b.some((v) => typeof v !== 'number' || !Number.isFinite(v))) fail(`${what}: bbox must be 4 finite numbers [x, y, w, h], got ${JSON.stringify(b)?.slice(0, 80)}`);
  return b as number[];
}

function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** Checks the fields bbox evaluation reads; throws one-line errors. */
export function validateCocoGroundTruth(gt: unknown): CocoGroundTruth {
  const g = gt as CocoGroundTruth;
  if (!g || typeof g !== 'object' || !Array.isArray(g.images) || !Array.isArray(g.annotations) || !Array.isArray(g.categories)) fail('COCO ground truth needs "images", "annotations" and "categories" lists');
  g.images.forEach((im, i) => isNum(im?.id) || fail(`images[${i}]: "id" must be a number`));
  g.categories.forEach((c, i) => isNum(c?.id) || fail(`categories[${i}]: "id" must be a number`));
  g.annotations.forEach((a, i) => {
    const w = `annotations[${i}]`;
    if (!a || typeof a !== 'object') fail(`${w}: not an object`);
    for (const k of ['id', 'image_id', 'category_id', 'area'] as const) if (!isNum(a[k])) fail(`${w}: "${k}" must be a number`);
    finiteBox(a.bbox, w);
    if (a.bbox[2] < 0 || a.bbox[3] < 0) fail(`${w}: bbox width and height must be >= 0, got ${JSON.stringify(a.bbox)}`);
  });
  return g;
}

export function validateCocoDetections(dt: unknown, gt: CocoGroundTruth): CocoDetection[] {
  if (!Array.isArray(dt)) fail('COCO detections must be a JSON list of {image_id, category_id, bbox, score}');
  const imgs = new Set(gt.images.map((i) => i.id));
  (dt as CocoDetection[]).forEach((d, i) => {
    const w = `detections[${i}]`;
    if (!d || typeof d !== 'object') fail(`${w}: not an object`);
    for (const k of ['image_id', 'category_id', 'score'] as const) if (!isNum(d[k])) fail(`${w}: "${k}" must be a number`);
    finiteBox(d.bbox, w);
    if (!imgs.has(d.image_id)) fail(`${w}: image_id ${d.image_id} is not an image of the ground truth`);
  });
  return dt as CocoDetection[];
}

/** Indices sorting `keys` ascending, stable (numpy mergesort). */
function stableArgsort(keys: ArrayLike<number>): number[] {
  const idx = Array.from({ length: keys.length }, (_, i) => i);
  return idx.sort((a, b) => (keys[a] < keys[b] ? -1 : keys[a] > keys[b] ? 1 : a - b));
}

/** maskApi.c bbIou for one pair: IoU of a detection with a GT box (crowd: over the detection's area). */
export function cocoBoxIou(d: readonly number[], g: readonly number[], crowd: boolean): number {
  const w = Math.min(d[2] + d[0], g[2] + g[0]) - Math.max(d[0], g[0]);
  if (w <= 0) return 0;
  const h = Math.min(d[3] + d[1], g[3] + g[1]) - Math.max(d[1], g[1]);
  if (h <= 0) return 0;
  const i = w * h;
  const da = d[2] * d[3];
  const u = crowd ? da : da + g[2] * g[3] - i;
  return i / u;
}

/** COCOeval.summarize()'s 12 numbers: (AP or AR, IoU threshold or all, area range, maxDets). */
const SUMMARY_ROWS: readonly (readonly [boolean, number | null, string, number])[] = [
  [true, null, 'all', 100],
  [true, 0.5, 'all', 100],
  [true, 0.75, 'all', 100],
  [true, null, 'small', 100],
  [true, null, 'medium', 100],
  [true, null, 'large', 100],
  [false, null, 'all', 1],
  [false, null, 'all', 10],
  [false, null, 'all', 100],
  [false, null, 'small', 100],
  [false, null, 'medium', 100],
  [false, null, 'large', 100],
];

/** `E = COCOeval(gt, gt.loadRes(dt), 'bbox'); E.evaluate(); E.accumulate(); E.summarize()`. */
export function cocoEvaluate(gtIn: CocoGroundTruth, dtIn: CocoDetection[], params: CocoEvalParams = defaultCocoParams()): CocoEvalResult {
  const gtData = validateCocoGroundTruth(gtIn);
  const dets = validateCocoDetections(dtIn, gtData);
  if (dets.length === 0) fail('the detections list is empty (pycocotools cannot load an empty result list)');
  const p = params;
  const imgIds = [...new Set(gtData.images.map((i) => i.id))].sort((a, b) => a - b);
  const catIds = [...new Set(gtData.categories.map((c) => c.id))].sort((a, b) => a - b);
  const catSet = new Set(catIds);
  const maxDetsLast = p.maxDets[p.maxDets.length - 1];

  // createIndex: anns by id (a later duplicate id replaces an earlier one), imgToAnns in file order.
  const key = (img: number, cat: number) => `${img}:${cat}`;
  const gts = new Map<string, Gt[]>();
  const dts = new Map<string, Dt[]>();
  const byId = new Map<number, CocoAnnotation>();
  for (const a of gtData.annotations) byId.set(a.id, a);
  for (const a of gtData.annotations) {
    if (!catSet.has(a.category_id)) continue;
    const ann = byId.get(a.id)!;
    const k = key(ann.image_id, ann.category_id);
    if (!gts.has(k)) gts.set(k, []);
    gts.get(k)!.push({ id: ann.id, bbox: ann.bbox, area: ann.area, crowd: !!ann.iscrowd });
  }
  dets.forEach((d, i) => {
    if (!catSet.has(d.category_id)) return;
    const k = key(d.image_id, d.category_id);
    if (!dts.has(k)) dts.set(k, []);
    dts.get(k)!.push({ id: i + 1, bbox: d.bbox, area: d.bbox[2] * d.bbox[3], score: d.score });
  });

  const T = p.iouThrs.length;
  const R = p.recThrs.length;
  const K = catIds.length;
  const A = p.areaRng.length;
  const M = p.maxDets.length;
  const I = imgIds.length;

  // evaluate(): per category, area range and image (this order), at maxDets[-1].
  const evalImgs: (ImgEval | null)[] = new Array(K * A * I).fill(null);
  for (let k = 0; k < K; k++) {
    for (let ii = 0; ii < I; ii++) {
      const gt = gts.get(key(imgIds[ii], catIds[k])) ?? [];
      const dtAll = dts.get(key(imgIds[ii], catIds[k])) ?? [];
      if (gt.length === 0 && dtAll.length === 0) continue;
      // computeIoU: detections by descending score (stable), cut to maxDets[-1].
      const order = stableArgsort(dtAll.map((d) => -d.score));
      const dt = order.slice(0, maxDetsLast).map((i) => dtAll[i]);
      const G = gt.length;
      const D = dt.length;
      const ious = new Float64Array(D * G);
      for (let d = 0; d < D; d++) for (let g = 0; g < G; g++) ious[d * G + g] = cocoBoxIou(dt[d].bbox, gt[g].bbox, gt[g].crowd);
      for (let a = 0; a < A; a++) {
        const [lo, hi] = p.areaRng[a];
        const ign = gt.map((g) => (g.crowd || g.area < lo || g.area > hi ? 1 : 0));
        const gind = stableArgsort(ign);
        const gs = gind.map((i) => gt[i]);
        const gtIg = Uint8Array.from(gind.map((i) => ign[i]));
        const gtm = new Float64Array(T * G);
        const dtm = new Float64Array(T * D);
        const dtIg = new Uint8Array(T * D);
        if (D > 0 && G > 0) {
          for (let t = 0; t < T; t++) {
            for (let d = 0; d < D; d++) {
              let iou = Math.min(p.iouThrs[t], 1 - 1e-10);
              let m = -1;
              for (let g = 0; g < G; g++) {
                if (gtm[t * G + g] > 0 && !gs[g].crowd) continue;
                if (m > -1 && gtIg[m] === 0 && gtIg[g] === 1) break;
                const v = ious[d * G + gind[g]];
                if (v < iou) continue;
                iou = v;
                m = g;
              }
              if (m === -1) continue;
              dtIg[t * D + d] = gtIg[m];
              dtm[t * D + d] = gs[m].id;
              gtm[t * G + m] = dt[d].id;
            }
          }
        }
        for (let d = 0; d < D; d++) {
          const out = dt[d].area < lo || dt[d].area > hi;
          if (out) for (let t = 0; t < T; t++) if (dtm[t * D + d] === 0) dtIg[t * D + d] = 1;
        }
        evalImgs[(k * A + a) * I + ii] = { dtScores: dt.map((d) => d.score), gtIgnore: gtIg, dtMatches: dtm, dtIgnore: dtIg, D };
      }
    }
  }

  // accumulate()
  const precision = new Float64Array(T * R * K * A * M).fill(-1);
  const recall = new Float64Array(T * K * A * M).fill(-1);
  const scores = new Float64Array(T * R * K * A * M).fill(-1);
  const eps = 2.220446049250313e-16; // np.spacing(1)
  for (let k = 0; k < K; k++) {
    for (let a = 0; a < A; a++) {
      for (let m = 0; m < M; m++) {
        const maxDet = p.maxDets[m];
        const E = [];
        for (let ii = 0; ii < I; ii++) {
          const e = evalImgs[(k * A + a) * I + ii];
          if (e) E.push(e);
        }
        if (E.length === 0) continue;
        // Concatenate each image's first maxDet detections (images ascending), then stable sort by score.
        const sc: number[] = [];
        const src: [ImgEval, number][] = [];
        let npig = 0;
        for (const e of E) {
          const n = Math.min(maxDet, e.D);
          for (let d = 0; d < n; d++) {
            sc.push(e.dtScores[d]);
            src.push([e, d]);
          }
          for (const g of e.gtIgnore) if (g === 0) npig++;
        }
        if (npig === 0) continue;
        const inds = stableArgsort(sc.map((s) => -s));
        const nd = inds.length;
        const sortedScores = inds.map((i) => sc[i]);
        for (let t = 0; t < T; t++) {
          const rc = new Float64Array(nd);
          const pr = new Array<number>(nd);
          let tp = 0;
          let fp = 0;
          for (let j = 0; j < nd; j++) {
            const [e, d] = src[inds[j]];
            const matched = e.dtMatches[t * e.D + d] !== 0;
            const ignored = e.dtIgnore[t * e.D + d] !== 0;
            if (matched && !ignored) tp++;
            if (!matched && !ignored) fp++;
            rc[j] = tp / npig;
            pr[j] = tp / (fp + tp + eps);
          }
          recall[((t * K + k) * A + a) * M + m] = nd ? rc[nd - 1] : 0;
          for (let j = nd - 1; j > 0; j--) if (pr[j] > pr[j - 1]) pr[j - 1] = pr[j];
          for (let r = 0; r < R; r++) {
            const pi = searchsortedLeft(rc, p.recThrs[r]);
            if (pi >= nd) break; // pycocotools' IndexError ends the loop: later thresholds keep 0
            const at = (((t * R + r) * K + k) * A + a) * M + m;
            precision[at] = pr[pi];
            scores[at] = sortedScores[pi];
          }
          for (let r = 0; r < R; r++) {
            const at = (((t * R + r) * K + k) * A + a) * M + m;
            if (precision[at] === -1) precision[at] = 0;
            if (scores[at] === -1) scores[at] = 0;
          }
        }
      }
    }
  }

  const dims = { T, R, K, A, M };
  const res: CocoEvalResult = { stats: [], catIds, imgIds, precision, recall, scores, dims, perCategory: new Map(), params: p };
  const all = p.areaRngLbl.indexOf('all');
  const m100 = p.maxDets.indexOf(100);
  const spec = SUMMARY_ROWS;
  res.stats = spec.map(([ap, thr, area, md]) => summarizeOne(res, ap, thr, p.areaRngLbl.indexOf(area), p.maxDets.indexOf(md), null));
  for (let k = 0; k < K; k++) {
    res.perCategory.set(catIds[k], {
      AP: summarizeOne(res, true, null, all, m100, k),
      AP50: summarizeOne(res, true, 0.5, all, m100, k),
      AP75: summarizeOne(res, true, 0.75, all, m100, k),
      AR100: summarizeOne(res, false, null, all, m100, k),
    });
  }
  return res;
}

/** First index i with a[i] >= v (numpy searchsorted side='left'). */
function searchsortedLeft(a: Float64Array, v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** `_summarize`: the mean of the selected entries > -1 (C order), or -1 when there are none. */
function summarizeOne(r: CocoEvalResult, ap: boolean, iouThr: number | null, a: number, m: number, onlyK: number | null): number {
  const { T, R, K, A, M } = r.dims;
  if (a < 0 || m < 0) return -1;
  const ts = iouThr === null ? [...Array(T).keys()] : r.params.iouThrs.flatMap((t, i) => (t === iouThr ? [i] : []));
  let sum = 0;
  let n = 0;
  const ks = onlyK === null ? [...Array(K).keys()] : [onlyK];
  for (const t of ts) {
    if (ap) {
      for (let ri = 0; ri < R; ri++)
        for (const k of ks) {
          const v = r.precision[(((t * R + ri) * K + k) * A + a) * M + m];
          if (v > -1) (sum += v), n++;
        }
    } else {
      for (const k of ks) {
        const v = r.recall[((t * K + k) * A + a) * M + m];
        if (v > -1) (sum += v), n++;
      }
    }
  }
  return n === 0 ? -1 : sum / n;
}

/** Python's '{:0.3f}' (round half to even on the exact binary value). */
function fmt3(x: number): string {
  const s16 = x * 16;
  if (Number.isInteger(s16) && Math.abs(s16) % 2 === 1) {
    // An exact tie at the third decimal: Python rounds to even, toFixed away from zero.
    const k = Math.round(Math.abs(x) * 1000 - 0.5); // the lower candidate
    const q = (k % 2 === 0 ? k : k + 1) / 1000;
    return (x < 0 ? '-' : '') + q.toFixed(3);
  }
  return x.toFixed(3);
}

/** The 12 lines `COCOeval.summarize()` prints. */
export function summaryLines(stats: readonly number[], params: CocoEvalParams = defaultCocoParams()): string[] {
  const rows = SUMMARY_ROWS;
  const t0 = params.iouThrs[0].toFixed(2);
  const t1 = params.iouThrs[params.iouThrs.length - 1].toFixed(2);
  return rows.map(([ap, thr, area, md], i) => {
    const title = (ap ? 'Average Precision' : 'Average Recall').padEnd(18);
    const iou = (thr === null ? `${t0}:${t1}` : thr.toFixed(2)).padEnd(9);
    return ` ${title} ${ap ? '(AP)' : '(AR)'} @[ IoU=${iou} | area=${area.padStart(6)} | maxDets=${String(md).padStart(3)} ] = ${fmt3(stats[i])}`;
  });
}

/** The JSON shape of `hybridvision coco-eval --json`. */
export function cocoEvalJson(r: CocoEvalResult): { stats: Record<StatName, number>; per_category: Record<string, { AP: number; AP50: number; AP75: number; AR100: number }> } {
  const stats = Object.fromEntries(STATS_NAMES.map((n, i) => [n, r.stats[i]])) as Record<StatName, number>;
  const per_category = Object.fromEntries([...r.perCategory].map(([id, v]) => [String(id), v]));
  return { stats, per_category };
}
