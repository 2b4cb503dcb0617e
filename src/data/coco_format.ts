/**
 * COCO-format detection annotations (`instances_*.json`): parsing and validation into per-image
 * boxes and contiguous labels. Bad files give one-line errors naming the entry.
 */
import { HybridVisionError } from '../tensor.js';

export interface DetectionSample {
  imageId: number;
  fileName: string;
  width: number;
  height: number;
  /** [n, 4] x1, y1, x2, y2 in pixels */
  boxes: Float32Array;
  /** contiguous labels 1..K (0 is reserved for background); see `DetectionSet.categoryIds` */
  labels: Int32Array;
  /** iscrowd flags per box (crowd boxes are kept for evaluation; training usually drops them) */
  crowd: Uint8Array;
}

export interface DetectionSet {
  /** K names, in ascending category id */
  classNames: string[];
  /** categoryIds[k − 1] is the COCO category id of label k */
  categoryIds: number[];
  samples: DetectionSample[];
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Parses a COCO instances object. Boxes must be 4 finite numbers with positive width and height,
 * inside the image up to 1 pixel (then clipped to it).
 */
export function parseCocoInstances(json: unknown, label = 'COCO annotations'): DetectionSet {
  const fail = (msg: string): never => {
    throw new HybridVisionError(`${label}: ${msg}`);
  };
  const j = json as any;
  if (!j || typeof j !== 'object' || !Array.isArray(j.images) || !Array.isArray(j.annotations) || !Array.isArray(j.categories)) fail('needs "images", "annotations" and "categories" lists');
  const cats = [...j.categories].map((c: any, i: number) => {
    if (!c || !isNum(c.id) || !Number.isInteger(c.id)) fail(`categories[${i}]: "id" must be an integer`);
    return { id: c.id as number, name: typeof c.name === 'string' ? c.name : String(c.id) };
  });
  cats.sort((a, b) => a.id - b.id);
  const labelOf = new Map<number, number>();
  cats.forEach((c, k) => {
    if (labelOf.has(c.id)) fail(`category id ${c.id} appears twice`);
    labelOf.set(c.id, k + 1);
  });
  const samples: DetectionSample[] = [];
  const byImage = new Map<number, { s: DetectionSample; boxes: number[]; labels: number[]; crowd: number[] }>();
  j.images.forEach((im: any, i: number) => {
    const w = `images[${i}]`;
    if (!im || !isNum(im.id)) fail(`${w}: "id" must be a number`);
    if (typeof im.file_name !== 'string' || im.file_name.length === 0) fail(`${w}: "file_name" must be a non-empty string`);
    if (im.file_name.split(/[\\/]/).includes('..') || /^([a-zA-Z]:)?[\\/]/.test(im.file_name)) fail(`${w}: "file_name" must be a relative path inside the dataset, got '${im.file_name}'`);
    if (!Number.isInteger(im.width) || !Number.isInteger(im.height) || im.width < 1 || im.height < 1) fail(`${w}: "width" and "height" must be positive integers`);
    if (byImage.has(im.id)) fail(`${w}: image id ${im.id} appears twice`);
    const s: DetectionSample = { imageId: im.id, fileName: im.file_name, width: im.width, height: im.height, boxes: new Float32Array(0), labels: new Int32Array(0), crowd: new Uint8Array(0) };
    samples.push(s);
    byImage.set(im.id, { s, boxes: [], labels: [], crowd: [] });
  });
  j.annotations.forEach((a: any, i: number) => {
    const w = `annotations[${i}]`;
    if (!a || typeof a !== 'object') fail(`${w}: not an object`);
    const entry = byImage.get(a.image_id);
    if (!entry) fail(`${w}: image_id ${JSON.stringify(a.image_id)} is not in "images"`);
    const lab = labelOf.get(a.category_id);
    if (lab === undefined) fail(`${w}: category_id ${JSON.stringify(a.category_id)} is not in "categories"`);
    const b = a.bbox;
    if (!Array.isArray(b) || b.length !== 4 || !b.every(isNum)) fail(`${w}: malformed bbox ${JSON.stringify(b)?.slice(0, 60)} (need [x, y, width, height], 4 finite numbers)`);
    const [x, y, bw, bh] = b as number[];
    if (bw <= 0 || bh <= 0) fail(`${w}: malformed bbox [${b.join(', ')}]: width and height must be > 0`);
    const { width: W, height: H } = entry!.s;
    if (x < -1 || y < -1 || x + bw > W + 1 || y + bh > H + 1) fail(`${w}: bbox [${b.join(', ')}] lies outside the ${W}x${H} image`);
    entry!.boxes.push(Math.max(0, x), Math.max(0, y), Math.min(W, x + bw), Math.min(H, y + bh));
    entry!.labels.push(lab!);
    entry!.crowd.push(a.iscrowd ? 1 : 0);
  });
  for (const { s, boxes, labels, crowd } of byImage.values()) {
    s.boxes = Float32Array.from(boxes);
    s.labels = Int32Array.from(labels);
    s.crowd = Uint8Array.from(crowd);
  }
  return { classNames: cats.map((c) => c.name), categoryIds: cats.map((c) => c.id), samples };
}
