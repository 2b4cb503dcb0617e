import { maxWeightDiff } from './helpers/compare.js';
/**
 * Dense training through the one fit loop: short runs on tiny fmnist-scenes sets lower the loss
 * (SSDLite, DeepLabv3, RetinaNet), a dense run resumed after its first epoch ends where an
 * uninterrupted one does, the task evaluations score perfect predictions perfectly, and bad data
 * gets one-line errors.
 */
import '../src/node.js';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fashionMnistAvailable, FASHION_MNIST_CLASSES, loadFashionMnist } from '../src/data/fashion_mnist_node.js';
import { makeSceneSet, sceneDatasets } from '../src/data/fmnist_scenes.js';
import { flipBoxes } from '../src/data/dense_dataset.js';
import { renderDense, copyLabelMap } from '../src/data/dense_augment.js';
import { createModel } from '../src/models/registry.js';
import { loadTrainCheckpoint, saveTrainCheckpoint } from '../src/train/checkpoint_node.js';
import { retinaTask, segmentationTask, ssdTask } from '../src/train/dense_tasks.js';
import { fit, type FitOptions } from '../src/train/fit.js';
import { initBackbone } from '../src/cli/commands/train_dense.js';
import { REPO_ROOT } from './helpers/golden.js';

const skip = fashionMnistAvailable() ? false : 'Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)';
const tmp = mkdtempSync(join(tmpdir(), 'hv-dense-fit-'));
const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
const norm = { mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'RGB' as const };

let fm: ReturnType<typeof loadFashionMnist> | null = null;
function scenes(count: number, seed: number, size = 96, split: 'train' | 'test' = 'train') {
  fm ??= loadFashionMnist();
  return sceneDatasets(makeSceneSet(split === 'train' ? fm.train : fm.test, seed, count, { size }), FASHION_MNIST_CLASSES);
}

const base: FitOptions = { epochs: 4, batchSize: 4, size: 96, lr: 3e-3, warmupEpochs: 0.25, weightDecay: 0.01, seed: 3, norm };


const falls = (history: { trainLoss: number }[], what: string, by = 0.2) => {
  const first = history[0].trainLoss;
  const last = history[history.length - 1].trainLoss;
  assert.ok(Number.isFinite(last) && last < (1 - by) * first, `${what}: train loss ${first} -> ${last} did not fall by ${100 * by}%`);
};

test('SSDLite-MobileViTv3-XXS: a short fit on 16 scenes lowers the multibox loss; COCO mAP is reported per epoch', { skip }, async () => {
  const tr = scenes(16, 1).detection;
  const te = scenes(8, 2, 96, 'test').detection;
  const m = createModel('ssdlite_mobilevitv3_xxs_coco', { numClasses: 11, seed: 1 });
  const { history, metrics } = await fit(m, ssdTask(m, tr, te, { norm }), null, base);
  falls(history, 'SSDLite');
  assert.equal(metrics?.primary, 'AP');
  for (const h of history) assert.ok(h.metrics && h.metrics.metrics.AP >= 0 && h.metrics.metrics.AP50 <= 1);
  await m.dispose();
});

test('DeepLabv3-MobileViTv3-XXS: a short fit on 16 scenes lowers the pixel cross-entropy and raises pixel accuracy', { skip }, async () => {
  const tr = scenes(16, 1).segmentation;
  const m = createModel('deeplabv3_mobilevitv3_xxs_voc', { numClasses: 11, seed: 1 });
  const task = segmentationTask(tr, tr, { norm });
  const before = await task.evaluate(m);
  const { history, metrics } = await fit(m, task, null, base);
  falls(history, 'DeepLabv3');
  assert.equal(metrics?.primary, 'mIoU');
  assert.ok(metrics!.metrics.pixelAccuracy > before!.metrics.pixelAccuracy, `pixel accuracy ${before!.metrics.pixelAccuracy} -> ${metrics!.metrics.pixelAccuracy}`);
  await m.dispose();
});

