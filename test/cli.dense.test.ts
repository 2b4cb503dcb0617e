import { assertOneLineError, cli } from './helpers/cli.js';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fashionMnistAvailable } from '../src/data/fashion_mnist_node.js';
import { goldenOrSkip, REPO_ROOT } from './helpers/golden.js';

const g = goldenOrSkip();
const tmp = mkdtempSync(join(tmpdir(), 'hv-cli-dense-'));


test('coco-eval prints the pycocotools summary and per-category AP; --json gives the stats object', { skip: g.skip }, () => {
  const d = join(g.dir, 'eval');
  for (const c of ['coco_noise', 'coco_categories']) {
    const man = JSON.parse(readFileSync(join(d, `${c}.json`), 'utf8'));
    const r = cli('coco-eval', '--gt', join(d, `${c}.gt.json`), '--dt', join(d, `${c}.dt.json`));
    assert.equal(r.code, 0, r.err);
    const lines = r.out.split('\n');
    assert.deepEqual(lines.slice(0, 12), man.summary_printed);
    for (const id of Object.keys(man.per_category)) assert.match(r.out, new RegExp(`^${id}\\s`, 'm'));
    const j = cli('coco-eval', '--gt', join(d, `${c}.gt.json`), '--dt', join(d, `${c}.dt.json`), '--json');
    assert.equal(j.code, 0, j.err);
    const out = JSON.parse(j.out);
    assert.deepEqual(Object.keys(out.stats), man.stats_names);
    man.stats_names.forEach((n: string, i: number) => assert.ok(Math.abs(out.stats[n] - man.stats[i]) <= 1e-9, n));
    for (const [id, v] of Object.entries<any>(man.per_category)) assert.ok(Math.abs(out.per_category[id].AP - v.AP) <= 1e-9);
  }
});

test('coco-eval: missing file, bad JSON and malformed boxes are one-line errors', () => {
  const gt = join(tmp, 'gt.json');
  const dt = join(tmp, 'dt.json');
  writeFileSync(gt, JSON.stringify({ images: [{ id: 1 }], categories: [{ id: 1 }], annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 5], area: 25 }] }));
  writeFileSync(dt, '[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "score": 0.5}]');
  assertOneLineError(cli('coco-eval', '--gt', gt, '--dt', dt), /annotations\[0\]: bbox must be 4 finite numbers/);
  assertOneLineError(cli('coco-eval', '--gt', join(tmp, 'nope.json'), '--dt', dt), /nope\.json/);
  writeFileSync(join(tmp, 'bad.json'), '{"images": [');
  assertOneLineError(cli('coco-eval', '--gt', join(tmp, 'bad.json'), '--dt', dt), /not valid JSON/);
  assertOneLineError(cli('coco-eval', '--gt', gt), /--gt and --dt are required/);
});

test('data fmnist-scenes writes both formats; bad options and an existing split are one-line errors that write nothing', { skip: fashionMnistAvailable() ? false : 'Fashion-MNIST not installed' }, () => {
  const out = join(tmp, 'scenes');
  const r = cli('data', 'fmnist-scenes', '--out', out, '--count', '5', '--seed', '2', '--split', 'test', '--size', '96');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /wrote 5 test scenes with \d+ objects/);
  const coco = JSON.parse(readFileSync(join(out, 'instances_test.json'), 'utf8'));
  assert.equal(coco.images.length, 5);
  assert.equal(coco.categories.length, 10);
  assert.equal(readFileSync(join(out, 'ImageSets/Segmentation/test.txt'), 'utf8').trim().split('\n').length, 5);
  assertOneLineError(cli('data', 'fmnist-scenes', '--out', out, '--count', '5', '--seed', '2', '--split', 'test'), /already exists/);
  const none = join(tmp, 'none');
  assertOneLineError(cli('data', 'fmnist-scenes', '--out', none, '--count', '5', '--seed', '2', '--size', '40'), /--size must be an integer >= 84/);
  assertOneLineError(cli('data', 'fmnist-scenes', '--out', none, '--count', '0', '--seed', '2'), /--count/);
  assertOneLineError(cli('data', 'imagenet', '--out', none, '--count', '1', '--seed', '2'), /unknown data set 'imagenet'/);
  assert.ok(!existsSync(none));
});

