/** In-memory labelled image datasets (8-bit pixels, 1 or 3 channels) and deterministic splits. */
import { HybridVisionError } from '../tensor.js';

export interface Dataset {
  readonly count: number;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly classNames: readonly string[];
  /** count x height x width x channels bytes (HWC per image). */
  readonly pixels: Uint8Array;
  readonly labels: Uint8Array | Uint16Array;
}

export function arrayDataset(
  pixels: Uint8Array,
  labels: Uint8Array | Uint16Array,
  width: number,
  height: number,
  channels: 1 | 3,
  classNames: readonly string[],
): Dataset {
  const count = labels.length;
  if (pixels.length !== count * width * height * channels) throw new HybridVisionError(`dataset has ${pixels.length} bytes for ${count} images of ${width}x${height}x${channels}`);
  for (const l of labels) if (l >= classNames.length) throw new HybridVisionError(`label ${l} out of range for ${classNames.length} classes`);
  return { count, width, height, channels, classNames, pixels, labels };
}

/** The images at `indices`, as a new dataset. */
export function subset(ds: Dataset, indices: ArrayLike<number>): Dataset {
  const stride = ds.width * ds.height * ds.channels;
  const pixels = new Uint8Array(indices.length * stride);
  const labels = ds.labels instanceof Uint16Array ? new Uint16Array(indices.length) : new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    pixels.set(ds.pixels.subarray(j * stride, (j + 1) * stride), i * stride);
    labels[i] = ds.labels[j];
  }
  return { ...ds, count: indices.length, pixels, labels };
}

/** A seeded permutation (Fisher-Yates on a mulberry32 stream). */
export function permutation(n: number, rand: () => number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = p[i];
    p[i] = p[j];
    p[j] = t;
  }
  return p;
}

/** Splits off a validation set: the same `seed` always gives the same split. */
export function trainValSplit(ds: Dataset, valFraction: number, rand: () => number): { train: Dataset; val: Dataset } {
  const p = permutation(ds.count, rand);
  const nVal = Math.round(ds.count * valFraction);
  return { train: subset(ds, p.subarray(nVal)), val: subset(ds, p.subarray(0, nVal)) };
}
