/** Training views: which boxes and flips each augmentation draws, and that a flip mirrors the render. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderView, trainView, centerBox } from '../src/data/augment.js';
import { arrayDataset } from '../src/data/dataset.js';
import { rng } from '../src/random.js';

const norm = { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], channelOrder: 'RGB' as const };

test('trainView: pad-crop shifts by up to max(1, pad) (or --shift), flip keeps the canvas centred, none never flips', () => {
  const rand = rng(3);
  const draws = (kind: 'pad-crop' | 'flip' | 'none', n = 2000) => Array.from({ length: n }, () => trainView(kind, 28, 28, 2, true, rand));
  const pc = draws('pad-crop');
  const xs = new Set(pc.map((v) => v.box.x));
  assert.deepEqual([...xs].sort((a, b) => a - b), [-4, -3, -2, -1, 0]);
  assert.ok(pc.every((v) => v.box.w === 32 && v.box.h === 32));
  const shift1 = new Set(Array.from({ length: 500 }, () => trainView('pad-crop', 28, 28, 2, true, rand, 1).box.y));
  assert.deepEqual([...shift1].sort((a, b) => a - b), [-3, -2, -1]);
  for (const kind of ['flip', 'none'] as const) {
    const vs = draws(kind);
    assert.ok(vs.every((v) => v.box.x === -2 && v.box.y === -2 && v.box.w === 32), `${kind}: centred canvas`);
    const flipped = vs.filter((v) => v.flip).length;
    if (kind === 'none') assert.equal(flipped, 0);
    else assert.ok(flipped > 900 && flipped < 1100, `${kind}: ${flipped} of 2000 flipped`);
  }
  assert.ok(draws('pad-crop', 200).some((v) => v.flip) && !trainView('flip', 28, 28, 2, false, rand).flip);
});

test('renderView: a flipped view is the mirror image of the unflipped one', () => {
  const W = 7;
  const H = 5;
  const r = rng(9);
  const ds = arrayDataset(Uint8Array.from({ length: W * H * 3 }, () => Math.floor(r() * 256)), Uint8Array.of(0), W, H, 3, ['a']);
  const S = 9;
  const a = new Float32Array(3 * S * S);
  const b = new Float32Array(3 * S * S);
  const box = centerBox(W, H, 1);
  renderView(ds, 0, box, false, S, a, 0, norm);
  renderView(ds, 0, box, true, S, b, 0, norm);
  let maxDiff = 0;
  for (let c = 0; c < 3; c++) for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) maxDiff = Math.max(maxDiff, Math.abs(a[c * S * S + y * S + x] - b[c * S * S + y * S + (S - 1 - x)]));
  assert.ok(maxDiff < 1e-5, `max |Δ| ${maxDiff}`);
  assert.ok(a.some((v, i) => Math.abs(v - b[i]) > 0.1), 'the image is not symmetric, so the flip changes it');
});