// ---- segment / detect: the CLI against `run` and the library pipeline (golden-format .pt weights) ----
import { decodePng, encodePng } from '../src/data/png_node.js';
import { decodeImageFile } from '../src/data/decode_node.js';
import { resize } from '../src/data/resize.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { VOC_PALETTE } from '../src/data/voc_classes.js';
import { COCO_81, COCO_91 } from '../src/data/coco_classes.js';
import { classMap } from '../src/segment/host.js';
import { denseBatch } from '../src/dense_pipeline.js';
import { pipeline } from '../src/pipeline.js';
import { loadWeights } from '../src/cli/weights.js';
import '../src/node.js';

const SAMPLE = join(REPO_ROOT, 'assets', 'samples', 'bag.png');
const ptWeights = (m: string) => join(g.dir, 'dense', 'pt', `${m}.pt`);

/** The sample resized to the model's input size, written as an RGB PNG (so no resize happens on either path). */
async function sampleAt(size: number): Promise<{ path: string; input: string }> {
  const img = resize(await decodeImageFile(SAMPLE), size, size, 'bilinear');
  const path = join(tmp, `bag${size}.png`);
  writeFileSync(path, encodePng({ width: size, height: size, channels: 3, data: img.data }));
  return { path, input: join(tmp, `bag${size}.safetensors`) };
}

async function runOutputs(model: string, imagePath: string, inputPath: string): Promise<Map<string, any>> {
  const m = await loadWeights(ptWeights(model), model);
  writeFileSync(inputPath, writeSafetensors({ input: denseBatch(m, [await decodeImageFile(imagePath)]) }));
  await m.dispose();
  const out = join(tmp, `${model}.run.safetensors`);
  const r = cli('run', model, '--weights', ptWeights(model), '--input', inputPath, '--output', out);
  assert.equal(r.code, 0, r.err);
  return readSafetensors(readFileSync(out)).tensors;
}

test('segment writes the class map as a VOC-paletted PNG whose indices are the arg-max of run\'s logits, an overlay, and pixel shares', { skip: g.skip }, async () => {
  const model = 'deeplabv3_mobilevitv3_xxs_voc';
  const { path, input } = await sampleAt(512);
  const logits = (await runOutputs(model, path, input)).get('logits');
  const [, C, H, W] = logits.shape;
  const expected = classMap(logits.data, 1, C, H, W);
  const out = join(tmp, 'seg');
  const r = cli('segment', model, '--weights', ptWeights(model), path, '--out', out);
  assert.equal(r.code, 0, r.err);
  const png = decodePng(readFileSync(join(out, 'bag512.classes.png')));
  assert.equal(png.channels, 1);
  assert.deepEqual(png.palette!.subarray(0, 63), VOC_PALETTE.subarray(0, 63));
  assert.deepEqual(png.data, expected);
  const overlay = decodePng(readFileSync(join(out, 'bag512.overlay.png')));
  assert.deepEqual([overlay.width, overlay.height, overlay.channels], [512, 512, 3]);
  // printed shares: the class histogram of the map
  const counts = new Map<number, number>();
  for (const k of expected) counts.set(k, (counts.get(k) ?? 0) + 1);
  for (const [k, c] of counts) assert.match(r.out, new RegExp(`${((100 * c) / expected.length).toFixed(2)}%\\s+${['background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor'][k] ?? ''}`));
  // --json: the pipeline's labels (one per class present), and an unreadable image on its own line with exit 1
  const seg = await pipeline('image-segmentation', await loadWeights(ptWeights(model), model));
  const objs = await seg(path);
  await seg.dispose();
  const j = cli('segment', model, '--weights', ptWeights(model), path, join(tmp, 'missing.png'), '--json');
  assert.equal(j.code, 1);
  const res = JSON.parse(j.out);
  assert.deepEqual(res[0].segments.map((s: any) => s.label), objs.map((o) => o.label));
  for (const o of objs) {
    let n = 0;
    for (const v of o.mask.data) n += v === 255 ? 1 : 0;
    assert.equal(res[0].shares[o.label], n / (512 * 512), o.label);
  }
  assert.match(res[1].error, /missing\.png/);
});

