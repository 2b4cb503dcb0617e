/**
 * The head-output layout both detectors share: a conv output [B, A·K, h, w] with channel a·K + k is
 * viewed [B, A, K, h, w], permuted to [B, h, w, A, K] and flattened to rows [B, h·w·A, K]; row
 * (y·w + x)·A + a holds anchor a of cell (y, x). Levels are then concatenated along the rows. In ONNX:
 * Reshape [B, A, K, h, w] → Transpose (0, 3, 4, 1, 2) → Reshape [B, h·w·A, K].
 */
export function headToRows(raw: Float32Array, B: number, A: number, K: number, h: number, w: number): Float32Array {
  const out = new Float32Array(B * h * w * A * K);
  const hw = h * w;
  for (let b = 0; b < B; b++)
    for (let a = 0; a < A; a++)
      for (let k = 0; k < K; k++) {
        const src = ((b * A + a) * K + k) * hw;
        for (let p = 0; p < hw; p++) out[((b * hw + p) * A + a) * K + k] = raw[src + p];
      }
  return out;
}

/** Concatenates per-level rows [B, n_l, K] along the rows → [B, Σn_l, K]. */
export function concatRows(levels: Float32Array[], B: number, K: number): Float32Array {
  const counts = levels.map((l) => l.length / (B * K));
  const N = counts.reduce((s, x) => s + x, 0);
  const out = new Float32Array(B * N * K);
  for (let b = 0; b < B; b++) {
    let off = 0;
    levels.forEach((l, i) => {
      out.set(l.subarray(b * counts[i] * K, (b + 1) * counts[i] * K), (b * N + off) * K);
      off += counts[i];
    });
  }
  return out;
}

/** Splits SSD rows [B, N, 4 + C] into box regressions [B, N, 4] and class logits [B, N, C]. */
export function splitSsdRows(rows: Float32Array, B: number, N: number, C: number): { boxRegressions: Float32Array; clsLogits: Float32Array } {
  const K = 4 + C;
  const box = new Float32Array(B * N * 4);
  const cls = new Float32Array(B * N * C);
  for (let r = 0; r < B * N; r++) {
    box.set(rows.subarray(r * K, r * K + 4), r * 4);
    cls.set(rows.subarray(r * K + 4, (r + 1) * K), r * C);
  }
  return { boxRegressions: box, clsLogits: cls };
}
