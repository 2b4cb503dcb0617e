/**
 * Node-only image decoding with sharp (JPEG, PNG, WebP, and whatever else libvips reads).
 * The EXIF orientation is applied, alpha is dropped without compositing and gray is
 * replicated to RGB, like PIL's `convert('RGB')`. Colour values are not converted through an
 * embedded ICC profile (PIL does not do that either).
 */

import { readFile } from 'node:fs/promises';
import type { default as Sharp } from 'sharp';

import { HybridVisionError } from '../tensor.js';
import { toRgb, type RgbImage } from './image.js';

function firstLine(s: string): string {
  const line = s.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? 'unknown error';
  return line.replace(/^Error:\s*/, '');
}

function fsReason(err: unknown): string {
  const code = (err as { code?: string } | null)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EISDIR':
      return 'is a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    default:
      return firstLine(err instanceof Error ? err.message : String(err));
  }
}

// sharp is an optional dependency (browser-only installs omit it): loaded on the first decode.
let sharpModule: Promise<typeof Sharp> | null = null;
function loadSharp(): Promise<typeof Sharp> {
  sharpModule ??= import('sharp').then(
    (m) => m.default,
    () => {
      sharpModule = null;
      throw new HybridVisionError('decoding image files needs sharp, an optional dependency that is not installed: npm install sharp');
    },
  );
  return sharpModule;
}

async function decode(bytes: Uint8Array, label: string): Promise<RgbImage> {
  if (bytes.length === 0) throw new HybridVisionError(`cannot read image ${label}: empty file`);
  const sharp = await loadSharp();
  try {
    const { data, info } = await sharp(bytes, { failOn: 'error' })
      .autoOrient()
      .keepIccProfile()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    const pixels = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    return toRgb(pixels, info.width, info.height, info.channels);
  } catch (err) {
    if (err instanceof HybridVisionError) throw new HybridVisionError(`cannot read image ${label}: ${err.message}`);
    throw new HybridVisionError(`cannot read image ${label}: ${firstLine(err instanceof Error ? err.message : String(err))}`);
  }
}

/** Decodes an encoded image (JPEG, PNG, WebP, ...) held in memory. */
export async function decodeImageBytes(bytes: Uint8Array, label = '<buffer>'): Promise<RgbImage> {
  return decode(bytes, label);
}

/** Reads and decodes an image file. Errors are one-line HybridVisionErrors naming the path. */
export async function decodeImageFile(path: string): Promise<RgbImage> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new HybridVisionError(`cannot read image ${path}: ${fsReason(err)}`);
  }
  return decode(bytes, path);
}
