import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { decodePng, encodePng, crc32 } from '../src/data/png_node.js';
import { parseCocoInstances } from '../src/data/coco_format.js';
import { readVocFolder } from '../src/data/voc_format_node.js';
import { VOC_CLASSES, VOC_PALETTE } from '../src/data/voc_classes.js';
import { COCO_81, COCO_91, COCO_80_CATEGORY_IDS, ssdLabelToCocoId } from '../src/data/coco_classes.js';
import { ADE20K_CLASSES, ade20kLabel } from '../src/data/ade20k_classes.js';

test('PNG: crc32 check value; our encoder round-trips; sharp decodes our palette files to the palette colours', async () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  const w = 13, h = 7;
  const idx = Uint8Array.from({ length: w * h }, (_, i) => (i * 37) % 256);
  const png = encodePng({ width: w, height: h, channels: 1, data: idx, palette: VOC_PALETTE });
  const back = decodePng(png);
  assert.deepEqual(back.data, idx);
  const { data } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  for (let i = 0; i < w * h; i++) assert.deepEqual([...data.subarray(3 * i, 3 * i + 3)], [...VOC_PALETTE.subarray(3 * idx[i], 3 * idx[i] + 3)]);
});

test('PNG: decodes filtered RGB, gray and 4-bit paletted files written by libpng (sharp)', async () => {
  const w = 31, h = 17;
  const rgb = Uint8Array.from({ length: w * h * 3 }, (_, i) => (i * 7 + (i >> 5) * 13) % 256);
  const png = await sharp(rgb, { raw: { width: w, height: h, channels: 3 } }).png({ adaptiveFiltering: true, compressionLevel: 9 }).toBuffer();
  assert.deepEqual(decodePng(png).data, rgb);
  const gray = Uint8Array.from({ length: w * h }, (_, i) => (i * i) % 251);
  const gpng = await sharp(gray, { raw: { width: w, height: h, channels: 1 } }).toColourspace('b-w').png({ adaptiveFiltering: true }).toBuffer();
  const g = decodePng(gpng);
  assert.equal(g.channels, 1);
  assert.deepEqual(g.data, gray);
  const few = Uint8Array.from({ length: w * h * 3 }, (_, i) => ((Math.floor(i / 3) % 5) * 50 + (i % 3) * 10) % 256);
  const ppng = await sharp(few, { raw: { width: w, height: h, channels: 3 } }).png({ palette: true, colours: 16, dither: 0 }).toBuffer();
  const p = decodePng(ppng);
  assert.ok(p.palette);
  for (let i = 0; i < w * h; i++) assert.deepEqual([...p.palette!.subarray(3 * p.data[i], 3 * p.data[i] + 3)], [...few.subarray(3 * i, 3 * i + 3)]);
  assert.throws(() => decodePng(new Uint8Array([1, 2, 3]), 'x.png'), /cannot read PNG x.png: not a PNG file/);
  const cut = encodePng({ width: 4, height: 4, channels: 1, data: new Uint8Array(16) }).subarray(0, 40);
  assert.throws(() => decodePng(cut, 'cut.png'), /cannot read PNG cut.png/);
});

