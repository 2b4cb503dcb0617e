import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { boxIouXyxy, makeScene, type FmnistSource } from '../src/data/fmnist_scenes.js';
import { fashionMnistAvailable, loadFashionMnist } from '../src/data/fashion_mnist_node.js';
import { writeFmnistScenes } from '../src/data/fmnist_scenes_node.js';
import { readCocoFolder } from '../src/data/coco_format_node.js';
import { readVocFolder } from '../src/data/voc_format_node.js';
import { decodePng } from '../src/data/png_node.js';
import { VOC_PALETTE } from '../src/data/voc_classes.js';
import { decodeImageFile } from '../src/data/decode_node.js';
import { cocoEvaluate } from '../src/eval/coco_eval.js';

/** A synthetic 28x28 source: item i is a filled rectangle whose size and brightness depend on i. */
function fakeSource(n = 50): FmnistSource {
  const images = new Uint8Array(n * 784);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 10;
    const h = 8 + (i % 17), w = 6 + ((i * 7) % 19), y0 = (28 - h) >> 1, x0 = (28 - w) >> 1;
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) images[i * 784 + y * 28 + x] = 120 + (i % 120);
  }
  return { images, labels, count: n, rows: 28, cols: 28 };
}

/** Checks every rule of the spec that is visible in the output. */
function checkScene(src: FmnistSource, s: ReturnType<typeof makeScene>, S: number) {
  assert.ok(s.objects.length >= 1 && s.objects.length <= 4, `${s.objects.length} items`);
  for (const [i, a] of s.objects.entries()) {
    assert.ok(a.box[0] >= 0 && a.box[1] >= 0 && a.box[2] <= S && a.box[3] <= S && a.box[2] > a.box[0] && a.box[3] > a.box[1], `box ${a.box}`);
    assert.ok(a.scale >= 1 && a.scale <= 3);
    assert.equal(a.label, src.labels[a.source]);
    for (const b of s.objects.slice(i + 1)) assert.ok(boxIouXyxy(a.box, b.box) <= 0.3 + 1e-12);
  }
  // Every labelled pixel lies inside a box of its class; the last item drawn with that pixel wins.
  for (let y = 0; y < S; y++)
    for (let x = 0; x < S; x++) {
      const m = s.mask[y * S + x];
      if (m === 0) continue;
      const owners = s.objects.filter((o) => x >= o.box[0] && x < o.box[2] && y >= o.box[1] && y < o.box[3]);
      assert.ok(owners.some((o) => o.label + 1 === m), `mask ${m} at ${x},${y} outside every box of class ${m - 1}`);
      assert.ok(s.pixels[y * S + x] > 25, 'labelled pixels are brighter than 0.1');
    }
}

test('fmnist-scenes: 1-4 items, boxes inside, pairwise IoU <= 0.3, masks inside their boxes, deterministic', () => {
  const src = fakeSource();
  const counts = new Set<number>();
  for (let i = 0; i < 40; i++) {
    const s = makeScene(src, 7, i);
    checkScene(src, s, 128);
    counts.add(s.objects.length);
    const again = makeScene(src, 7, i);
    assert.deepEqual(again.pixels, s.pixels);
    assert.deepEqual(again.mask, s.mask);
  }
  assert.deepEqual([...counts].sort(), [1, 2, 3, 4]);
  assert.notDeepEqual(makeScene(src, 8, 0).pixels, makeScene(src, 7, 0).pixels);
  // a box is the tight box of the item's pixels above 10% of its max: with a single rectangle item the
  // box is the rectangle scaled, so the mask (intensity > 0.1 everywhere inside) fills it exactly
  const s = makeScene(src, 3, 5, { minItems: 1, maxItems: 1 });
  const [x1, y1, x2, y2] = s.objects[0].box;
  let inside = 0;
  for (let y = y1; y < y2; y++) for (let x = x1; x < x2; x++) inside += s.mask[y * 128 + x] ? 1 : 0;
  let all = 0;
  for (const v of s.mask) all += v ? 1 : 0;
  assert.equal(inside, all);
  assert.ok(inside >= 0.9 * (x2 - x1) * (y2 - y1));
  assert.throws(() => makeScene(src, 1, 0, { size: 60 }), /--size must be an integer >= 84/);
});

test('fmnist-scenes on the real Fashion-MNIST: items come from the matching split', { skip: fashionMnistAvailable() ? false : 'Fashion-MNIST not installed' }, () => {
  const fm = loadFashionMnist();
  for (const split of [fm.train, fm.test])
    for (let i = 0; i < 10; i++) {
      const s = makeScene(split, 11, i, { size: 96 });
      checkScene(split, s, 96);
      for (const o of s.objects) assert.ok(o.source < split.count);
    }
});

