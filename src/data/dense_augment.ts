/**
 * Rendering and augmentation of dense samples (size × size RGB bytes, HWC) into a normalised NCHW
 * batch: horizontal flip applied to the image and, by the caller, to its boxes (flipBoxes) or its
 * label map (flipLabelMap).
 */
import type { Normalize } from './augment.js';

/** Writes image `i` of `pixels` (count × S × S × ch, ch 3 or 1 = gray) into out[offset..] as [3, S, S], flipped when asked. */
export function renderDense(pixels: Uint8Array, i: number, S: number, flip: boolean, out: Float32Array, offset: number, norm: Normalize, ch: 1 | 3 = 3): void {
  const base = i * S * S * ch;
  const plane = S * S;
  for (let c = 0; c < 3; c++) {
    const src = ch === 1 ? 0 : norm.channelOrder === 'BGR' ? 2 - c : c;
    const scale = 1 / (255 * norm.std[c]);
    const shift = norm.mean[c] / norm.std[c];
    const o = offset + c * plane;
    for (let y = 0; y < S; y++) {
      const row = base + y * S * ch;
      for (let x = 0; x < S; x++) {
        const sx = flip ? S - 1 - x : x;
        out[o + y * S + x] = pixels[row + sx * ch + src] * scale - shift;
      }
    }
  }
}

/** Label map `i` of `labels` (count × S × S) into out[offset..], flipped when asked. */
export function copyLabelMap(labels: Uint8Array, i: number, S: number, flip: boolean, out: Int32Array, offset: number): void {
  const base = i * S * S;
  for (let y = 0; y < S; y++)
    for (let x = 0; x < S; x++) out[offset + y * S + x] = labels[base + y * S + (flip ? S - 1 - x : x)];
}
