import '../src/node.js';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createModel, listModels } from '../src/models/registry.js';
import { featureTaps } from '../src/models/retinanet.js';
import { retinaGridSizes } from '../src/detect/retinanet.js';
import { retinaDetect } from '../src/models/retinanet_detect.js';
import { summarize } from '../src/models/summary.js';
import { numel, type HostTensor } from '../src/tensor.js';
import { assertClose, maxAbs, readTensors } from './helpers/compare.js';
import { compareDetections } from './helpers/detections.js';
import { goldenOrSkip } from './helpers/golden.js';
import { RETINA_FORWARD_CASES, retinaCaseWeights, retinaShapes } from './helpers/retina_golden.js';

const g = goldenOrSkip();
const dir = g.skip ? '' : join(g.dir, 'retinanet_mf');
const shapesFile = () => retinaShapes(dir);
const VARIANTS = ['26m', '52m', '96m', '151m', '214m', '294m', '508m'];

test('the zoo lists the seven RetinaNet Mobile-Former detectors', () => {
  assert.deepEqual(listModels('retinanet_*'), VARIANTS.map((v) => `retinanet_mobile_former_${v}`));
});

test('state dict: every key, shape and dtype in torchvision order; C3/C4/C5 taps and parameter counts as the golden table (all 7 variants)', { skip: g.skip }, () => {
  const file = shapesFile();
  assert.equal(file.num_classes, 91);
  for (const v of VARIANTS) {
    const ref = file.variants[`mobile_former_${v}`];
    const m = createModel(`retinanet_mobile_former_${v}`);
    assert.equal(m.numClasses, 91);
    const ours = m.stateEntries().map((e) => [e.key, e.shape, e.dtype]);
    assert.deepEqual(ours, ref.state_dict, v);
    const net = m.net as any;
    const taps = featureTaps(net.backbone.body.outStrides);
    const fi = ref.architecture.feature_indices;
    assert.deepEqual(taps, [fi.C3, fi.C4, fi.C5], `${v} taps`);
    const fc = ref.architecture.feature_channels;
    assert.deepEqual(taps.map((i: number) => net.backbone.body.outChannels[i]), [fc.C3, fc.C4, fc.C5]);
    const count = (prefix: string) => m.stateEntries().reduce((a, e) => a + (!e.buffer && e.key.startsWith(prefix) ? numel(e.shape) : 0), 0);
    const p = ref.architecture.params;
    assert.deepEqual([count('backbone.body.'), count('backbone.fpn.'), count('head.'), m.numParams()], [p['backbone.body'], p['backbone.fpn'], p.head, p.total], v);
  }
});

/** MAdds of a conv: out elements × (in channels / groups) × k². */
const convMadds = (cin: number, cout: number, k: number, h: number, w: number) => cout * h * w * cin * k * k;

