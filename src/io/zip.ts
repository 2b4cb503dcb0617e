/**
 * A small ZIP reader (core: no Node built-ins): central directory, ZIP64 (EOCD64 + extra fields),
 * stored entries (sync) and deflated entries (async, via DecompressionStream('deflate-raw')).
 * CRC-32 is checked for every entry read.
 */
import { HybridVisionError } from '../tensor.js';
import { concatBytes } from './bytes.js';
import { cleanText } from './text.js';

export interface ZipOptions {
  /**
   * The most bytes all deflated entries together may inflate to (default max(64 MiB, 16 × the
   * archive's size)). torch.save stores entries uncompressed; real weights deflate by ~10%, so
   * anything near this is a decompression bomb.
   */
  maxInflatedBytes?: number;
}

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

export interface ZipArchive {
  /** Entry names in central-directory order. */
  names(): string[];
  has(name: string): boolean;
  entry(name: string): ZipEntry | undefined;
  /** The entry's bytes (stored or deflated). Stored entries may be views into the archive: do not mutate. */
  read(name: string): Promise<Uint8Array>;
  /** Stored entries only (throws for compressed ones). May be a view into the archive: do not mutate. */
  readSync(name: string): Uint8Array;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_EOCD64 = 0x06064b50;
const SIG_EOCD64_LOCATOR = 0x07064b50;

let crcTable: Uint32Array | null = null;
function getCrcTable(): Uint32Array {
  if (crcTable) return crcTable;
  const t = new Uint32Array(256 * 4);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let k = 1; k < 4; k++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[k * 256 + n] = c >>> 0;
    }
  }
  crcTable = t;
  return t;
}

