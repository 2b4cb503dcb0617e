/**
 * Look-inside maps come from graph taps: extra outputs of the same compiled graph. Checked on the
 * golden cases (onnxruntime-node): logits equal the plain forward, every map is a proper softmax
 * along its axis, the expected number of maps appears, and taps cost nothing when not collected.
 */
import '../src/node.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createModel } from '../src/models/registry.js';
import { Inspector, type AttentionMap } from '../src/web/inspect.js';
import { rgbaToRgb } from '../src/web/image.js';
import { assertClose, loadCase } from './helpers/compare.js';
import { goldenOrSkip } from './helpers/golden.js';

const g = goldenOrSkip();

function rowSums(m: AttentionMap): number[] {
  const n = m.h * m.w;
  return Array.from({ length: m.rows }, (_, r) => m.data.subarray(r * n, (r + 1) * n).reduce((a, b) => a + b, 0));
}

test('Mobile-Former: both bridges of every block as maps; logits unchanged; softmax along the right axis', { skip: g.skip }, async () => {
  const c = loadCase(g.dir, 'mobile_former_26m_nc1000_224');
  const m = createModel('mobile_former_26m', { weights: c.weights! });
  const x = c.io.get('input')!;
  const one = { dtype: 'float32' as const, shape: [1, ...x.shape.slice(1)], data: (x.data as Float32Array).slice(0, x.data.length / x.shape[0]) };
  const ins = new Inspector(m);
  const r = await ins.attention(one);
  assertClose(r.logits, await m.forward(one), 1e-4, 1e-4, 'logits with taps');
  const m2f = r.maps.filter((a) => a.kind === 'mobile_to_former');
  const f2m = r.maps.filter((a) => a.kind === 'former_to_mobile');
  assert.equal(f2m.length, 8, 'Mobile-Former-26M: 8 blocks after the stem');
  assert.equal(m2f.length, 9, 'each block plus the bridge after the last block');
  assert.match(f2m[0].scope, /local_global|global_local/);
  for (const a of m2f) {
    assert.equal(a.rows, 3, 'three global tokens');
    for (const s of rowSums(a)) assert.ok(Math.abs(s - 1) < 1e-4, `Mobile→Former row sums to ${s} at ${a.scope}`);
  }
  for (const a of f2m) {
    const n = a.h * a.w;
    for (let p = 0; p < n; p += 7) {
      let s = 0;
      for (let t = 0; t < a.rows; t++) s += a.data[t * n + p];
      assert.ok(Math.abs(s - 1) < 1e-4, `Former→Mobile: pixel ${p} reads tokens with total weight ${s} at ${a.scope}`);
    }
  }
  const first = m2f[0].data;
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of first) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
  assert.ok(hi > 1.3 * lo, `golden (calibrated random) weights give a non-uniform map: min ${lo}, max ${hi}`);
  const sal = await ins.saliency(one);
  assert.equal(sal.map.length, 224 * 224);
  assert.ok(sal.map.every((v) => v >= 0) && sal.map.some((v) => v > 0));
  await ins.release();
  await m.dispose();
});

test('MobileViTv3: one patch-attention map per transformer layer, rows are distributions over the patch grid', { skip: g.skip }, async () => {
  const c = loadCase(g.dir, 'mobilevitv3_xxs_nc1000_256');
  const m = createModel('mobilevitv3_xxs', { weights: c.weights! });
  const x = c.io.get('input')!;
  const ins = new Inspector(m);
  const r = await ins.attention(x);
  assertClose(r.logits, c.io.get('logits')!, 1e-3, 1e-3, 'logits with taps');
  assert.equal(r.maps.length, 2 + 4 + 3, 'XXS: transformer depths 2, 4, 3');
  assert.deepEqual(
    r.maps.map((a) => [a.h, a.w]),
    [[16, 16], [16, 16], [8, 8], [8, 8], [8, 8], [8, 8], [4, 4], [4, 4], [4, 4]],
  );
  for (const a of r.maps) for (const s of rowSums(a)) assert.ok(Math.abs(s - 1) < 1e-4, `row sums to ${s}`);
  await ins.release();
  await m.dispose();
});

test('taps are recorded only by graphs that ask for them, each graph its own', () => {
  const m = createModel('mobilevitv3_xxs', { numClasses: 3 });
  const a = m.build([1, 3, 64, 64], { taps: true }).graph;
  const plain = m.build([1, 3, 64, 64]).graph;
  const b = m.build([1, 3, 64, 64], { taps: true }).graph;
  assert.equal(a.taps.length, 9);
  assert.equal(b.taps.length, 9, 'a second build records its own taps');
  assert.equal(plain.taps.length, 0, 'a graph without the option records none');
  assert.equal(m.build([1, 3, 64, 64], { training: true, taps: true }).graph.taps.length, 0, 'the training lowering marks no taps');
});

test('rgbaToRgb drops alpha and checks the length', () => {
  const rgb = rgbaToRgb(new Uint8ClampedArray([1, 2, 3, 0, 4, 5, 6, 255]), 2, 1);
  assert.deepEqual([...rgb.data], [1, 2, 3, 4, 5, 6]);
  assert.throws(() => rgbaToRgb(new Uint8Array(7), 2, 1), /needs 8 bytes/);
});