test('summary of all seven detectors at 800x800: params per part as the golden table; MAdds of the body as the classifier counts it, FPN and head as their convs', { skip: g.skip }, () => {
  const H = 800;
  for (const v of VARIANTS) {
    const det = summarize(createModel(`retinanet_mobile_former_${v}`), H, H);
    const cls = summarize(createModel(`mobile_former_${v}`), H, H);
    const body = cls.rows.filter((r) => r.stage === 'stem' || r.stage === 'tokens' || r.stage.startsWith('features.')).reduce((a, r) => a + r.madds, 0);
    const madds = (n: string) => det.rows.find((r) => r.stage === n)!.madds;
    assert.equal(madds('backbone.body'), body, `${v} body`);
    const m = createModel(`retinanet_mobile_former_${v}`);
    const net = m.net as any;
    const chans = featureTaps(net.backbone.body.outStrides).map((i: number) => net.backbone.body.outChannels[i]);
    const grids: number[] = [];
    for (let s = H / 8, l = 0; l < 5; l++, s = Math.ceil(s / 2)) grids.push(s);
    let fpn = 0;
    chans.forEach((c: number, i: number) => (fpn += convMadds(c, 256, 1, grids[i], grids[i]) + convMadds(256, 256, 3, grids[i], grids[i])));
    fpn += convMadds(256, 256, 3, grids[3], grids[3]) + convMadds(256, 256, 3, grids[4], grids[4]);
    assert.equal(madds('backbone.fpn'), fpn, `${v} fpn`);
    const head = grids.reduce((a, s) => a + 8 * convMadds(256, 256, 3, s, s) + convMadds(256, 9 * 91, 3, s, s) + convMadds(256, 36, 3, s, s), 0);
    assert.equal(madds('head'), head, `${v} head`);
    assert.equal(det.madds, body + fpn + head);
    const params = (n: string) => det.rows.find((r) => r.stage === n)!.params;
    const p = shapesFile().variants[`mobile_former_${v}`].architecture.params;
    assert.deepEqual([params('backbone.body'), params('backbone.fpn'), params('head'), det.params], [p['backbone.body'], p['backbone.fpn'], p.head, p.total], `${v} summary params`);
    console.log(`retinanet_mobile_former_${v}: ${(det.params / 1e6).toFixed(3)}M params, ${(det.madds / 1e9).toFixed(2)}G MAdds at ${H}x${H} (body ${(body / 1e6).toFixed(0)}M, FPN ${(fpn / 1e6).toFixed(0)}M, head ${(head / 1e6).toFixed(0)}M)`);
  }
});

for (const name of RETINA_FORWARD_CASES) {
  test(`RetinaNet golden ${name}: transform, C3-C5, P3-P7, head outputs (per level and concatenated), anchors, candidates and detections`, { skip: g.skip }, async () => {
    const man = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
    const io = readTensors(join(dir, `${name}.io.safetensors`));
    const model = createModel(`retinanet_${man.variant}`, { numClasses: man.num_classes, weights: await retinaCaseWeights(dir, man, name), threads: 2 });
    const tr = man.transform;
    const images = man.image_sizes.map(([h, w]: [number, number], i: number) => {
      const t = io.get(`input.${i}`)!;
      assert.deepEqual(t.shape, [3, h, w]);
      return { data: t.data as Float32Array, height: h, width: w };
    });
    const run = await retinaDetect(model, images, { transform: { minSize: tr.min_size, maxSize: tr.max_size, mean: tr.image_mean, std: tr.image_std, sizeDivisible: tr.size_divisible } });
    assert.deepEqual([images.length, 3, run.batch.paddedHeight, run.batch.paddedWidth], man.batched_input_shape);
    if (io.has('batched_input')) assertClose({ dtype: 'float32', shape: man.batched_input_shape, data: run.batch.batch }, io.get('batched_input')!, 0, 0, 'batched_input');
    assert.deepEqual(run.batch.imageSizes, man.image_sizes);
    const tol = man.tolerance_suggestion;
    const report: string[] = [];
    const out = (k: string) => run.outputs[k === 'cls_logits' ? 'logits' : k];
    for (const k of ['C3', 'C4', 'C5', 'P3', 'P4', 'P5', 'P6', 'P7']) {
      const ref = io.get(k)!;
      const atol = 1e-4 * maxAbs(ref);
      const d = assertClose(out(k), ref, atol, 1e-3, `${name} ${k}`);
      report.push(`${k} ${d.toExponential(2)}/${atol.toExponential(2)}`);
    }
    const heads = [...io.keys()].filter((k) => k === 'cls_logits' || k === 'bbox_regression' || k.includes('_raw.'));
    for (const k of heads) {
      const atol = k.startsWith('cls_logits') ? tol.cls_logits_atol : tol.bbox_regression_atol;
      const d = assertClose(out(k), io.get(k)!, atol, tol.head_rtol, `${name} ${k}`);
      report.push(`${k} ${d.toExponential(2)}/${atol}`);
    }
    const refA = io.get('anchors')!.data as Float32Array;
    assert.equal(run.anchors.length, refA.length);
    for (let i = 0; i < refA.length; i++) assert.equal(run.anchors[i], refA[i], `anchor value ${i}`);
    assert.deepEqual(run.anchorsPerLevel, man.anchors_per_level);
    const key = (a: number, l: number) => `${a}:${l}`;
    const keys = (t: (s: string) => HostTensor) => [...(t('anchor_idx').data as BigInt64Array)].map((a, i) => key(Number(a), Number((t('labels').data as BigInt64Array)[i])));
    run.images.forEach((r, b) => {
      const ref = (p: string) => (s: string) => io.get(`${p}.${b}.${s}`)!;
      assert.deepEqual(r.candidates.perLevel, man.decisions[b].per_level.map((p: any) => p.kept_topk), 'per-level candidate counts');
      const opt = (what: string) => ({ scoreAtol: tol.det_scores_atol, boxAtol: tol.det_boxes_atol, swapTol: tol.det_scores_atol, label: `${name} ${what} ${b}` });
      const c = r.candidates;
      const e1 = compareDetections({ keys: [...c.anchorIndex].map((a, i) => key(a, c.labels[i])), scores: c.scores, boxes: c.boxes }, { keys: keys(ref('pre_nms')), scores: ref('pre_nms')('scores').data as Float32Array, boxes: ref('pre_nms')('boxes').data as Float32Array }, opt('pre_nms'));
      const d = r.detections;
      const e2 = compareDetections({ keys: [...d.anchorIndex].map((a, i) => key(a, d.labels[i])), scores: d.scores, boxes: d.boxes }, { keys: keys(ref('det')), scores: ref('det')('scores').data as Float32Array, boxes: ref('det')('boxes').data as Float32Array }, opt('det'));
      report.push(`image ${b}: ${c.scores.length} candidates (score ${e1.score.toExponential(2)}, box ${e1.box.toExponential(2)} px), ${d.scores.length} detections (score ${e2.score.toExponential(2)}/${tol.det_scores_atol}, box ${e2.box.toExponential(2)}/${tol.det_boxes_atol} px)`);
    });
    console.log(`${name}: max |diff| / atol: ${report.join('; ')}`);
    await model.dispose();
  });
}

