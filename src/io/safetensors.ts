/**
 * safetensors reader/writer (core: no Node built-ins).
 *
 * Layout: 8-byte little-endian u64 header length N, N bytes of UTF-8 JSON (padded with spaces),
 * then the raw little-endian, row-major tensor bytes. Offsets in the header count from the first
 * byte after the header.
 */
import { HybridVisionError, numel, type DType, type HostTensor, type TypedData } from '../tensor.js';
import { cleanText, describeValue } from './text.js';

export interface SafetensorsFile {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

/** safetensors dtype name -> element size in bytes (look up with itemSize: own entries only). */
const ST_ITEMSIZE: Readonly<Record<string, number>> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  U8: 1,
  BOOL: 1,
};

function itemSize(dtype: string): number | undefined {
  return Object.prototype.hasOwnProperty.call(ST_ITEMSIZE, dtype) ? ST_ITEMSIZE[dtype] : undefined;
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** What a file that is not safetensors looks like, for the error message. */
function sniff(bytes: Uint8Array): string {
  const at = (...sig: number[]) => sig.every((b, i) => bytes[i] === b);
  if (at(0xff, 0xd8, 0xff)) return 'a JPEG image';
  if (at(0x89, 0x50, 0x4e, 0x47)) return 'a PNG image';
  if (at(0x52, 0x49, 0x46, 0x46) && bytes[8] === 0x57 && bytes[9] === 0x45) return 'a WebP image';
  if (at(0x47, 0x49, 0x46, 0x38)) return 'a GIF image';
  if (at(0x50, 0x4b)) return 'a zip archive (a torch.save checkpoint?)';
  if (at(0x80) && bytes[1]! <= 5) return 'a Python pickle (a legacy torch checkpoint?)';
  if (at(0x1f, 0x8b)) return 'gzip data';
  if (bytes.length === 0) return 'empty';
  const head = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return `it starts with ${head}`;
}

function notSafetensors(bytes: Uint8Array, why: string): HybridVisionError {
  return new HybridVisionError(`not a safetensors file (${sniff(bytes)}): ${why}`);
}

/** Names of the header's top-level keys in order, duplicates included (JSON.parse keeps only the last). */
function topLevelKeys(text: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: find its end, skipping escapes (the text already parsed as JSON)
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      if (depth === 1 && expectKey) {
        keys.push(JSON.parse(text.slice(i, j + 1)) as string);
        expectKey = false;
      }
      i = j;
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
      if (depth === 1) expectKey = true;
    } else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x2c && depth === 1) expectKey = true;
  }
  return keys;
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