test('detect prints the boxes of run\'s post-processed detections in image pixels; --json equals the object-detection pipeline', { skip: g.skip }, async () => {
  const model = 'ssdlite_mobilevitv3_xxs_coco';
  const { path, input } = await sampleAt(320);
  const o = await runOutputs(model, path, input);
  const j = cli('detect', model, '--weights', ptWeights(model), path, '--score', '0', '--json', '--out', join(tmp, 'det'));
  assert.equal(j.code, 0, j.err);
  const dets = JSON.parse(j.out)[0].detections;
  const scores = o.get('det0_scores').data as Float32Array;
  const labels = o.get('det0_labels').data as BigInt64Array;
  const px = o.get('det0_boxes_px').data as Float32Array;
  assert.ok(scores.length > 0);
  assert.equal(dets.length, scores.length);
  dets.forEach((d: any, i: number) => {
    assert.equal(d.score, scores[i]);
    assert.equal(d.label, COCO_81[Number(labels[i])]);
    assert.deepEqual([d.box.xmin, d.box.ymin, d.box.xmax, d.box.ymax], Array.from(px.subarray(4 * i, 4 * i + 4)));
  });
  const pic = decodePng(readFileSync(join(tmp, 'det', 'bag320.detections.png')));
  assert.deepEqual([pic.width, pic.height, pic.channels], [320, 320, 3]);
  // the library pipeline on the original 28×28 sample, at a threshold; the CLI's JSON is the same objects
  const det = await pipeline('object-detection', await loadWeights(ptWeights(model), model), { threshold: 0.1 });
  const lib = await det(SAMPLE);
  await det.dispose();
  assert.ok(lib.length > 0 && lib.every((d) => d.score >= 0.1 && d.box.xmax <= 28 && d.box.ymax <= 28));
  const c = cli('detect', model, '--weights', ptWeights(model), SAMPLE, '--score', '0.1', '--json');
  assert.equal(c.code, 0, c.err);
  assert.deepEqual(JSON.parse(c.out)[0].detections, JSON.parse(JSON.stringify(lib)));
  // the task comes from the model: a detector is not a segmenter
  await assert.rejects(async () => pipeline('image-segmentation', await loadWeights(ptWeights(model), model)), /object-detection model, not image-segmentation/);
  const bad = cli('segment', model, '--weights', ptWeights(model), SAMPLE);
  assertOneLineError(bad, /object-detection model, not image-segmentation/);
});

// ---- eval on dense models: consistent with coco-eval on the same detections and with segment's class maps ----
import { createModel } from '../src/models/registry.js';
import { modelToSafetensors } from '../src/models/model_file.js';
import { ConfusionMatrix } from '../src/eval/segmentation.js';
import { readdirSync, mkdirSync, cpSync } from 'node:fs';

const fm = fashionMnistAvailable() ? false : 'Fashion-MNIST not installed';
let scenesDir: string | null = null;
function scenes(): string {
  if (scenesDir) return scenesDir;
  scenesDir = join(tmp, 'eval-scenes');
  const r = cli('data', 'fmnist-scenes', '--out', scenesDir, '--count', '8', '--seed', '5', '--split', 'test');
  assert.equal(r.code, 0, r.err);
  return scenesDir;
}

test('eval of a detector on a COCO-format folder: its numbers equal coco-eval on the detections it wrote', { skip: g.skip || fm }, () => {
  const dir = scenes();
  // an untrained 10-category head (11 classes with background), saved as a model file
  const weights = join(tmp, 'ssd11.safetensors');
  writeFileSync(weights, modelToSafetensors(createModel('ssdlite_mobilevitv3_xxs_coco', { numClasses: 11, seed: 3 })));
  const dt = join(tmp, 'eval-dt.json');
  const r = cli('eval', 'ssdlite_mobilevitv3_xxs_coco', '--weights', weights, '--data', dir, '--dt-out', dt, '--json');
  assert.equal(r.code, 0, r.err);
  const ours = JSON.parse(r.out);
  const dets = JSON.parse(readFileSync(dt, 'utf8'));
  assert.equal(ours.images, 8);
  assert.equal(ours.detections, dets.length);
  assert.ok(dets.length > 0 && dets.every((d: any) => d.category_id >= 1 && d.category_id <= 10 && d.bbox.length === 4));
  const ref = cli('coco-eval', '--gt', join(dir, 'instances_test.json'), '--dt', dt, '--json');
  assert.equal(ref.code, 0, ref.err);
  const cocoRef = JSON.parse(ref.out);
  assert.deepEqual(ours.stats, cocoRef.stats);
  assert.deepEqual(ours.per_category, cocoRef.per_category);
  assert.ok(Object.values<number>(ours.stats).some((v) => v > 0), 'an untrained head still matches some boxes');
  // the text form prints the same 12 lines as coco-eval
  const t = cli('eval', 'ssdlite_mobilevitv3_xxs_coco', '--weights', weights, '--data', dir);
  const c = cli('coco-eval', '--gt', join(dir, 'instances_test.json'), '--dt', dt);
  assert.deepEqual(t.out.split('\n').slice(1, 13), c.out.split('\n').slice(0, 12));
});