test('RetinaNet-Mobile-Former-26M: a short fit on 8 scenes at 96x96 lowers the focal + L1 loss', { skip }, async () => {
  const tr = scenes(8, 1).detection;
  const m = createModel('retinanet_mobile_former_26m', { numClasses: 11, seed: 1 });
  const { history } = await fit(m, retinaTask(m, tr, null, { norm }), null, { ...base, epochs: 6, lr: 3e-3 });
  falls(history, 'RetinaNet', 0.15);
  await m.dispose();
});

test('a dense run (SSDLite, EMA) interrupted after one epoch and resumed ends with the same weights as an uninterrupted run', { skip }, async () => {
  const tr = scenes(8, 4).detection;
  const o = { ...base, epochs: 2, emaDecay: 0.9 };
  const full = createModel('ssdlite_mobilevitv3_xxs_coco', { numClasses: 11, seed: 5 });
  await fit(full, ssdTask(full, tr, null, { norm }), null, o);
  const ckpt = join(tmp, 'resume.safetensors');
  const first = createModel('ssdlite_mobilevitv3_xxs_coco', { numClasses: 11, seed: 5 });
  const interrupt = async (s: Parameters<typeof saveTrainCheckpoint>[2]) => {
    await saveTrainCheckpoint(ckpt, { model: 'ssdlite_mobilevitv3_xxs_coco', numClasses: 11, config: {} }, s);
    throw new Error('interrupted');
  };
  await assert.rejects(fit(first, ssdTask(first, tr, null, { norm }), null, o, { checkpoint: interrupt }), /interrupted/);
  const { state } = await loadTrainCheckpoint(ckpt);
  assert.equal(state.epoch, 1);
  const resumed = createModel('ssdlite_mobilevitv3_xxs_coco', { numClasses: 11, seed: 99 });
  await fit(resumed, ssdTask(resumed, tr, null, { norm }), null, o, { resume: state });
  const d = maxWeightDiff(full.weights, resumed.weights);
  assert.ok(d <= 1e-6, `resumed weights differ by ${d}`);
  for (const m of [full, first, resumed]) await m.dispose();
});

test('flip augmentation moves image, boxes and label map together', { skip }, () => {
  const { detection: det, segmentation: seg } = scenes(1, 6, 96);
  const S = 96;
  const x = new Float32Array(3 * S * S);
  const xf = new Float32Array(3 * S * S);
  renderDense(det.pixels, 0, S, false, x, 0, norm, 1);
  renderDense(det.pixels, 0, S, true, xf, 0, norm, 1);
  const y = new Int32Array(S * S);
  const yf = new Int32Array(S * S);
  copyLabelMap(seg.labels, 0, S, false, y, 0);
  copyLabelMap(seg.labels, 0, S, true, yf, 0);
  for (let r = 0; r < S; r += 7)
    for (let c = 0; c < S; c += 5) {
      assert.equal(xf[2 * S * S + r * S + c], x[r * S + S - 1 - c]);
      assert.equal(yf[r * S + c], y[r * S + S - 1 - c]);
    }
  // every flipped box is the tight box of its object's flipped mask pixels
  const fb = flipBoxes(det.boxes[0], S);
  det.labels[0].forEach((l, k) => {
    let x1 = S;
    let x2 = -1;
    const [bx1, by1, bx2, by2] = fb.subarray(4 * k, 4 * k + 4);
    for (let r = by1; r < by2; r++) for (let c = bx1; c < bx2; c++) if (yf[r * S + c] === l) (x1 = Math.min(x1, c)), (x2 = Math.max(x2, c));
    assert.ok(x1 >= bx1 && x2 < bx2, `object ${k}: mask pixels inside the flipped box`);
  });
});

