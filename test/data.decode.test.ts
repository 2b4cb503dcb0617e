import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fnv1a32 } from '../src/io/synthetic.js';
import { REPO_ROOT } from './helpers/golden.js';

import { decodeImageBytes, decodeImageFile } from '../src/data/decode_node.js';
import { HybridVisionError } from '../src/tensor.js';


const IMAGES = join(REPO_ROOT, 'test', 'fixtures', 'images');
const fixture = (name: string): string => join(IMAGES, name);

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}


test('PNG decodes to exactly the pixels Pillow reads', async () => {
  // tools/make_resize_fixtures.py saved source 'B' as test.png and asserted that Pillow reads
  // back exactly those bytes; the manifest holds their FNV-1a checksum.
  const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'resize', 'manifest.json'), 'utf8')) as {
    sources: Record<string, { width: number; height: number; fnv1a: number }>;
  };
  const b = manifest.sources['B']!;
  const img = await decodeImageFile(fixture('test.png'));
  assert.deepEqual([img.width, img.height], [b.width, b.height]);
  assert.equal(fnv1a32(img.data), b.fnv1a);
  // and Pillow's convert('L') of it (ITU-R 601-2 luma in fixed point, as libImaging does)
  const gray = new Uint8Array(readFileSync(fixture('gray.png.gray')));
  for (let i = 0; i < gray.length; i++) {
    const l = (img.data[i * 3]! * 19595 + img.data[i * 3 + 1]! * 38470 + img.data[i * 3 + 2]! * 7471 + 0x8000) >> 16;
    assert.equal(l, gray[i], `pixel ${i}`);
  }
});

test('JPEG decodes within 2/255 of Pillow', async () => {
  const img = await decodeImageFile(fixture('test.jpg'));
  const ref = new Uint8Array(readFileSync(fixture('test.jpg.rgb')));
  assert.deepEqual([img.width, img.height], [64, 48]);
  const d = maxDiff(img.data, ref);
  console.log(`# JPEG decode vs Pillow: max |diff| ${d}`);
  assert.ok(d <= 2, `max |diff| ${d}`);
});

test('grayscale PNG becomes RGB with equal channels', async () => {
  const img = await decodeImageFile(fixture('gray.png'));
  const gray = new Uint8Array(readFileSync(fixture('gray.png.gray')));
  assert.deepEqual([img.width, img.height], [64, 48]);
  for (let i = 0; i < gray.length; i++) {
    assert.equal(img.data[i * 3], gray[i]);
    assert.equal(img.data[i * 3 + 1], gray[i]);
    assert.equal(img.data[i * 3 + 2], gray[i]);
  }
});

test('RGBA PNG drops alpha without compositing', async () => {
  const rgba = await decodeImageFile(fixture('rgba.png'));
  const rgb = await decodeImageFile(fixture('test.png'));
  assert.deepEqual(rgba.data, rgb.data);
});

test('EXIF orientation is applied', async () => {
  const img = await decodeImageFile(fixture('exif6.jpg'));
  const ref = new Uint8Array(readFileSync(fixture('exif6.jpg.rgb')));
  assert.deepEqual([img.width, img.height], [48, 64]);
  const d = maxDiff(img.data, ref);
  assert.ok(d <= 2, `max |diff| ${d}`);
});

test('decodeImageBytes decodes from memory', async () => {
  const bytes = new Uint8Array(readFileSync(fixture('test.png')));
  const a = await decodeImageBytes(bytes);
  const b = await decodeImageFile(fixture('test.png'));
  assert.deepEqual(a, b);
});

async function oneLineError(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof HybridVisionError, `not a HybridVisionError: ${String(err)}`);
    assert.match(err.message, pattern);
    assert.ok(!err.message.includes('\n'), `multi-line message: ${JSON.stringify(err.message)}`);
    return true;
  });
}

test('a missing file gives a one-line error naming it', async () => {
  const p = fixture('does-not-exist.png');
  await oneLineError(decodeImageFile(p), new RegExp(`^cannot read image ${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: no such file$`));
});

test('a corrupt (truncated) file gives a one-line error', async () => {
  await oneLineError(decodeImageFile(fixture('corrupt.png')), /^cannot read image .*corrupt\.png: .+/);
});

test('garbage bytes and empty input give one-line errors', async () => {
  await oneLineError(decodeImageBytes(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]), 'junk.bin'), /^cannot read image junk\.bin: .+/);
  await oneLineError(decodeImageBytes(new Uint8Array(0), 'empty.jpg'), /^cannot read image empty\.jpg: empty file$/);
});

test('a directory gives a one-line error', async () => {
  await oneLineError(decodeImageFile(IMAGES), /: is a directory$/);
});
