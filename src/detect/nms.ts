/**
 * Non-maximum suppression with torchvision 0.14's semantics: candidates by descending score, a box is
 * suppressed when its IoU with a kept box is > the threshold (strict), IoU = inter / (area_i + area_j
 * − inter) in float32 with no epsilon (two zero-area boxes give NaN and never suppress each other).
 * Score ties: torch's sort order is not specified; here they keep ascending index.
 */
import { argsortDesc, boxAreas } from './boxes.js';

const f = Math.fround;

/** Kept indices into `boxes` (n×4 xyxy), by descending score. */
export function nms(boxes: Float32Array, scores: ArrayLike<number>, iouThreshold: number): number[] {
  const n = scores.length;
  const order = argsortDesc(scores);
  const areas = boxAreas(boxes);
  const suppressed = new Uint8Array(n);
  const keep: number[] = [];
  for (let oi = 0; oi < n; oi++) {
    const i = order[oi];
    if (suppressed[i]) continue;
    keep.push(i);
    const ix1 = boxes[4 * i], iy1 = boxes[4 * i + 1], ix2 = boxes[4 * i + 2], iy2 = boxes[4 * i + 3];
    for (let oj = oi + 1; oj < n; oj++) {
      const j = order[oj];
      if (suppressed[j]) continue;
      const w = Math.max(0, f(Math.min(ix2, boxes[4 * j + 2]) - Math.max(ix1, boxes[4 * j])));
      const h = Math.max(0, f(Math.min(iy2, boxes[4 * j + 3]) - Math.max(iy1, boxes[4 * j + 1])));
      const inter = f(w * h);
      const ovr = f(inter / f(f(areas[i] + areas[j]) - inter));
      if (ovr > iouThreshold) suppressed[j] = 1;
    }
  }
  return keep;
}

/**
 * torchvision `batched_nms`: NMS within each label, result sorted by descending score over all labels.
 * Up to 1000 boxes torchvision offsets each box by label·(max coordinate + 1) and runs one NMS on the
 * offset boxes (float32, so the IoU sees the offset coordinates' rounding); above it loops over the
 * labels. Both paths are reproduced (`path` forces one).
 */
export function batchedNms(boxes: Float32Array, scores: ArrayLike<number>, labels: ArrayLike<number>, iouThreshold: number, path: 'auto' | 'offset' | 'per-class' = 'auto'): number[] {
  const n = scores.length;
  if (n === 0) return [];
  const useOffset = path === 'offset' || (path === 'auto' && n * 4 <= 4000);
  if (useOffset) {
    let maxC = -Infinity;
    for (let i = 0; i < boxes.length; i++) if (boxes[i] > maxC) maxC = boxes[i];
    const step = f(maxC + 1);
    const shifted = new Float32Array(boxes.length);
    for (let i = 0; i < n; i++) {
      const off = f(labels[i] * step);
      for (let k = 0; k < 4; k++) shifted[4 * i + k] = f(boxes[4 * i + k] + off);
    }
    return nms(shifted, scores, iouThreshold);
  }
  const byLabel = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const l = labels[i];
    if (!byLabel.has(l)) byLabel.set(l, []);
    byLabel.get(l)!.push(i);
  }
  const kept: number[] = [];
  for (const idx of byLabel.values()) {
    const b = new Float32Array(idx.length * 4);
    idx.forEach((i, k) => b.set(boxes.subarray(4 * i, 4 * i + 4), 4 * k));
    for (const k of nms(b, idx.map((i) => scores[i]), iouThreshold)) kept.push(idx[k]);
  }
  kept.sort((a, b) => a - b); // torch.where(keep_mask) order, then a sort by score
  return argsortDesc(scores, kept);
}
