/** Detections → COCO result entries ({image_id, category_id, bbox [x, y, w, h], score}) for COCOeval. */
import type { CocoDetection } from './coco_eval.js';

export interface DetectionsLike {
  /** [K, 4] x1, y1, x2, y2 */
  boxes: ArrayLike<number>;
  scores: ArrayLike<number>;
  labels: ArrayLike<number>;
}

/**
 * `scale` multiplies x by sx and y by sy first (normalised SSD boxes: the image width and height);
 * `categoryOf` maps a model label to a COCO category id (null drops the detection, e.g. background).
 */
export function toCocoResults(imageId: number, det: DetectionsLike, categoryOf: (label: number) => number | null, scale: { sx: number; sy: number } = { sx: 1, sy: 1 }): CocoDetection[] {
  const out: CocoDetection[] = [];
  for (let i = 0; i < det.scores.length; i++) {
    const cat = categoryOf(det.labels[i]);
    if (cat === null) continue;
    const x1 = det.boxes[4 * i] * scale.sx;
    const y1 = det.boxes[4 * i + 1] * scale.sy;
    const x2 = det.boxes[4 * i + 2] * scale.sx;
    const y2 = det.boxes[4 * i + 3] * scale.sy;
    out.push({ image_id: imageId, category_id: cat, bbox: [x1, y1, x2 - x1, y2 - y1], score: det.scores[i] });
  }
  return out;
}
