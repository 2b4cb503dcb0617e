/**
 * The shipped dense defaults (assets/default/{detector,segmenter}.safetensors, fp16) on their sample
 * scenes: `detect` and `segment` with no model run offline, and what they find is checked against
 * the scenes' own ground truth (regenerated from Fashion-MNIST).
 */
import { cli } from './helpers/cli.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { defaultSamples } from '../src/cli/assets.js';
import { SCENES_TEST_SEED } from '../src/data/dense_data_node.js';
import { fashionMnistAvailable, FASHION_MNIST_CLASSES, loadFashionMnist } from '../src/data/fashion_mnist_node.js';
import { boxIouXyxy, makeScene } from '../src/data/fmnist_scenes.js';
import { decodePng } from '../src/data/png_node.js';

const skip = fashionMnistAvailable() ? false : 'Fashion-MNIST not installed';
const tmp = mkdtempSync(join(tmpdir(), 'hv-dense-defaults-'));
const samples = defaultSamples('detector');
const scenes = () => {
  const src = loadFashionMnist().test;
  return samples.map((f) => makeScene(src, SCENES_TEST_SEED, Number(/test_(\d+)\.png$/.exec(f)![1])));
};

test('the sample scenes are the first fmnist-scenes test scenes', { skip }, () => {
  assert.ok(samples.length >= 3);
  scenes().forEach((s, i) => assert.deepEqual(decodePng(readFileSync(samples[i])).data, s.pixels, samples[i]));
});

test('detect with no model: the shipped detector finds the items of the sample scenes (label and IoU >= 0.5)', { skip }, () => {
  const r = cli('detect', '--json', '--score', '0.3');
  assert.equal(r.code, 0, r.err);
  const res = JSON.parse(r.out);
  assert.deepEqual(res.map((x: any) => basename(x.image)), samples.map((f) => basename(f)));
  let found = 0;
  let total = 0;
  let extra = 0;
  scenes().forEach((s, i) => {
    const dets = res[i].detections as { label: string; score: number; box: { xmin: number; ymin: number; xmax: number; ymax: number } }[];
    const used = new Set<number>();
    for (const o of s.objects) {
      total++;
      const k = dets.findIndex((d, j) => !used.has(j) && d.label === FASHION_MNIST_CLASSES[o.label] && boxIouXyxy([d.box.xmin, d.box.ymin, d.box.xmax, d.box.ymax], o.box) >= 0.5);
      if (k >= 0) (found++, used.add(k));
    }
    extra += dets.length - used.size;
  });
  // the recorded run's AP50 is above 0.85: nearly every item is found, few false boxes at 0.3
  assert.ok(found >= total - 1, `${found} of ${total} items found`);
  assert.ok(extra <= 2, `${extra} boxes match no item`);
  const plain = cli('detect', '--out', join(tmp, 'det'));
  assert.equal(plain.code, 0, plain.err);
  assert.match(plain.out, /ssdlite_mobilevitv3_xxs_coco trained on fmnist-scenes \(the shipped default detector/);
  const pic = decodePng(readFileSync(join(tmp, 'det', `${basename(samples[0], '.png')}.detections.png`)));
  assert.deepEqual([pic.width, pic.height, pic.channels], [128, 128, 3]);
});

test('segment with no model: the shipped segmenter labels the sample scenes\' pixels (class map vs the scene masks)', { skip }, () => {
  const out = join(tmp, 'seg');
  const r = cli('segment', '--out', out);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /deeplabv3_mobilevitv3_xxs_voc trained on fmnist-scenes \(the shipped default segmenter/);
  let right = 0;
  let n = 0;
  let itemRight = 0;
  let items = 0;
  scenes().forEach((s, i) => {
    const map = decodePng(readFileSync(join(out, `${basename(samples[i], '.png')}.classes.png`))).data;
    for (let p = 0; p < map.length; p++) {
      n++;
      if (map[p] === s.mask[p]) right++;
      if (s.mask[p] > 0) (items++, (itemRight += map[p] === s.mask[p] ? 1 : 0));
    }
  });
  // the recorded run's mIoU is above 0.75
  assert.ok(right / n >= 0.9, `pixel accuracy ${right / n}`);
  assert.ok(itemRight / items >= 0.75, `item-pixel accuracy ${itemRight / items}`);
});
