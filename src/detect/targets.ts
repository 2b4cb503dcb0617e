/**
 * Training targets from dataset boxes (pixels), shared by the SSD and RetinaNet training steps; the
 * matchers run on the host (their golden checks are in test/detect.*.test.ts).
 */
import { ssdMatch, SSD_VARIANCES, type SsdMatch, type SsdVariances } from './ssd.js';
import { retinaMatch } from './retinanet.js';

/** SSD targets of one image: pixel xyxy boxes → normalised by the image size → official matcher. */
export function ssdTargets(boxesPx: Float32Array, labels: ArrayLike<number>, width: number, height: number, anchors: Float32Array, iouThreshold = 0.5, v: SsdVariances = SSD_VARIANCES): SsdMatch {
  const nb = new Float32Array(boxesPx.length);
  for (let i = 0; i < boxesPx.length; i += 4) {
    nb[i] = boxesPx[i] / width;
    nb[i + 1] = boxesPx[i + 1] / height;
    nb[i + 2] = boxesPx[i + 2] / width;
    nb[i + 3] = boxesPx[i + 3] / height;
  }
  return ssdMatch(nb, labels, anchors, iouThreshold, v);
}

/** RetinaNet targets of one image: matched gt index per anchor (−1 background, −2 ignored) and the class target per anchor (−1 where none). */
export function retinaTargets(boxesPx: Float32Array, labels: ArrayLike<number>, anchors: Float32Array): { matched: Int32Array; classTarget: Int32Array } {
  const matched = retinaMatch(boxesPx, anchors);
  const classTarget = new Int32Array(matched.length).fill(-1);
  for (let a = 0; a < matched.length; a++) if (matched[a] >= 0) classTarget[a] = labels[matched[a]];
  return { matched, classTarget };
}

/** Transformers.js object-detection results: [{label, score, box: {xmin, ymin, xmax, ymax}}], boxes scaled by (sx, sy). */
export function toDetectionObjects(det: { boxes: ArrayLike<number>; scores: ArrayLike<number>; labels: ArrayLike<number> }, classNames: readonly string[], scale: { sx: number; sy: number } = { sx: 1, sy: 1 }): { label: string; score: number; box: { xmin: number; ymin: number; xmax: number; ymax: number } }[] {
  return Array.from({ length: det.scores.length }, (_, i) => ({
    label: classNames[det.labels[i]] ?? String(det.labels[i]),
    score: det.scores[i],
    box: { xmin: det.boxes[4 * i] * scale.sx, ymin: det.boxes[4 * i + 1] * scale.sy, xmax: det.boxes[4 * i + 2] * scale.sx, ymax: det.boxes[4 * i + 3] * scale.sy },
  }));
}