/** CRC-32 (IEEE, as used by ZIP). */
export function crc32(data: Uint8Array): number {
  const t = getCrcTable();
  let c = 0xffffffff;
  let i = 0;
  const n4 = data.length - (data.length % 4);
  for (; i < n4; i += 4) {
    c ^= data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    c = t[768 + (c & 0xff)]! ^ t[512 + ((c >>> 8) & 0xff)]! ^ t[256 + ((c >>> 16) & 0xff)]! ^ t[(c >>> 24) & 0xff]!;
  }
  for (; i < data.length; i++) c = t[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function corrupt(msg: string): HybridVisionError {
  return new HybridVisionError(`corrupt or truncated zip archive: ${msg}`);
}

function u64(dv: DataView, off: number, what: string): number {
  const v = dv.getBigUint64(off, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(`${what} ${v} is too large`);
  return Number(v);
}

/**
 * Opens a ZIP archive held in memory. Throws HybridVisionError for corrupt or truncated archives,
 * duplicate names, local headers that disagree with the central directory, and members that overlap
 * each other or the central directory (one compressed stream must not be read as several entries).
 */
export function openZip(bytes: Uint8Array, opts: ZipOptions = {}): ZipArchive {
  const len = bytes.length;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (len < 22) throw corrupt(`${len} bytes is too short for an end-of-central-directory record`);

  // Find the end-of-central-directory record (scan back over at most a 64 KiB comment).
  let eocd = -1;
  for (let p = len - 22; p >= Math.max(0, len - 22 - 0xffff); p--) {
    if (dv.getUint32(p, true) === SIG_EOCD && p + 22 + dv.getUint16(p + 20, true) <= len) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) throw corrupt('no end-of-central-directory record found');

  let count = dv.getUint16(eocd + 10, true);
  let cdSize = dv.getUint32(eocd + 12, true);
  let cdOffset = dv.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc < 0 || dv.getUint32(loc, true) !== SIG_EOCD64_LOCATOR) throw corrupt('ZIP64 end-of-central-directory locator missing');
    const e64 = u64(dv, loc + 8, 'ZIP64 end-of-central-directory offset');
    if (e64 + 56 > len || dv.getUint32(e64, true) !== SIG_EOCD64) throw corrupt('ZIP64 end-of-central-directory record missing');
    count = u64(dv, e64 + 32, 'entry count');
    cdSize = u64(dv, e64 + 40, 'central directory size');
    cdOffset = u64(dv, e64 + 48, 'central directory offset');
  }
  if (cdOffset + cdSize > len) throw corrupt(`central directory (offset ${cdOffset}, ${cdSize} bytes) runs past the end of the file (${len} bytes)`);
  if (count * 46 > cdSize) throw corrupt(`the central directory (${cdSize} bytes) is too small for the ${count} entries it claims`);

  const decoder = new TextDecoder('utf-8');
  const entries = new Map<string, ZipEntry>();
  const order: string[] = [];
  const spans: { name: string; begin: number; end: number }[] = [];
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > len || dv.getUint32(p, true) !== SIG_CENTRAL) throw corrupt(`central directory entry ${i} is damaged`);
    const flags = dv.getUint16(p + 8, true);
    const method = dv.getUint16(p + 10, true);
    const crc = dv.getUint32(p + 16, true);
    let compressedSize = dv.getUint32(p + 20, true);
    let size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true);
    const extraLen = dv.getUint16(p + 30, true);
    const commentLen = dv.getUint16(p + 32, true);
    const diskStart = dv.getUint16(p + 34, true);
    let localHeaderOffset = dv.getUint32(p + 42, true);
    const end = p + 46 + nameLen + extraLen + commentLen;
    if (end > len) throw corrupt(`central directory entry ${i} runs past the end of the file`);
    const name = decoder.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    // ZIP64 extended information extra field.
    let q = p + 46 + nameLen;
    const extraEnd = q + extraLen;
    while (q + 4 <= extraEnd) {
      const id = dv.getUint16(q, true);
      const sz = dv.getUint16(q + 2, true);
      const dataEnd = q + 4 + sz;
      if (dataEnd > extraEnd) throw corrupt(`extra field of '${name}' is damaged`);
      if (id === 0x0001) {
        let r = q + 4;
        const need = (what: string): number => {
          if (r + 8 > dataEnd) throw corrupt(`ZIP64 extra field of '${name}' lacks the ${what}`);
          const v = u64(dv, r, what);
          r += 8;
          return v;
        };
        if (size === 0xffffffff) size = need('size');
        if (compressedSize === 0xffffffff) compressedSize = need('compressed size');
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = need('local header offset');
      }
      q = dataEnd;
    }
    if (diskStart !== 0 && diskStart !== 0xffff) throw new HybridVisionError(`multi-disk zip archives are not supported ('${name}')`);
    const shown = cleanText(name);
    if (localHeaderOffset + 30 > cdOffset) throw corrupt(`local header of '${shown}' lies past the start of the central directory`);
    if (dv.getUint32(localHeaderOffset, true) !== SIG_LOCAL) throw corrupt(`local header of '${shown}' is damaged`);
    const localNameLen = dv.getUint16(localHeaderOffset + 26, true);
    const localName = bytes.subarray(localHeaderOffset + 30, localHeaderOffset + 30 + localNameLen);
    const centralName = bytes.subarray(p + 46, p + 46 + nameLen);
    if (localNameLen !== nameLen || !localName.every((b, j) => b === centralName[j])) {
      throw corrupt(`the local header of '${shown}' names another file ('${cleanText(decoder.decode(localName))}')`);
    }
    const dataStart = localHeaderOffset + 30 + localNameLen + dv.getUint16(localHeaderOffset + 28, true);
    if (method === 0 && compressedSize !== size) throw corrupt(`stored entry '${shown}' has ${compressedSize} bytes but declares ${size}`);
    if (dataStart + compressedSize > cdOffset) {
      throw corrupt(`data of '${shown}' (${compressedSize} bytes at offset ${dataStart}) runs into the central directory at ${cdOffset}`);
    }
    if (entries.has(name)) throw corrupt(`the archive holds '${shown}' twice`);
    const entry: ZipEntry = { name, method, flags, crc32: crc, compressedSize, size, localHeaderOffset };
    entries.set(name, entry);
    order.push(name);
    spans.push({ name, begin: localHeaderOffset, end: dataStart + compressedSize });
    p = end;
  }
  spans.sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i]!.begin < spans[i - 1]!.end) {
      throw corrupt(`entries '${cleanText(spans[i - 1]!.name)}' and '${cleanText(spans[i]!.name)}' overlap`);
    }
  }
  let inflateBudget = opts.maxInflatedBytes ?? Math.max(64 * 2 ** 20, 16 * len);

  const cache = new Map<string, Uint8Array>();

  function locate(name: string): { entry: ZipEntry; data: Uint8Array } {
    const entry = entries.get(name);
    if (!entry) throw new HybridVisionError(`zip archive has no entry '${cleanText(name)}'`);
    if (entry.flags & 1) throw new HybridVisionError(`zip entry '${cleanText(name)}' is encrypted, which is not supported`);
    const off = entry.localHeaderOffset;
    const start = off + 30 + dv.getUint16(off + 26, true) + dv.getUint16(off + 28, true);
    return { entry, data: bytes.subarray(start, start + entry.compressedSize) };
  }

  function check(entry: ZipEntry, out: Uint8Array): Uint8Array {
    if (out.length !== entry.size) throw corrupt(`'${cleanText(entry.name)}' decompressed to ${out.length} bytes, expected ${entry.size}`);
    const c = crc32(out);
    if (c !== entry.crc32) throw corrupt(`CRC-32 mismatch in '${cleanText(entry.name)}'`);
    return out;
  }

  function readSync(name: string): Uint8Array {
    const { entry, data } = locate(name);
    const hit = cache.get(name);
    if (hit && entry.method === 0) return hit;
    if (entry.method !== 0) {
      throw new HybridVisionError(`zip entry '${cleanText(name)}' is compressed (method ${entry.method}); read it asynchronously`);
    }
    const out = check(entry, data);
    cache.set(name, out);
    return out;
  }

  async function read(name: string): Promise<Uint8Array> {
    const hit = cache.get(name);
    if (hit) return hit;
    const { entry, data } = locate(name);
    if (entry.method === 0) return readSync(name);
    if (entry.method !== 8) throw new HybridVisionError(`zip entry '${cleanText(name)}' uses unsupported compression method ${entry.method}`);
    // The declared size is checked against the budget before inflating, and the inflater stops as
    // soon as the output passes it, so neither an honest nor a lying size can exhaust memory.
    if (entry.size > inflateBudget) {
      throw new HybridVisionError(
        `zip entry '${cleanText(name)}' would inflate to ${entry.size} bytes, more than an archive of ${len} bytes may hold (a decompression bomb?)`,
      );
    }
    inflateBudget -= entry.size;
    let out: Uint8Array;
    try {
      out = await inflateRaw(data, entry.size);
    } catch (e) {
      throw corrupt(`cannot inflate '${cleanText(name)}': ${cleanText(String((e as Error)?.message ?? e).split('\n')[0]!)}`);
    }
    cache.set(name, check(entry, out));
    return out;
  }

  return {
    names: () => [...order],
    has: (name) => entries.has(name),
    entry: (name) => entries.get(name),
    read,
    readSync,
  };
}

/** Inflates a raw DEFLATE stream with the platform's DecompressionStream. */
export async function inflateRaw(data: Uint8Array, expectedSize?: number): Promise<Uint8Array> {
  if (typeof DecompressionStream === 'undefined') {
    throw new HybridVisionError('this JavaScript runtime has no DecompressionStream, needed for deflated zip entries');
  }
  const ds = new DecompressionStream('deflate-raw');
  const writer = ds.writable.getWriter();
  const writing = writer.write(data as Uint8Array<ArrayBuffer>).then(() => writer.close());
  writing.catch(() => undefined);
  const reader = ds.readable.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    total += value.length;
    if (expectedSize !== undefined && total > expectedSize) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`more than the declared ${expectedSize} bytes`);
    }
  }
  await writing;
  if (chunks.length === 1) return chunks[0]!;
  return concatBytes(chunks);
}
