import assert from 'node:assert/strict';
import { test } from 'node:test';

import { createImage, toRgb, type RgbImage } from '../src/data/image.js';
import {
  DEFAULT_PREPROCESS,
  batchImages,
  grayToRgb,
  imageToChw,
  preprocess,
  resizeAndCrop,
  type PreprocessConfig,
} from '../src/data/preprocess.js';
import { HybridVisionError } from '../src/tensor.js';

function noise(w: number, h: number, seed = 12345): RgbImage {
  let s = seed >>> 0;
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = s >>> 24;
  }
  return { width: w, height: h, data };
}

test('default config: 500x375 -> short side 256 -> 224x224 CHW', () => {
  const img = noise(500, 375);
  const cropped = resizeAndCrop(img, DEFAULT_PREPROCESS);
  assert.deepEqual([cropped.width, cropped.height], [224, 224]);
  const chw = preprocess(img, DEFAULT_PREPROCESS);
  assert.equal(chw.length, 3 * 224 * 224);
  assert.ok(chw.every((v) => Number.isFinite(v)));
});

test('floor(size / crop_pct): 224 / 0.9 = 248.9 -> 248', () => {
  const cfg: PreprocessConfig = { ...DEFAULT_PREPROCESS, cropPct: 0.9 };
  // a 248-short-side image is not resized, only center-cropped
  const img = noise(300, 248);
  const direct = resizeAndCrop(img, cfg);
  const left = Math.round((300 - 224) / 2);
  const top = 12;
  const expect = new Uint8Array(224 * 224 * 3);
  for (let y = 0; y < 224; y++) expect.set(img.data.subarray(((y + top) * 300 + left) * 3, ((y + top) * 300 + left + 224) * 3), y * 224 * 3);
  assert.deepEqual(direct.data, expect);
});

test('normalisation is float32 (x / 255 - mean) / std, per channel', () => {
  const img = createImage(2, 1, [255, 0, 128]);
  const mean: [number, number, number] = [0.485, 0.456, 0.406];
  const std: [number, number, number] = [0.229, 0.224, 0.225];
  const chw = imageToChw(img, mean, std);
  const f = Math.fround;
  const want = (v: number, c: number) => f(f(f(v / 255) - f(mean[c]!)) / f(std[c]!));
  assert.deepEqual(Array.from(chw), [want(255, 0), want(255, 0), want(0, 1), want(0, 1), want(128, 2), want(128, 2)]);
});

test('BGR puts blue in channel 0', () => {
  const img = createImage(1, 1, [10, 20, 30]);
  const zero: [number, number, number] = [0, 0, 0];
  const one: [number, number, number] = [1, 1, 1];
  const rgb = imageToChw(img, zero, one, 'RGB');
  const bgr = imageToChw(img, zero, one, 'BGR');
  assert.deepEqual(Array.from(rgb), [10, 20, 30].map((v) => Math.fround(v / 255)));
  assert.deepEqual(Array.from(bgr), [30, 20, 10].map((v) => Math.fround(v / 255)));
});

test('batchImages stacks to [N, 3, H, W]', () => {
  const a = new Float32Array(3 * 2 * 2).fill(1);
  const b = new Float32Array(3 * 2 * 2).fill(2);
  const t = batchImages([a, b], 2, 2);
  assert.equal(t.dtype, 'float32');
  assert.deepEqual(t.shape, [2, 3, 2, 2]);
  assert.equal(t.data.length, 24);
  assert.equal(t.data[11], 1);
  assert.equal(t.data[12], 2);
  assert.throws(() => batchImages([new Float32Array(5)], 2, 2), HybridVisionError);
});

test('grayToRgb replicates; toRgb drops alpha', () => {
  const g = grayToRgb(Uint8Array.from([1, 2, 3, 4]), 2, 2);
  assert.deepEqual(Array.from(g.data), [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
  assert.throws(() => grayToRgb(new Uint8Array(3), 2, 2), HybridVisionError);
  const rgba = toRgb(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]), 2, 1, 4);
  assert.deepEqual(Array.from(rgba.data), [1, 2, 3, 5, 6, 7]);
});

test('invalid configs are rejected', () => {
  const img = noise(10, 10);
  assert.throws(() => preprocess(img, { ...DEFAULT_PREPROCESS, cropPct: 0 }), /crop_pct/);
  assert.throws(() => preprocess(img, { ...DEFAULT_PREPROCESS, inputSize: [0, 5] }), /input size/);
  assert.throws(() => preprocess(img, { ...DEFAULT_PREPROCESS, std: [1, 0, 1] }), /mean\/std/);
});