test('eval of a segmenter on a VOC-format folder: mIoU and pixel accuracy of the class maps segment writes', { skip: g.skip || fm }, () => {
  const dir = scenes();
  const model = 'deeplabv3_mobilevitv3_xxs_voc';
  const r = cli('eval', model, '--weights', ptWeights(model), '--data', dir, '--json');
  assert.equal(r.code, 0, r.err);
  const ours = JSON.parse(r.out);
  const ids = readFileSync(join(dir, 'ImageSets/Segmentation/test.txt'), 'utf8').trim().split('\n');
  const out = join(tmp, 'eval-seg');
  const s = cli('segment', model, '--weights', ptWeights(model), ...ids.map((id) => join(dir, 'JPEGImages', `${id}.jpg`)), '--out', out);
  assert.equal(s.code, 0, s.err);
  const cm = new ConfusionMatrix(21);
  for (const id of ids) cm.add(decodePng(readFileSync(join(out, `${id}.classes.png`))).data, decodePng(readFileSync(join(dir, 'SegmentationClass', `${id}.png`))).data);
  const m = cm.metrics();
  assert.equal(ours.images, 8);
  assert.equal(ours.mIoU, m.mIoU);
  assert.equal(ours.pixelAccuracy, m.pixelAccuracy);
  assert.deepEqual(Object.values(ours.perClassIoU), m.perClassIoU);
});

test('bad input: a checkpoint of another head, a label PNG outside the class range, malformed COCO boxes: one line, exit 1, nothing written', { skip: g.skip || fm }, () => {
  const dir = scenes();
  const out = join(tmp, 'bad-out');
  assertOneLineError(cli('detect', 'ssdlite_mobilevitv3_xxs_coco', '--weights', ptWeights('deeplabv3_mobilevitv3_xxs_voc'), SAMPLE, '--out', out), /does not match the model/);
  assertOneLineError(cli('segment', 'deeplabv3_mobilevitv3_xxs_voc', '--weights', ptWeights('ssdlite_mobilevitv3_xxs_coco'), SAMPLE, '--out', out), /does not match the model/);
  // one level's head for another class count than the rest
  const st = readSafetensors(modelToSafetensors(createModel('ssdlite_mobilevitv3_xxs_coco', { numClasses: 11, seed: 3 })));
  const t = new Map(st.tensors);
  const key = [...t.keys()].find((k) => k.startsWith('ssd_heads.0.loc_cls_layer.pw_conv') && k.endsWith('conv.weight'))!;
  const w0 = t.get(key)!;
  const rows = (w0.shape[0] / 15) * 25;
  t.set(key, { dtype: 'float32', shape: [rows, ...w0.shape.slice(1)], data: new Float32Array((rows * w0.data.length) / w0.shape[0]) });
  const mixed = join(tmp, 'mixed-head.safetensors');
  writeFileSync(mixed, writeSafetensors(t));
  assertOneLineError(cli('detect', 'ssdlite_mobilevitv3_xxs_coco', '--weights', mixed, SAMPLE, '--out', out), new RegExp(`${key.replace(/\./g, '\\.')}.*\\[${rows},`));
  assert.ok(!existsSync(out));
  // a label value 30 in a 21-class folder
  const seg = join(tmp, 'bad-seg');
  cpSync(dir, seg, { recursive: true });
  const id = readFileSync(join(seg, 'ImageSets/Segmentation/test.txt'), 'utf8').trim().split('\n')[3];
  const lp = join(seg, 'SegmentationClass', `${id}.png`);
  const png = decodePng(readFileSync(lp));
  png.data[17] = 30;
  writeFileSync(lp, encodePng(png));
  assertOneLineError(cli('eval', 'deeplabv3_mobilevitv3_xxs_voc', '--weights', ptWeights('deeplabv3_mobilevitv3_xxs_voc'), '--data', seg), new RegExp(`${id}\\.png.*30`));
  // a box with 3 numbers
  const det = join(tmp, 'bad-det');
  mkdirSync(det);
  cpSync(join(dir, 'JPEGImages'), join(det, 'JPEGImages'), { recursive: true });
  const coco = JSON.parse(readFileSync(join(dir, 'instances_test.json'), 'utf8'));
  coco.annotations[2].bbox = coco.annotations[2].bbox.slice(0, 3);
  writeFileSync(join(det, 'instances_test.json'), JSON.stringify(coco));
  const before = readdirSync(det).sort();
  const dt = join(det, 'dt.json');
  assertOneLineError(cli('eval', 'ssdlite_mobilevitv3_xxs_coco', '--weights', ptWeights('ssdlite_mobilevitv3_xxs_coco'), '--data', det, '--dt-out', dt), /bbox/);
  assert.deepEqual(readdirSync(det).sort(), before);
});

