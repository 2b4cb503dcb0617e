/** IEEE binary16 <-> binary32 conversion, shared by file formats and ONNX export. */

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** Converts IEEE binary16 bit patterns to float32 values (exact; keeps inf, nan and subnormals). */
export function f16ToF32(u16: Uint16Array): Float32Array {
  const out = new Float32Array(u16.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < u16.length; i++) {
    const h = u16[i]!;
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      // zero or subnormal: mant * 2^-24, exact in float32
      out[i] = mant * 5.960464477539063e-8;
      if (sign) out[i] = -out[i]!;
    } else if (exp === 0x1f) {
      bits[i] = (sign | 0x7f800000 | (mant << 13)) >>> 0;
    } else {
      bits[i] = (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
    }
  }
  return out;
}

/** Rounds float32 values to IEEE binary16 bit patterns (round-to-nearest-even; inf, nan, subnormals). */
export function f32ToF16(f: Float32Array): Uint16Array {
  const out = new Uint16Array(f.length);
  for (let i = 0; i < f.length; i++) {
    f32Scratch[0] = f[i]!;
    out[i] = f32BitsToF16(u32Scratch[0]!);
  }
  return out;
}

function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) {
    // inf or nan (keep a quiet, non-zero payload for nan)
    return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  }
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    // half subnormal (or zero): value = m * 2^(e-14) half-ulps, m = 24-bit significand
    if (e < -10) return sign; // < 2^-25: rounds to zero (2^-25 exactly is a tie -> even = 0)
    const m = mant | 0x800000;
    const shift = 14 - e; // 14..24
    let half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1) === 1)) half++;
    return sign | half; // may carry into the smallest normal, which is correct
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1) === 1)) half++; // a carry may reach inf, which is correct
  return sign | half;
}
