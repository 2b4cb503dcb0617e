/**
 * IDX files (the MNIST / Fashion-MNIST container): big-endian header
 * [0, 0, type, ndims], ndims uint32 dimensions, then the data. Only unsigned bytes (type 0x08)
 * are supported. Core module: no Node built-ins.
 */

import { HybridVisionError } from '../tensor.js';

export interface IdxArray {
  dims: number[];
  /** a view into the input bytes (no copy) */
  data: Uint8Array;
}

const TYPE_NAMES: Record<number, string> = {
  0x08: 'unsigned byte',
  0x09: 'signed byte',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};

/** Parses an (uncompressed) IDX buffer of unsigned bytes. */
export function parseIdx(bytes: Uint8Array, label = 'IDX data'): IdxArray {
  if (bytes.length < 4) throw new HybridVisionError(`${label}: not an IDX file (${bytes.length} bytes, header needs 4)`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    const magic = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
    const hint = bytes[0] === 0x1f && bytes[1] === 0x8b ? ' (it is gzip-compressed: decompress it first)' : '';
    throw new HybridVisionError(`${label}: not an IDX file (magic 0x${magic.toString(16).padStart(8, '0')})${hint}`);
  }
  const type = bytes[2]!;
  const ndims = bytes[3]!;
  if (type !== 0x08) {
    const name = TYPE_NAMES[type];
    throw new HybridVisionError(
      `${label}: IDX element type 0x${type.toString(16).padStart(2, '0')}${name ? ` (${name})` : ' (unknown)'} is not supported; only unsigned byte (0x08)`,
    );
  }
  if (ndims < 1) throw new HybridVisionError(`${label}: IDX file has 0 dimensions`);
  const headerLen = 4 + 4 * ndims;
  if (bytes.length < headerLen) throw new HybridVisionError(`${label}: truncated IDX header (${ndims} dimensions need ${headerLen} bytes, got ${bytes.length})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  let count = 1;
  for (let i = 0; i < ndims; i++) {
    const d = view.getUint32(4 + 4 * i, false);
    dims.push(d);
    count *= d;
  }
  const have = bytes.length - headerLen;
  if (have < count) throw new HybridVisionError(`${label}: truncated IDX data (dims [${dims.join(', ')}] need ${count} bytes, got ${have})`);
  if (have > count) throw new HybridVisionError(`${label}: IDX data has ${have - count} trailing bytes after dims [${dims.join(', ')}]`);
  return { dims, data: bytes.subarray(headerLen, headerLen + count) };
}

/** Builds an unsigned-byte IDX buffer (for tests and exports). */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  let count = 1;
  for (const d of dims) count *= d;
  if (count !== data.length) throw new HybridVisionError(`encodeIdx: dims [${dims.join(', ')}] need ${count} bytes, got ${data.length}`);
  if (dims.length < 1 || dims.length > 255) throw new HybridVisionError(`encodeIdx: ${dims.length} dimensions`);
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(out.buffer);
  out[2] = 0x08;
  out[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
