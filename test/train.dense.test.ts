/**
 * Golden dense training cases (../shared/golden/dense/train): one train-mode step (dropout 0, BN in
 * train mode) through the one-graph train step with the dense objectives: loss, every gradient,
 * zero-gradient tensors, BN running statistics.
 */
import '../src/node.js';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createModel } from '../src/models/registry.js';
import { TrainStep } from '../src/train/index.js';
import { segmentation } from '../src/train/segmentation_objective.js';
import { ssdMultibox, ssdMultiboxLossGraph, ssdTargetTensor } from '../src/train/ssd_objective.js';
import { hardNegativeMask, ssdAnchors, ssdGridSizes, ssdMatch, ssdMultiboxLoss } from '../src/detect/index.js';
import { Graph } from '../src/graph/ir.js';
import { lowerToOnnx } from '../src/onnx/lower.js';
import { getEngine } from '../src/runtime/engine.js';
import { normals } from './helpers/random.js';
import { readTensors } from './helpers/compare.js';
import { denseWeights, loadDenseCase } from './helpers/dense_golden.js';
import { checkDenseBn, checkDenseGrads } from './helpers/dense_train.js';
import { goldenOrSkip } from './helpers/golden.js';

const g = goldenOrSkip();
const trainDir = () => join(g.dir, 'dense', 'train');
const f = (t: { data: unknown }) => t.data as Float32Array;

test('golden dense train: DeepLabv3-MobileViTv3-0.5 VOC, CE with ignore 255 + 0.4·aux (loss, every gradient, BN statistics)', { skip: g.skip }, async () => {
  const name = 'train_deeplabv3_mobilevitv3_0.5_voc_128x96_b4';
  const man = JSON.parse(readFileSync(join(trainDir(), `${name}.json`), 'utf8'));
  const io = readTensors(join(trainDir(), man.files.io));
  const fwd = loadDenseCase(g.dir, man.weights_from_case);
  const model = createModel(man.weights_from_case, { weights: await denseWeights(g.dir, fwd, 'mobilevitv3_0.5/deeplabv3_voc') });
  const ts = await TrainStep.create(model, man.input_shape, { objective: segmentation({ ignoreIndex: man.loss.ignore_index, auxWeight: man.loss.aux_weight }), update: false, outputGradients: true });
  const r = await ts.run(io.get('input')!, io.get('labels')!);
  const dl = Math.abs(r.loss - f(io.get('loss')!)[0]);
  assert.ok(dl <= man.tolerance_suggestion.loss_atol, `loss ${r.loss} vs ${f(io.get('loss')!)[0]}`);
  const grads = checkDenseGrads(man, readTensors(join(trainDir(), man.files.grads)), ts.gradients(), name);
  const bn = checkDenseBn(man, readTensors(join(trainDir(), man.files.bn)), ts.state(), name);
  console.log(`${name}: loss ${r.loss} (diff ${dl.toExponential(2)}); ${grads}; ${bn}`);
  await ts.release();
  await model.dispose();
});

test('segmentation objective rejects labels outside the class range', () => {
  const obj = segmentation({ ignoreIndex: 255 });
  assert.throws(() => obj.feed(BigInt64Array.from([0n, 3n, 255n, 21n]), { target: [1, 2, 2], logits: [1, 21, 2, 2] }), /label 21 at pixel 3/);
  assert.equal(obj.feed([0, 3, 255, 20], { target: [1, 2, 2], logits: [1, 21, 2, 2] }).shape.join(','), '1,2,2');
});