test('numClasses read from a checkpoint: cls_logits rows / 9', () => {
  const m = createModel('retinanet_mobile_former_26m', { numClasses: 11 });
  const m2 = createModel('retinanet_mobile_former_26m', { weights: m.stateDict() });
  assert.equal(m2.numClasses, 11);
  assert.equal(numel(m2.stateShapes().get('head.classification_head.cls_logits.bias')!.shape), 99);
  // torchvision's prior-probability bias init
  const bias = m.stateDict().get('head.classification_head.cls_logits.bias')!.data as Float32Array;
  assert.ok(bias.every((x) => Math.abs(x + Math.log(99)) < 1e-6));
});

test('any padded batch size: level grids of the graph are the anchor generator grids (26m: grouped convs and shuffles; 508m)', () => {
  for (const [name, h, w] of [['retinanet_mobile_former_26m', 96, 160], ['retinanet_mobile_former_508m', 224, 96]] as const) {
    const m = createModel(name, { numClasses: 5 });
    const { out } = m.build([2, 3, h, w]);
    const grids = ['P3', 'P4', 'P5', 'P6', 'P7'].map((l) => out.features.find((f) => f.name === l)!.value.shape.slice(2));
    assert.deepEqual(grids, retinaGridSizes(h, w), name);
    const A = grids.reduce((a, [gh, gw]) => a + gh * gw * 9, 0);
    assert.deepEqual(out.logits.shape, [2, A, 5]);
    assert.deepEqual(out.features.find((f) => f.name === 'bbox_regression')!.value.shape, [2, A, 4]);
    assert.deepEqual(['C3', 'C4', 'C5'].map((c) => out.features.find((f) => f.name === c)!.value.shape[2]), [h / 8, h / 16, h / 32]);
  }
});
