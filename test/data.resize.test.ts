import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fnv1a32 } from '../src/io/synthetic.js';
import { REPO_ROOT } from './helpers/golden.js';

import { cropImage, type RgbImage } from '../src/data/image.js';
import { preprocess, type PreprocessConfig } from '../src/data/preprocess.js';
import { centerCrop, resize, resizeShortSide, shortSideSize, type ResampleFilter } from '../src/data/resize.js';
import { HybridVisionError } from '../src/tensor.js';


const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'resize');

interface SourceSpec {
  width: number;
  height: number;
  seed: number;
  kind: 'noise' | 'mix';
  fnv1a: number;
}

interface CaseSpec {
  op: 'resize' | 'pipeline' | 'timm';
  src: string;
  offset: number;
  length: number;
  filter?: ResampleFilter;
  width?: number;
  height?: number;
  box?: [number, number, number, number];
  size?: number;
  cropHeight?: number;
  cropWidth?: number;
  resizedWidth?: number;
  resizedHeight?: number;
  inputSize?: [number, number];
  cropPct?: number;
  interpolation?: 'bilinear' | 'bicubic';
  mean?: [number, number, number];
  std?: [number, number, number];
  channelOrder?: 'RGB' | 'BGR';
}

interface Manifest {
  pillow: string;
  sources: Record<string, SourceSpec>;
  cases: CaseSpec[];
}

/** Mirror of gen_image in tools/make_resize_fixtures.py (integer-only). */
function genImage(w: number, h: number, seed: number, kind: 'noise' | 'mix'): RgbImage {
  let state = seed >>> 0;
  const data = new Uint8Array(w * h * 3);
  let i = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        state = (state ^ (state << 13)) >>> 0;
        state = (state ^ (state >>> 17)) >>> 0;
        state = (state ^ (state << 5)) >>> 0;
        const n = state >>> 24;
        let v: number;
        if (kind === 'noise') {
          v = n;
        } else {
          let g: number;
          if (c === 0) g = Math.floor((x * 255) / Math.max(w - 1, 1));
          else if (c === 1) g = Math.floor((y * 255) / Math.max(h - 1, 1));
          else g = 255 - Math.floor(((x + y) * 255) / Math.max(w + h - 2, 1));
          const region = ((x >> 3) + (y >> 3)) % 3;
          v = region === 0 ? g : region === 1 ? n : (x + y) & 1 ? 255 : 0;
        }
        data[i++] = v;
      }
    }
  }
  return { width: w, height: h, data };
}


const manifest = JSON.parse(readFileSync(join(FIXTURES, 'manifest.json'), 'utf8')) as Manifest;
const blob = new Uint8Array(readFileSync(join(FIXTURES, 'expected.bin')));
const sources = new Map<string, RgbImage>();
for (const [name, s] of Object.entries(manifest.sources)) sources.set(name, genImage(s.width, s.height, s.seed, s.kind));

function describe(c: CaseSpec): string {
  if (c.op === 'resize') return `resize ${c.src} -> ${c.width}x${c.height} ${c.filter}${c.box ? ` box [${c.box.join(', ')}]` : ''}`;
  if (c.op === 'pipeline') return `Resize(${c.size}) + CenterCrop(${c.cropHeight}x${c.cropWidth}) ${c.src} ${c.filter}`;
  return `timm eval ${c.src} ${c.inputSize!.join('x')} crop_pct ${c.cropPct} ${c.interpolation} ${c.channelOrder}`;
}

function diffU8(got: Uint8Array, want: Uint8Array): { max: number; count: number } {
  assert.equal(got.length, want.length, 'output length');
  let max = 0;
  let count = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    if (d > 0) count++;
    if (d > max) max = d;
  }
  return { max, count };
}

test('generated source images match the Python generator (checksums)', () => {
  for (const [name, s] of Object.entries(manifest.sources)) {
    assert.equal(fnv1a32(sources.get(name)!.data), s.fnv1a, `source ${name}`);
  }
});

let overallMaxU8 = 0;
let overallMaxF32 = 0;