function oneLine(s: string): string {
  return s.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

/** Copies bytes [begin, end) into a fresh, aligned buffer. */
function copyBytes(bytes: Uint8Array, begin: number, end: number): ArrayBuffer {
  const out = new Uint8Array(end - begin);
  out.set(bytes.subarray(begin, end));
  return out.buffer;
}

/** Reverses the byte order of each `size`-byte element in place (only used on big-endian hosts). */
function swapInPlace(buf: ArrayBuffer, size: number): void {
  if (size === 1) return;
  const b = new Uint8Array(buf);
  for (let i = 0; i < b.length; i += size) {
    for (let a = i, z = i + size - 1; a < z; a++, z--) {
      const t = b[a]!;
      b[a] = b[z]!;
      b[z] = t;
    }
  }
}

function decodeTensor(name: string, stDtype: string, shape: number[], buf: ArrayBuffer): HostTensor {
  const size = itemSize(stDtype)!;
  if (!HOST_LITTLE_ENDIAN) swapInPlace(buf, size);
  switch (stDtype) {
    case 'F32':
      return { dtype: 'float32', shape, data: new Float32Array(buf) };
    case 'F64':
      return { dtype: 'float32', shape, data: Float32Array.from(new Float64Array(buf)) };
    case 'F16':
      return { dtype: 'float16', shape, data: new Uint16Array(buf) };
    case 'BF16': {
      const src = new Uint16Array(buf);
      const out = new Uint32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = src[i]! << 16;
      return { dtype: 'float32', shape, data: new Float32Array(out.buffer) };
    }
    case 'I64':
      return { dtype: 'int64', shape, data: new BigInt64Array(buf) };
    case 'I32':
      return { dtype: 'int32', shape, data: new Int32Array(buf) };
    case 'U8':
      return { dtype: 'uint8', shape, data: new Uint8Array(buf) };
    case 'BOOL':
      return { dtype: 'bool', shape, data: new Uint8Array(buf) };
    default:
      throw new HybridVisionError(`safetensors tensor '${cleanText(name)}' has unknown dtype '${cleanText(stDtype)}'`);
  }
}

function isNonNegInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** Parses a safetensors file. Tensor data are aligned copies, never views into `bytes`. */
export function readSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (bytes.length < 10) {
    throw notSafetensors(bytes, `${bytes.length} bytes is too short for the 8-byte header length and a header`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n64 = dv.getBigUint64(0, true);
  if (n64 > BigInt(bytes.length - 8)) {
    throw notSafetensors(bytes, `its first 8 bytes give a header length of ${n64}, more than the file's ${bytes.length} bytes`);
  }
  if (bytes[8] !== 0x7b) throw notSafetensors(bytes, "the header does not start with '{'");
  const n = Number(n64);
  let header: unknown;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
    header = JSON.parse(text);
  } catch (e) {
    throw new HybridVisionError(`safetensors header is not valid JSON: ${cleanText(oneLine((e as Error).message), 200)}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new HybridVisionError('safetensors header is not a JSON object');
  }
  const keys = topLevelKeys(text);
  if (keys.length !== Object.keys(header).length) {
    const seen = new Set<string>();
    const dup = keys.find((k) => (seen.has(k) ? true : (seen.add(k), false)));
    throw new HybridVisionError(`safetensors header lists '${cleanText(dup ?? '?')}' more than once`);
  }
  const dataStart = 8 + n;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: string; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        throw new HybridVisionError('safetensors __metadata__ is not a JSON object of strings');
      }
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new HybridVisionError(`safetensors __metadata__ value for '${cleanText(k)}' is not a string`);
        Object.defineProperty(metadata, k, { value: v, writable: true, enumerable: true, configurable: true });
      }
      continue;
    }
    const shown = cleanText(name);
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new HybridVisionError(`safetensors entry '${shown}' is not a JSON object`);
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info.dtype !== 'string') throw new HybridVisionError(`safetensors tensor '${shown}' has no dtype`);
    const elem = itemSize(info.dtype);
    if (elem === undefined) {
      throw new HybridVisionError(`safetensors tensor '${shown}' has unknown dtype '${cleanText(info.dtype)}'`);
    }
    if (!Array.isArray(info.shape) || !info.shape.every(isNonNegInt)) {
      throw new HybridVisionError(`safetensors tensor '${shown}' has an invalid shape ${describeValue(info.shape)}`);
    }
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !isNonNegInt(offs[0]) || !isNonNegInt(offs[1]) || offs[1] < offs[0]) {
      throw new HybridVisionError(`safetensors tensor '${shown}' has invalid data_offsets ${describeValue(offs)}`);
    }
    const shape = info.shape as number[];
    const [begin, end] = offs as [number, number];
    const need = numel(shape) * elem;
    if (end - begin !== need) {
      throw new HybridVisionError(
        `safetensors tensor '${shown}': shape ${fmtShape(shape)} of ${info.dtype} needs ${need} bytes but data_offsets [${begin}, ${end}] span ${end - begin}`,
      );
    }
    if (end > dataLen) {
      throw new HybridVisionError(
        `safetensors tensor '${shown}': data_offsets [${begin}, ${end}] run past the end of the data (${dataLen} bytes)`,
      );
    }
    entries.push({ name, dtype: info.dtype, shape: [...shape], begin, end });
  }
  // Overlap check (empty tensors occupy no bytes and cannot overlap).
  const sorted = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.begin < prev.end) {
      throw new HybridVisionError(
        `safetensors tensors '${cleanText(prev.name)}' [${prev.begin}, ${prev.end}] and '${cleanText(cur.name)}' [${cur.begin}, ${cur.end}] overlap`,
      );
    }
  }
  const tensors = new Map<string, HostTensor>();
  for (const e of entries) {
    const buf = copyBytes(bytes, dataStart + e.begin, dataStart + e.end);
    tensors.set(e.name, decodeTensor(e.name, e.dtype, e.shape, buf));
  }
  return { tensors, metadata };
}

const DTYPE_TO_ST: Record<DType, { st: string; size: number; ctor: new (n: number) => TypedData }> = {
  float32: { st: 'F32', size: 4, ctor: Float32Array },
  float16: { st: 'F16', size: 2, ctor: Uint16Array },
  int64: { st: 'I64', size: 8, ctor: BigInt64Array },
  int32: { st: 'I32', size: 4, ctor: Int32Array },
  uint8: { st: 'U8', size: 1, ctor: Uint8Array },
  bool: { st: 'BOOL', size: 1, ctor: Uint8Array },
};

/**
 * Serialises tensors as safetensors. The JSON keys follow the input order; in the data, 8-byte
 * dtypes come first, then 4-, 2- and 1-byte ones (stable), so every tensor is aligned and there are
 * no holes. The header is padded with spaces to a multiple of 8.
 */
export function writeSafetensors(
  tensors: Map<string, HostTensor> | Record<string, HostTensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const list: [string, HostTensor][] = tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
  const infos = list.map(([name, t], index) => {
    if (name === '__metadata__') throw new HybridVisionError(`cannot write a tensor named '__metadata__' to safetensors`);
    const d = DTYPE_TO_ST[t.dtype];
    if (!d) throw new HybridVisionError(`cannot write tensor '${name}' to safetensors: unsupported dtype '${String(t.dtype)}'`);
    if (!(t.data instanceof d.ctor)) {
      throw new HybridVisionError(`cannot write tensor '${name}': dtype ${t.dtype} needs ${d.ctor.name} data, got ${t.data.constructor.name}`);
    }
    if (!t.shape.every(isNonNegInt)) throw new HybridVisionError(`cannot write tensor '${name}': invalid shape ${JSON.stringify(t.shape)}`);
    if (t.data.length !== numel(t.shape)) {
      throw new HybridVisionError(
        `cannot write tensor '${name}': shape ${fmtShape(t.shape)} needs ${numel(t.shape)} elements, data has ${t.data.length}`,
      );
    }
    return { name, t, st: d.st, size: d.size, index, begin: 0, end: 0 };
  });
  const layout = [...infos].sort((a, b) => b.size - a.size || a.index - b.index);
  let pos = 0;
  for (const info of layout) {
    info.begin = pos;
    pos += info.t.data.byteLength;
    info.end = pos;
  }
  const dataLen = pos;
  const headerObj: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new HybridVisionError(`safetensors metadata value for '${k}' must be a string`);
    }
    headerObj['__metadata__'] = metadata;
  }
  for (const info of infos) {
    headerObj[info.name] = { dtype: info.st, shape: info.t.shape, data_offsets: [info.begin, info.end] };
  }
  const json = new TextEncoder().encode(JSON.stringify(headerObj));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + dataLen);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  const dataStart = 8 + padded;
  for (const info of layout) {
    const src = new Uint8Array(info.t.data.buffer, info.t.data.byteOffset, info.t.data.byteLength);
    out.set(src, dataStart + info.begin);
    if (!HOST_LITTLE_ENDIAN && info.size > 1) {
      const tmp = out.slice(dataStart + info.begin, dataStart + info.end);
      swapInPlace(tmp.buffer, info.size);
      out.set(tmp, dataStart + info.begin);
    }
  }
  return out;
}
