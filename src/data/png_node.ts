/**
 * A small PNG encoder/decoder (Node-only: zlib). It exists for label maps: VOC SegmentationClass PNGs
 * are 8-bit paletted, and their palette *indices* are the class ids, which general decoders (sharp)
 * turn into colours. Decodes non-interlaced gray / gray+alpha / RGB / RGBA at 8 bits and palette at
 * 1/2/4/8 bits; encodes 8-bit gray, RGB and palette.
 */
import { deflateSync, inflateSync } from 'node:zlib';
import { HybridVisionError } from '../tensor.js';

const SIG = Uint8Array.from([137, 80, 78, 71, 13, 10, 26, 10]);

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  dv.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

export interface PngImage {
  width: number;
  height: number;
  /** 1 (gray or palette indices), 2 (gray+alpha), 3 (RGB) or 4 (RGBA) bytes per pixel, row-major */
  channels: 1 | 2 | 3 | 4;
  data: Uint8Array;
  /** for paletted images: 256×3 (or fewer) RGB entries; `data` then holds indices */
  palette?: Uint8Array;
}

/** Encodes 8-bit gray (channels 1), RGB (3) or, with a palette, indexed colour. Filter 0 on every row. */
export function encodePng(img: PngImage): Uint8Array {
  const { width: w, height: h, channels: ch, data, palette } = img;
  if (data.length !== w * h * ch) throw new HybridVisionError(`encodePng: ${data.length} bytes for ${w}x${h}x${ch}`);
  if (palette && ch !== 1) throw new HybridVisionError('encodePng: a paletted image has one index per pixel');
  const colorType = palette ? 3 : ch === 1 ? 0 : ch === 2 ? 4 : ch === 3 ? 2 : 6;
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, w);
  dv.setUint32(4, h);
  ihdr.set([8, colorType, 0, 0, 0], 8);
  const raw = new Uint8Array(h * (w * ch + 1));
  for (let y = 0; y < h; y++) raw.set(data.subarray(y * w * ch, (y + 1) * w * ch), y * (w * ch + 1) + 1);
  const parts = [SIG, chunk('IHDR', ihdr)];
  if (palette) parts.push(chunk('PLTE', palette));
  parts.push(chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', new Uint8Array(0)));
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) out.set(p, off), (off += p.length);
  return out;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Decodes a PNG; palette images keep their indices (and return the palette). One-line errors. */
export function decodePng(bytes: Uint8Array, label = '<png>'): PngImage {
  const bad = (why: string): never => {
    throw new HybridVisionError(`cannot read PNG ${label}: ${why}`);
  };
  if (bytes.length < 8 || SIG.some((v, i) => bytes[i] !== v)) bad('not a PNG file');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let off = 8;
  let w = 0, h = 0, depth = 0, ct = -1, interlace = 0;
  let palette: Uint8Array | undefined;
  const idat: Uint8Array[] = [];
  while (off + 8 <= bytes.length) {
    const len = dv.getUint32(off);
    const type = String.fromCharCode(...bytes.subarray(off + 4, off + 8));
    if (off + 12 + len > bytes.length) bad(`truncated ${type} chunk`);
    const data = bytes.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      w = dv.getUint32(off + 8);
      h = dv.getUint32(off + 12);
      depth = data[8];
      ct = data[9];
      interlace = data[12];
    } else if (type === 'PLTE') palette = Uint8Array.from(data);
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  if (ct < 0 || w < 1 || h < 1) bad('no valid IHDR');
  if (w * h > 1 << 28) bad(`image too large (${w}x${h})`);
  if (interlace) bad('interlaced PNGs are not supported');
  const ch = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[ct];
  if (!ch) bad(`unsupported colour type ${ct}`);
  if (ct === 3 ? ![1, 2, 4, 8].includes(depth) : depth !== 8) bad(`unsupported bit depth ${depth} for colour type ${ct}`);
  if (ct === 3 && !palette) bad('paletted PNG without a PLTE chunk');
  let raw: Uint8Array;
  try {
    raw = inflateSync(Buffer.concat(idat));
  } catch (e) {
    return bad(`corrupt image data (${(e as Error).message.split('\n')[0]})`);
  }
  const bpp = Math.max(1, (ch * depth) >> 3);
  const stride = Math.ceil((w * ch * depth) / 8);
  if (raw.length < h * (stride + 1)) bad('image data too short');
  const rows = new Uint8Array(h * stride);
  for (let y = 0; y < h; y++) {
    const ft = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const cur = rows.subarray(y * stride, (y + 1) * stride);
    const prev = y > 0 ? rows.subarray((y - 1) * stride, y * stride) : new Uint8Array(stride);
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? cur[i - bpp] : 0;
      const b = prev[i];
      const c = i >= bpp ? prev[i - bpp] : 0;
      const x = src[i];
      switch (ft) {
        case 0: cur[i] = x; break;
        case 1: cur[i] = x + a; break;
        case 2: cur[i] = x + b; break;
        case 3: cur[i] = x + ((a + b) >> 1); break;
        case 4: cur[i] = x + paeth(a, b, c); break;
        default: bad(`bad filter type ${ft} in row ${y}`);
      }
    }
  }
  let out = rows;
  if (depth < 8) {
    out = new Uint8Array(w * h);
    const per = 8 / depth;
    const m = (1 << depth) - 1;
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) out[y * w + x] = (rows[y * stride + Math.floor(x / per)] >> (8 - depth * ((x % per) + 1))) & m;
  }
  return { width: w, height: h, channels: ch as 1 | 2 | 3 | 4, data: out, palette: ct === 3 ? palette : undefined };
}
