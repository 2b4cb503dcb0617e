/**
 * Box utilities over flat Float32Arrays of n×4 values. Arithmetic is rounded to float32 after every
 * operation (Math.fround), as PyTorch computes on float32 tensors, so results match torch bit for bit
 * wherever torch's own rounding is deterministic.
 */
const f = Math.fround;

/** (x1, y1, x2, y2) → (cx, cy, w, h), torch order: ((x1 + x2) / 2, x2 − x1). */
export function xyxyToCxcywh(b: Float32Array): Float32Array {
  const o = new Float32Array(b.length);
  for (let i = 0; i < b.length; i += 4) {
    o[i] = f(f(b[i] + b[i + 2]) / 2);
    o[i + 1] = f(f(b[i + 1] + b[i + 3]) / 2);
    o[i + 2] = f(b[i + 2] - b[i]);
    o[i + 3] = f(b[i + 3] - b[i + 1]);
  }
  return o;
}

/** (cx, cy, w, h) → (x1, y1, x2, y2) as cx ∓ w·0.5. */
export function cxcywhToXyxy(b: Float32Array): Float32Array {
  const o = new Float32Array(b.length);
  for (let i = 0; i < b.length; i += 4) {
    const hw = f(b[i + 2] * 0.5);
    const hh = f(b[i + 3] * 0.5);
    o[i] = f(b[i] - hw);
    o[i + 1] = f(b[i + 1] - hh);
    o[i + 2] = f(b[i] + hw);
    o[i + 3] = f(b[i + 1] + hh);
  }
  return o;
}

/** (x1, y1, x2, y2) → COCO [x, y, w, h]. */
export function xyxyToXywh(b: ArrayLike<number>, i = 0): [number, number, number, number] {
  return [b[i], b[i + 1], b[i + 2] - b[i], b[i + 3] - b[i + 1]];
}

/** Areas (x2 − x1)·(y2 − y1) in float32 (torchvision box_area). */
export function boxAreas(b: Float32Array): Float32Array {
  const n = b.length / 4;
  const o = new Float32Array(n);
  for (let i = 0; i < n; i++) o[i] = f(f(b[4 * i + 2] - b[4 * i]) * f(b[4 * i + 3] - b[4 * i + 1]));
  return o;
}

/**
 * Pairwise IoU [N, M] of xyxy boxes, torchvision `box_iou`: inter / (area_a + area_b − inter), with
 * `eps` added to the denominator (cvnets' matcher uses 1e-5; torchvision none).
 */
export function boxIou(a: Float32Array, b: Float32Array, eps = 0): Float32Array {
  const n = a.length / 4;
  const m = b.length / 4;
  const aa = boxAreas(a);
  const ab = boxAreas(b);
  const o = new Float32Array(n * m);
  const e = f(eps);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      const w = Math.max(0, f(Math.min(a[4 * i + 2], b[4 * j + 2]) - Math.max(a[4 * i], b[4 * j])));
      const h = Math.max(0, f(Math.min(a[4 * i + 3], b[4 * j + 3]) - Math.max(a[4 * i + 1], b[4 * j + 1])));
      const inter = f(w * h);
      let union = f(f(aa[i] + ab[j]) - inter);
      if (eps) union = f(union + e);
      o[i * m + j] = f(inter / union);
    }
  }
  return o;
}

/** Clamps x to [0, width] and y to [0, height] in place (torchvision clip_boxes_to_image). */
export function clipBoxes(b: Float32Array, height: number, width: number): Float32Array {
  for (let i = 0; i < b.length; i += 4) {
    b[i] = Math.min(Math.max(b[i], 0), width);
    b[i + 1] = Math.min(Math.max(b[i + 1], 0), height);
    b[i + 2] = Math.min(Math.max(b[i + 2], 0), width);
    b[i + 3] = Math.min(Math.max(b[i + 3], 0), height);
  }
  return b;
}

/** Rows `idx` of an n×4 array. */
export function gatherBoxes(b: Float32Array, idx: ArrayLike<number>): Float32Array {
  const o = new Float32Array(idx.length * 4);
  for (let i = 0; i < idx.length; i++) o.set(b.subarray(4 * idx[i], 4 * idx[i] + 4), 4 * i);
  return o;
}

/** Indices sorting `scores` by descending value; ties keep ascending index (a stable sort). */
export function argsortDesc(scores: ArrayLike<number>, idx?: number[]): number[] {
  const order = idx ? [...idx] : Array.from({ length: scores.length }, (_, i) => i);
  return order.sort((a, b) => (scores[b] > scores[a] ? 1 : scores[b] < scores[a] ? -1 : a - b));
}