test('golden dense train: SSDLite-MobileViTv3-XXS, multibox loss with in-graph 3:1 hard-negative mining (targets, loss, every gradient, BN statistics)', { skip: g.skip }, async () => {
  const name = 'train_ssdlite_mobilevitv3_xxs_coco_320_b2';
  const man = JSON.parse(readFileSync(join(trainDir(), `${name}.json`), 'utf8'));
  const io = readTensors(join(trainDir(), man.files.io));
  const fwd = loadDenseCase(g.dir, man.weights_from_case);
  const model = createModel(man.weights_from_case, { weights: await denseWeights(g.dir, fwd, 'mobilevitv3_xxs/ssdlite_coco') });
  const [B, , H, W] = man.input_shape;
  const anchors = ssdAnchors(ssdGridSizes(H, W));
  assert.deepEqual([...anchors], [...f(io.get('anchors')!)], 'anchors');
  const N = anchors.length / 4;
  const matches = Array.from({ length: B }, (_, b) => ssdMatch(f(io.get(`gt_boxes_${b}`)!), [...(io.get(`gt_labels_${b}`)!.data as BigInt64Array)].map(Number), anchors));
  const refLabels = io.get('matched_labels')!.data as BigInt64Array;
  matches.forEach((m, b) => m.labels.forEach((l, n) => assert.equal(l, Number(refLabels[b * N + n]), `matched label ${b},${n}`)));
  const ts = await TrainStep.create(model, man.input_shape, { objective: ssdMultibox(), update: false, outputGradients: true });
  const r = await ts.run(io.get('input')!, ssdTargetTensor(matches));
  const dl = Math.abs(r.loss - f(io.get('loss')!)[0]);
  assert.ok(dl <= man.tolerance_suggestion.loss_atol, `loss ${r.loss} vs ${f(io.get('loss')!)[0]}`);
  const grads = checkDenseGrads(man, readTensors(join(trainDir(), man.files.grads)), ts.gradients(), name);
  const bn = checkDenseBn(man, readTensors(join(trainDir(), man.files.bn)), ts.state(), name);
  console.log(`${name}: loss ${r.loss} (diff ${dl.toExponential(2)}); ${grads}; ${bn}`);
  await ts.release();
  await model.dispose();
});

test('in-graph multibox loss and hard-negative mask equal the host reference (src/detect)', async () => {
  const [B, N, C] = [3, 40, 5];
  const labels = Array.from({ length: B * N }, (_, i) => (i % 7 === 0 && i < 2 * N ? 1 + (i % 4) : 0));
  const cls = normals(B * N * C, 7);
  const reg = normals(B * N * 4, 8);
  const locs = normals(B * N * 4, 9);
  const matches = Array.from({ length: B }, (_, b) => ({ labels: Int32Array.from(labels.slice(b * N, (b + 1) * N)), locations: locs.slice(b * N * 4, (b + 1) * N * 4), gtIndex: new Int32Array(N) }));
  const gr = new Graph();
  const [c, r, t] = [gr.input('cls', [B, N, C]), gr.input('reg', [B, N, 4]), gr.input('t', [B, N, 5])];
  const parts = ssdMultiboxLossGraph(c, r, t);
  const model = lowerToOnnx(gr, { outputs: ['loss', 'boxSum', 'clsSum', 'mask'].map((k) => ({ name: k, value: (parts as any)[k] })), params: 'input' });
  const s = await getEngine().createSession(model.bytes, { threads: 1 });
  const out = await s.run({ cls: { dtype: 'float32', shape: [B, N, C], data: cls }, reg: { dtype: 'float32', shape: [B, N, 4], data: reg }, t: ssdTargetTensor(matches) });
  await s.release();
  const host = ssdMultiboxLoss(cls, reg, matches, C, { guardEmpty: true });
  assert.ok(Math.abs(f(out.loss)[0] - host.loss) <= 1e-5 * Math.abs(host.loss), `loss ${f(out.loss)[0]} vs ${host.loss}`);
  for (let b = 0; b < B; b++) {
    const bg = Array.from({ length: N }, (_, n) => {
      const row = cls.subarray((b * N + n) * C, (b * N + n + 1) * C);
      const m = Math.max(...row);
      return -(row[0] - m - Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0)));
    });
    const ref = hardNegativeMask(bg, matches[b].labels);
    assert.deepEqual([...f(out.mask).subarray(b * N, (b + 1) * N)], [...ref], `mask of image ${b}`);
  }
});