test('COCO annotations: contiguous labels by category id, xyxy boxes, one-line errors for malformed boxes', () => {
  const j = { images: [{ id: 3, file_name: 'a.jpg', width: 100, height: 50 }], categories: [{ id: 9, name: 'b' }, { id: 2, name: 'a' }], annotations: [{ id: 1, image_id: 3, category_id: 9, bbox: [10, 5, 20, 30] }] };
  const s = parseCocoInstances(j);
  assert.deepEqual(s.classNames, ['a', 'b']);
  assert.deepEqual(s.categoryIds, [2, 9]);
  assert.deepEqual([...s.samples[0].boxes], [10, 5, 30, 35]);
  assert.deepEqual([...s.samples[0].labels], [2]);
  const bad = (bbox: unknown) => parseCocoInstances({ ...j, annotations: [{ id: 1, image_id: 3, category_id: 9, bbox }] }, 'x.json');
  assert.throws(() => bad([1, 2, 3]), /^HybridVisionError: x.json: annotations\[0\]: malformed bbox/);
  assert.throws(() => bad([1, 2, -3, 4]), /width and height must be > 0/);
  assert.throws(() => bad([1, 2, 'a', 4]), /malformed bbox/);
  assert.throws(() => bad([90, 2, 30, 4]), /outside the 100x50 image/);
  assert.throws(() => parseCocoInstances({ ...j, annotations: [{ id: 1, image_id: 4, category_id: 9, bbox: [1, 1, 1, 1] }] }), /image_id 4 is not in "images"/);
  assert.throws(() => parseCocoInstances({ ...j, images: [{ id: 3, file_name: '../../etc/passwd', width: 1, height: 1 }] }), /relative path inside the dataset/);
  for (const e of [() => bad([1, 2, 3]), () => bad(null)]) assert.throws(e, (err: Error) => !err.message.includes('\n'));
});

test('VOC folder: label PNG values outside the class range are a one-line error naming the pixel', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hv-voc-'));
  for (const d of ['JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'ImageSets/Segmentation/val.txt'), 'a\nb\n');
  for (const id of ['a', 'b']) writeFileSync(join(dir, 'JPEGImages', `${id}.jpg`), 'x');
  const ok = Uint8Array.from([0, 1, 20, 255]);
  writeFileSync(join(dir, 'SegmentationClass/a.png'), encodePng({ width: 2, height: 2, channels: 1, data: ok, palette: VOC_PALETTE }));
  writeFileSync(join(dir, 'SegmentationClass/b.png'), encodePng({ width: 2, height: 2, channels: 1, data: Uint8Array.from([0, 0, 0, 21]), palette: VOC_PALETTE }));
  assert.throws(() => readVocFolder(dir, 'val', 21), /b\.png: value 21 at \(x 1, y 1\) is outside the classes 0\.\.20 \(255 = ignore\)/);
  writeFileSync(join(dir, 'ImageSets/Segmentation/val.txt'), 'a\n');
  assert.deepEqual(readVocFolder(dir, 'val', 21)[0].label, ok);
  assert.throws(() => readVocFolder(dir, 'train', 21), /no ImageSets\/Segmentation\/train.txt/);
});

test('class tables: VOC 21 + palette, COCO 91/81 layouts, ADE20K 150 with background ignored', () => {
  assert.equal(VOC_CLASSES.length, 21);
  assert.deepEqual([...VOC_PALETTE.subarray(0, 12)], [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0]);
  assert.deepEqual([...VOC_PALETTE.subarray(15 * 3, 15 * 3 + 3)], [192, 128, 128]); // person
  assert.deepEqual([...VOC_PALETTE.subarray(765)], [224, 224, 192]); // void
  assert.equal(COCO_91.length, 91);
  assert.equal(COCO_91.filter((n) => n === 'N/A').length, 10);
  assert.equal(COCO_80_CATEGORY_IDS.length, 80);
  assert.equal(COCO_81.length, 81);
  assert.equal(COCO_91[1], 'person');
  assert.equal(COCO_91[90], 'toothbrush');
  assert.equal(ssdLabelToCocoId(12), 13); // stop sign: the 12th category has id 13
  assert.equal(COCO_81[12], 'stop sign');
  assert.equal(ssdLabelToCocoId(80), 90);
  assert.equal(ssdLabelToCocoId(0), null);
  assert.equal(ADE20K_CLASSES.length, 150);
  assert.equal(new Set(ADE20K_CLASSES).size, 150);
  assert.equal(ade20kLabel(0), 255);
  assert.equal(ade20kLabel(1), 0);
  assert.equal(ade20kLabel(150), 149);
});