test('writing fmnist-scenes gives COCO and VOC folders the readers load back exactly', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'hv-scenes-')), 'set');
  const src = fakeSource();
  const r = await writeFmnistScenes({ out, count: 6, seed: 3, split: 'test', size: 96, source: src });
  assert.equal(r.images, 6);
  const coco = readCocoFolder(out, 'test');
  assert.equal(coco.samples.length, 6);
  assert.equal(coco.classNames[0], 'T-shirt/top');
  const voc = readVocFolder(out, 'test', 11);
  let objects = 0;
  for (let i = 0; i < 6; i++) {
    const s = makeScene(src, 3, i, { size: 96 });
    const c = coco.samples[i];
    assert.deepEqual([...c.boxes], s.objects.flatMap((o) => o.box));
    assert.deepEqual([...c.labels], s.objects.map((o) => o.label + 1));
    objects += s.objects.length;
    assert.deepEqual(voc[i].label, s.mask);
    const img = await decodeImageFile(coco.imagePaths[i]);
    let err = 0;
    for (let p = 0; p < 96 * 96; p++) err += Math.abs(img.data[3 * p] - s.pixels[p]);
    assert.ok(err / (96 * 96) < 3, `JPEG mean abs error ${err / (96 * 96)}`);
  }
  assert.equal(objects, r.objects);
  const png = decodePng(readFileSync(join(out, 'SegmentationClass', 'test_000000.png')));
  assert.deepEqual(png.palette, VOC_PALETTE);
  // the annotations evaluate to AP 1 against themselves
  const gt = JSON.parse(readFileSync(join(out, 'instances_test.json'), 'utf8'));
  const dt = gt.annotations.map((a: any) => ({ image_id: a.image_id, category_id: a.category_id, bbox: a.bbox, score: 1 }));
  assert.ok(Math.abs(cocoEvaluate(gt, dt).stats[1] - 1) < 1e-12);
  // an existing split is never overwritten
  await assert.rejects(writeFmnistScenes({ out, count: 2, seed: 9, split: 'test', size: 96, source: src }), /already exists/);
  assert.ok(existsSync(join(out, 'instances_test.json')));
});

test('makeSceneSet holds the same scenes as makeScene, in order', async () => {
  const { makeSceneSet } = await import('../src/data/fmnist_scenes.js');
  const src = fakeSource();
  const set = makeSceneSet(src, 4, 3, { size: 90 });
  for (let i = 0; i < 3; i++) {
    const s = makeScene(src, 4, i, { size: 90 });
    assert.deepEqual(set.pixels.subarray(i * 8100, (i + 1) * 8100), s.pixels);
    assert.deepEqual(set.masks.subarray(i * 8100, (i + 1) * 8100), s.mask);
    assert.deepEqual(set.objects[i], s.objects);
  }
});

test('detection and segmentation folders load into memory at a model size (boxes scaled, labels nearest)', async () => {
  const { loadDetectionFolder, loadSegmentationFolder } = await import('../src/data/dense_dataset_node.js');
  const { flipBoxes, resizeLabelMap } = await import('../src/data/dense_dataset.js');
  const out = join(mkdtempSync(join(tmpdir(), 'hv-dense-')), 'set');
  const src = fakeSource();
  await writeFmnistScenes({ out, count: 3, seed: 8, split: 'train', size: 96, source: src });
  const det = await loadDetectionFolder(out, 'train', 64);
  const seg = await loadSegmentationFolder(out, 'train', 48, ['background', ...'0123456789'.split('')]);
  for (let i = 0; i < 3; i++) {
    const s = makeScene(src, 8, i, { size: 96 });
    assert.deepEqual([...det.boxes[i]], s.objects.flatMap((o) => o.box.map((v) => Math.fround((v * 64) / 96))));
    assert.deepEqual([...det.labels[i]], s.objects.map((o) => o.label + 1));
    assert.deepEqual(seg.labels.subarray(i * 48 * 48, (i + 1) * 48 * 48), resizeLabelMap(s.mask, 96, 96, 48, 48));
  }
  assert.equal(det.pixels.length, 3 * 64 * 64 * 3);
  assert.deepEqual([...resizeLabelMap(Uint8Array.from([1, 2, 3, 4]), 2, 2, 4, 4)], [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  assert.deepEqual([...flipBoxes(Float32Array.from([10, 2, 30, 8]), 100)], [70, 2, 90, 8]);
});