// ---- export: the detector ends in boxes/scores/labels, the segmenter in its class map; both equal the host path ----
import * as ort from 'onnxruntime-node';

test('export: SSDLite as one graph ending in boxes, scores, labels equals run\'s post-processed detections; --raw the head outputs; DeepLabv3 --argmax the class map', { skip: g.skip }, async () => {
  const det = 'ssdlite_mobilevitv3_xxs_coco';
  const { path, input } = await sampleAt(320);
  const o = await runOutputs(det, path, input);
  const x = readSafetensors(readFileSync(input)).tensors.get('input')!;
  const onnx = join(tmp, 'ssd.onnx');
  const r = cli('export', det, '--weights', ptWeights(det), '-o', onnx);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /-> boxes, scores, labels/);
  const s = await ort.InferenceSession.create(onnx);
  const res = await s.run({ input: new ort.Tensor('float32', x.data as Float32Array, x.shape) });
  const scores = o.get('det0_scores').data as Float32Array;
  assert.ok(scores.length > 10);
  assert.deepEqual(Array.from(res.labels.data as BigInt64Array), Array.from(o.get('det0_labels').data as BigInt64Array));
  const so = res.scores.data as Float32Array;
  scores.forEach((v, i) => assert.ok(Math.abs(so[i] - v) <= 1e-6, `score ${i}: ${so[i]} vs ${v}`));
  const bo = res.boxes.data as Float32Array;
  (o.get('det0_boxes_px').data as Float32Array).forEach((v, i) => assert.ok(Math.abs(bo[i] - v) <= 1e-3, `box value ${i}: ${bo[i]} vs ${v}`));
  // --raw: the head outputs, equal to run's
  const raw = join(tmp, 'ssd_raw.onnx');
  assert.equal(cli('export', det, '--weights', ptWeights(det), '-o', raw, '--raw').code, 0);
  const rr = await (await ort.InferenceSession.create(raw)).run({ input: new ort.Tensor('float32', x.data as Float32Array, x.shape) });
  const cls = o.get('cls_logits').data as Float32Array;
  (rr.logits.data as Float32Array).forEach((v, i) => assert.ok(Math.abs(v - cls[i]) <= 1e-4));
  assert.deepEqual(rr.box_regressions.dims, o.get('box_regressions').shape);
  // the segmenter's class map
  const seg = 'deeplabv3_mobilevitv3_xxs_voc';
  const s512 = await sampleAt(512);
  const logits = (await runOutputs(seg, s512.path, s512.input)).get('logits');
  const x5 = readSafetensors(readFileSync(s512.input)).tensors.get('input')!;
  const segOnnx = join(tmp, 'seg.onnx');
  const e = cli('export', seg, '--weights', ptWeights(seg), '-o', segOnnx, '--argmax');
  assert.equal(e.code, 0, e.err);
  const cm = (await (await ort.InferenceSession.create(segOnnx)).run({ input: new ort.Tensor('float32', x5.data as Float32Array, x5.shape) })).class_map;
  assert.deepEqual(cm.dims, [1, 512, 512]);
  const [, C, H, W] = logits.shape;
  assert.deepEqual(Uint8Array.from(cm.data as BigInt64Array, Number), classMap(logits.data, 1, C, H, W));
  assertOneLineError(cli('export', seg, '--weights', ptWeights(seg), '-o', join(tmp, 'no.onnx'), '--raw'), /--raw is for detectors/);
  assert.ok(!existsSync(join(tmp, 'no.onnx')));
});