for (const c of manifest.cases) {
  test(`matches Pillow ${manifest.pillow}: ${describe(c)}`, () => {
    const src = sources.get(c.src)!;
    const want = blob.subarray(c.offset, c.offset + c.length);
    if (c.op === 'resize') {
      const got = resize(src, c.width!, c.height!, c.filter!, c.box);
      assert.equal(got.width, c.width);
      assert.equal(got.height, c.height);
      const { max, count } = diffU8(got.data, want);
      overallMaxU8 = Math.max(overallMaxU8, max);
      assert.equal(max, 0, `${count} values differ, max |diff| ${max}`);
    } else if (c.op === 'pipeline') {
      const resized = resizeShortSide(src, c.size!, c.filter!);
      assert.deepEqual([resized.width, resized.height], [c.resizedWidth, c.resizedHeight]);
      const got = centerCrop(resized, c.cropHeight!, c.cropWidth!);
      assert.deepEqual([got.width, got.height], [c.cropWidth, c.cropHeight]);
      const { max, count } = diffU8(got.data, want);
      overallMaxU8 = Math.max(overallMaxU8, max);
      assert.equal(max, 0, `${count} values differ, max |diff| ${max}`);
    } else {
      const cfg: PreprocessConfig = {
        inputSize: c.inputSize!,
        cropPct: c.cropPct!,
        interpolation: c.interpolation!,
        mean: c.mean!,
        std: c.std!,
        channelOrder: c.channelOrder!,
      };
      const got = preprocess(src, cfg);
      const wantF = new Float32Array(want.slice().buffer);
      assert.equal(got.length, wantF.length);
      let max = 0;
      let bitDiff = 0;
      for (let i = 0; i < got.length; i++) {
        const d = Math.abs(got[i]! - wantF[i]!);
        if (d > max) max = d;
        if (!Object.is(got[i], wantF[i])) bitDiff++;
      }
      overallMaxF32 = Math.max(overallMaxF32, max);
      assert.equal(bitDiff, 0, `${bitDiff} float32 values differ, max |diff| ${max}`);
    }
  });
}

test('summary of differences against Pillow', () => {
  console.log(`# resize fixtures: ${manifest.cases.length} cases vs Pillow ${manifest.pillow}; max |diff| uint8 ${overallMaxU8}, float32 ${overallMaxF32}`);
  assert.ok(overallMaxU8 <= 1, 'the hard limit is 1/255');
});

test('same size and full box returns an equal copy', () => {
  const src = sources.get('A')!;
  const out = resize(src, src.width, src.height, 'bicubic');
  assert.deepEqual(out.data, src.data);
  assert.notEqual(out.data, src.data);
});

test('integer box of the output size is a plain crop', () => {
  const src = sources.get('B')!;
  const out = resize(src, 10, 7, 'bicubic', [5, 6, 15, 13]);
  assert.deepEqual(out.data, cropImage(src, 5, 6, 10, 7).data);
});

test('resize rejects bad arguments with one-line errors', () => {
  const src = sources.get('E')!;
  assert.throws(() => resize(src, 0, 3, 'bilinear'), HybridVisionError);
  assert.throws(() => resize(src, 3, 3, 'bilinear', [-1, 0, 7, 5]), /box offset/);
  assert.throws(() => resize(src, 3, 3, 'bilinear', [0, 0, 8, 5]), /exceed/);
  assert.throws(() => resize(src, 3, 3, 'cubic' as ResampleFilter), /unknown filter/);
  assert.throws(() => resize({ width: 2, height: 2, data: new Uint8Array(5) }, 1, 1), /needs 12 bytes/);
});

test('shortSideSize follows torchvision (int(size * long / short))', () => {
  assert.deepEqual(shortSideSize(300, 200, 32), [48, 32]);
  assert.deepEqual(shortSideSize(45, 70, 32), [32, 49]);
  assert.deepEqual(shortSideSize(500, 375, 256), [341, 256]);
  assert.deepEqual(shortSideSize(100, 100, 7), [7, 7]);
});

test('centerCrop uses half-to-even rounding and zero padding like torchvision', () => {
  const img: RgbImage = { width: 5, height: 1, data: Uint8Array.from([1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5]) };
  // (5 - 2) / 2 = 1.5 -> 2
  assert.deepEqual(Array.from(centerCrop(img, 1, 2).data), [3, 3, 3, 4, 4, 4]);
  const img6: RgbImage = { width: 6, height: 1, data: Uint8Array.from({ length: 18 }, (_, i) => Math.floor(i / 3) + 1) };
  // (6 - 1) / 2 = 2.5 -> 2
  assert.deepEqual(Array.from(centerCrop(img6, 1, 1).data), [3, 3, 3]);
  // larger than the image: left pad (4 - 1) // 2 = 1
  const one: RgbImage = { width: 1, height: 1, data: Uint8Array.from([9, 9, 9]) };
  const padded = centerCrop(one, 1, 4);
  assert.deepEqual(Array.from(padded.data), [0, 0, 0, 9, 9, 9, 0, 0, 0, 0, 0, 0]);
});

test('resize of a typical photo size is fast enough', () => {
  const big = genImage(640, 480, 7, 'mix');
  const t0 = performance.now();
  const out = resizeShortSide(big, 256, 'bicubic');
  const ms = performance.now() - t0;
  assert.deepEqual([out.width, out.height], [341, 256]);
  assert.ok(ms < 2000, `took ${ms} ms`);
});