test('the segmentation evaluation scores perfect label maps mIoU 1', { skip }, async () => {
  const seg = scenes(4, 8, 96).segmentation;
  const K = 11;
  const fake = (out: (x: Float32Array, B: number) => Record<string, { dtype: 'float32'; shape: number[]; data: Float32Array }>) => ({ forwardFeatures: async (x: { data: Float32Array; shape: number[] }) => out(x.data, x.shape[0]) }) as never;
  let at = 0;
  const perfectSeg = fake((_, B) => {
    const S = 96;
    const lg = new Float32Array(B * K * S * S);
    for (let b = 0; b < B && at < seg.count; b++, at++) for (let p = 0; p < S * S; p++) lg[b * K * S * S + seg.labels[at * S * S + p] * S * S + p] = 5;
    return { logits: { dtype: 'float32', shape: [B, K, S, S], data: lg } };
  });
  const r = await segmentationTask(seg, seg, { norm, evalBatch: 4 }).evaluate(perfectSeg);
  assert.equal(r!.metrics.mIoU, 1);
  assert.equal(r!.metrics.pixelAccuracy, 1);
});

test('bad dense data: one-line errors', { skip }, async () => {
  const { detection: det, segmentation: seg } = scenes(2, 9, 96);
  const badSeg = { ...seg, labels: seg.labels.slice() };
  badSeg.labels[5] = 40;
  assert.throws(() => segmentationTask(badSeg, null, { norm }), /label value 40 in image 0 is outside the 11 classes/);
  const badBox = { ...det, boxes: [Float32Array.from([10, 10, 5, 30, ...det.boxes[0].subarray(4)]), det.boxes[1]] };
  const m = createModel('ssdlite_mobilevitv3_xxs_coco', { numClasses: 11, seed: 1 });
  assert.throws(() => ssdTask(m, badBox, null, { norm }), /malformed box \[10, 10, 5, 30\]/);
  const badLabel = { ...det, labels: [Int32Array.from(det.labels[0], () => 12), det.labels[1]] };
  assert.throws(() => ssdTask(m, badLabel, null, { norm }), /label 12 outside 1\.\.10/);
  assert.throws(() => retinaTask(createModel('retinanet_mobile_former_26m', { numClasses: 11 }), { ...det, size: 100 }, null, { norm }), /divisible by 32/);
  const wrongClasses = createModel('ssdlite_mobilevitv3_xxs_coco', { numClasses: 5, seed: 1 });
  assert.throws(() => ssdTask(wrongClasses, det, null, { norm }), /has 5 classes, the data 11/);

  const cli = (...args: string[]) => spawnSync(process.execPath, [CLI, 'train', ...args], { encoding: 'utf8' });
  const oneLine = (r: ReturnType<typeof cli>, re: RegExp) => {
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], re);
  };
  oneLine(cli('ssdlite_mobilevitv3_xxs_coco', '--data', join(tmp, 'nowhere')), /--data must be 'fmnist-scenes' or a COCO-format folder/);
  const coco = join(tmp, 'coco');
  mkdirSync(coco, { recursive: true });
  writeFileSync(join(coco, 'instances_train.json'), JSON.stringify({ images: [{ id: 1, file_name: 'a.jpg', width: 10, height: 10 }], annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [1, 1, -3, 2], area: 1 }], categories: [{ id: 1, name: 'x' }] }));
  oneLine(cli('ssdlite_mobilevitv3_xxs_coco', '--data', coco, '--out', join(tmp, 'o1')), /^hybridvision: error: /);
  const voc = join(tmp, 'voc');
  mkdirSync(voc, { recursive: true });
  oneLine(cli('deeplabv3_mobilevitv3_xxs_voc', '--data', voc, '--out', join(tmp, 'o2')), /no ImageSets\/Segmentation/);
  await m.dispose();
  await wrongClasses.dispose();
});

test('backbone initialisation from a classification model copies every encoder tensor of the same key', async () => {
  const cls = createModel('mobilevitv3_xxs', { numClasses: 10, seed: 11 });
  const dense = createModel('deeplabv3_mobilevitv3_xxs_voc', { numClasses: 11, seed: 1 });
  const { copied, of } = initBackbone(dense, cls.stateDict());
  assert.ok(copied > 0.9 * of, `${copied} of ${of}`);
  const k = 'conv_1.block.conv.weight';
  assert.deepEqual([...(dense.weights.get(`encoder.${k}`)!.data as Float32Array)], [...(cls.weights.get(k)!.data as Float32Array)]);
  await cls.dispose();
  await dense.dispose();
});