import { retinaDetect } from '../src/models/retinanet_detect.js';
import { RCNN_TRANSFORM_DEFAULTS } from '../src/detect/retina_transform.js';
import { imageToChw } from '../src/data/preprocess.js';
import { loadModelFile } from '../src/models/model_file_node.js';

/** An untrained 26m with a zero classification bias, so that every level has candidates above 0.05. */
function retina26(): string {
  const weights = join(tmp, 'retina26.safetensors');
  if (existsSync(weights)) return weights;
  const st = readSafetensors(modelToSafetensors(createModel('retinanet_mobile_former_26m', { seed: 4 })));
  const t = new Map(st.tensors);
  const b = t.get('head.classification_head.cls_logits.bias')!;
  t.set('head.classification_head.cls_logits.bias', { ...b, data: new Float32Array(b.data.length) });
  writeFileSync(weights, writeSafetensors(t, st.metadata));
  return weights;
}

test('detect with a RetinaNet: the boxes of retinaDetect (torchvision transform, post-processing, boxes mapped back to the image) at --score, COCO names', async () => {
  const weights = retina26();
  const m = await loadModelFile(weights, 'retinanet_mobile_former_26m');
  const img = await decodeImageFile(SAMPLE);
  const host = await retinaDetect(m, [{ data: imageToChw(img, [0, 0, 0], [1, 1, 1]), height: img.height, width: img.width }]);
  await m.dispose();
  const d = host.images[0].detections;
  const keep = [...d.scores.keys()].filter((i) => d.scores[i] >= 0.5);
  assert.ok(keep.length > 0);
  const r = cli('detect', 'retinanet_mobile_former_26m', '--weights', weights, SAMPLE, '--score', '0.5', '--json');
  assert.equal(r.code, 0, r.err);
  const dets = JSON.parse(r.out)[0].detections;
  assert.equal(dets.length, keep.length);
  dets.forEach((o: any, n: number) => {
    const i = keep[n];
    assert.equal(o.score, d.scores[i]);
    assert.equal(o.label, COCO_91[d.labels[i]]);
    assert.deepEqual([o.box.xmin, o.box.ymin, o.box.xmax, o.box.ymax], Array.from(d.boxes.subarray(4 * i, 4 * i + 4)));
  });
});

test('export: RetinaNet at a fixed size as one graph ending in boxes, scores, labels equals retinaDetect (torchvision post-processing)', async () => {
  const weights = retina26();
  const onnx = join(tmp, 'retina.onnx');
  const r = cli('export', 'retinanet_mobile_former_26m', '--weights', weights, '-o', onnx, '--size', '320', '320');
  assert.equal(r.code, 0, r.err);
  const m = await loadModelFile(weights, 'retinanet_mobile_former_26m');
  const img = resize(await decodeImageFile(SAMPLE), 320, 320, 'bilinear');
  const host = await retinaDetect(m, [{ data: imageToChw(img, [0, 0, 0], [1, 1, 1]), height: 320, width: 320 }], { transform: { ...RCNN_TRANSFORM_DEFAULTS, minSize: 320, maxSize: 320 } });
  await m.dispose();
  const d = host.images[0].detections;
  const o = await (await ort.InferenceSession.create(onnx)).run({ input: new ort.Tensor('float32', host.batch.batch, [1, 3, 320, 320]) });
  assert.equal(d.scores.length, 300);
  assert.deepEqual(o.scores.dims, [300]);
  const so = o.scores.data as Float32Array;
  const lo = o.labels.data as BigInt64Array;
  const bo = o.boxes.data as Float32Array;
  d.scores.forEach((v, i) => assert.ok(Math.abs(so[i] - v) <= 1e-6, `score ${i}`));
  assert.deepEqual(Array.from(lo, Number), Array.from(d.labels));
  // equal scores may come in either order (torch leaves it open): each box matches a host box of the same score and label
  for (let i = 0; i < 300; i++) {
    const ok = [...d.scores.keys()].some((j) => d.scores[j] === d.scores[i] && d.labels[j] === d.labels[i] && [0, 1, 2, 3].every((k) => Math.abs(bo[4 * i + k] - d.boxes[4 * j + k]) <= 1e-3));
    assert.ok(ok, `box ${i}`);
  }
  assertOneLineError(cli('export', 'retinanet_mobile_former_26m', '--weights', weights, '-o', join(tmp, 'r.onnx'), '--size', '300', '300'), /divisible by 32/);
});
