/** Deterministic N(0, 1) samples for tests (Box-Muller over a small integer hash stream). */
export function normals(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const u = () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    s ^= s >>> 12;
    return ((s >>> 0) + 0.5) / 4294967296;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}
