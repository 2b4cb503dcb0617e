/** Golden DeepLabv3 cases (../shared/golden/dense): every tensor of both io files, within the manifest tolerances. */
import '../src/node.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createModel, listModels } from '../src/models/registry.js';
import { assertClose, loadCase, maxAbs } from './helpers/compare.js';
import { initEncoderFromClassifier } from '../src/models/dense_encoder.js';
import { frozenPredicate } from '../src/train/step.js';
import { summarize } from '../src/models/summary.js';
import { denseShapes, denseWeights, loadDenseCase } from './helpers/dense_golden.js';
import { goldenOrSkip } from './helpers/golden.js';

const g = goldenOrSkip();

const CASES = [
  { kase: 'deeplabv3_mobilevitv3_xxs_voc', shapes: 'mobilevitv3_xxs/deeplabv3_voc' },
  { kase: 'deeplabv3_mobilevitv3_0.5_voc', shapes: 'mobilevitv3_0.5/deeplabv3_voc' },
  { kase: 'deeplabv3_mobilevitv3_0.5_ade20k', shapes: 'mobilevitv3_0.5/deeplabv3_ade20k' },
];

for (const { kase, shapes } of CASES) {
  test(`golden ${kase}: every tensor of io and io2 (encoder taps, ASPP, low-res and upsampled logits, aux)`, { skip: g.skip }, async () => {
    const c = loadDenseCase(g.dir, kase);
    const m = createModel(kase, { weights: await denseWeights(g.dir, c, shapes) });
    assert.equal(m.numClasses, c.manifest.num_classes, 'class count detected from the keys');
    assert.equal(m.numParams(), c.manifest.num_params);
    for (const [tag, io] of [['io', c.io], ['io2', c.io2]] as const) {
      const info = c.manifest.io[tag];
      const out = await m.forwardFeatures(io.get('input')!);
      let checked = 0;
      const worst: string[] = [];
      for (const [k, ref] of io) {
        if (k === 'input') continue;
        const tol = info.tolerance_suggestion[k];
        assert.ok(tol, `${kase} ${tag}: tolerance for ${k}`);
        const ours = k === 'logits' ? out.logits : out[k];
        assert.ok(ours, `${kase} ${tag}: we produce ${k}`);
        const d = assertClose(ours, ref, tol.atol, tol.rtol, `${kase} ${tag} ${k}`);
        worst.push(`${k} ${d.toExponential(2)}/${tol.atol}`);
        checked++;
      }
      assert.equal(checked, Object.keys(info.tensors).length - 1, `${kase} ${tag}: every stored tensor checked`);
      console.log(`${kase} ${tag}: ${worst.join(', ')}`);
    }
    await m.dispose();
  });
}

test('every DeepLabv3 variant: parameter counts equal the official state dicts (all, and without the aux head)', { skip: g.skip }, () => {
  const shapes = denseShapes(g.dir);
  const names = listModels('deeplabv3_mobilevitv3_*');
  assert.equal(names.length, 9);
  for (const name of names) {
    const [, backbone, dataset] = /^deeplabv3_(.+)_(voc|ade20k)$/.exec(name)!;
    const ref = shapes[`${backbone}/deeplabv3_${dataset}`];
    const m = createModel(name);
    const ours = m.stateShapes();
    assert.deepEqual([...ours.keys()].sort(), Object.keys(ref.state_dict).sort(), `${name} keys`);
    for (const [k, v] of ours) assert.deepEqual(v.shape, ref.state_dict[k].shape, `${name} ${k}`);
    assert.equal(m.numParams(), ref.num_params, `${name} params`);
    const aux = m.stateEntries().filter((e) => !e.buffer && e.key.startsWith('seg_head.aux_head.')).reduce((n, e) => n + e.shape.reduce((a, b) => a * b, 1), 0);
    assert.equal(m.numParams() - aux, ref.num_params_without_aux, `${name} params without aux`);
  }
});

test('encoder from a classification checkpoint: the dense model reproduces the golden classifier stages (OS16: layers 0-4 unchanged)', { skip: g.skip }, async () => {
  const c = loadCase(g.dir, 'mobilevitv3_xxs_nc1000_256');
  const m = createModel('deeplabv3_mobilevitv3_xxs_voc');
  const head0 = (m.weights.get('seg_head.classifier.classifier.block.conv.weight')!.data as Float32Array).slice();
  initEncoderFromClassifier(m, c.weights!);
  assert.deepEqual(m.weights.get('seg_head.classifier.classifier.block.conv.weight')!.data, head0, 'the head keeps its weights');
  const out = await m.forwardFeatures(c.io.get('input')!);
  for (let i = 0; i <= 4; i++) {
    const ref = c.io.get(`out_stage${i}`)!;
    assertClose(out[`out_l${i}`], ref, 1e-4 * maxAbs(ref), 1e-3, `out_l${i} vs classifier out_stage${i}`);
  }
  // layer_5 lost its stride: same channels, twice the size
  assert.deepEqual(out.out_l5.shape.slice(2), c.io.get('out_stage4')!.shape.slice(2));
  assert.throws(() => initEncoderFromClassifier(createModel('deeplabv3_mobilevitv3_0.5_voc'), c.weights!), /backbone checkpoint/);
  await m.dispose();
});

test("freeze 'backbone' of a dense model freezes exactly encoder.*", () => {
  const m = createModel('deeplabv3_mobilevitv3_xxs_voc');
  const frozen = frozenPredicate(m, 'backbone');
  for (const e of m.stateEntries()) assert.equal(frozen(e.key), e.key.startsWith('encoder.'), e.key);
});

test('summary counts the inference model as the paper does (no aux head): every dense model next to its paper figure', { skip: g.skip }, () => {
  const shapes = denseShapes(g.dir);
  for (const name of [...listModels('deeplabv3_mobilevitv3_*'), ...listModels('ssdlite_mobilevitv3_*')]) {
    const [, head, backbone, dataset] = /^(deeplabv3|ssdlite)_(.+)_(voc|ade20k|coco)$/.exec(name)!;
    const ref = shapes[`${backbone}/${head}_${dataset}`];
    const m = createModel(name);
    const s = summarize(m, 64, 64);
    assert.equal(s.params, ref.num_params_without_aux, `${name} params without aux`);
    assert.equal(s.paramsTotal, ref.num_params, `${name} all params`);
    const paper = m.spec.cfg.paper.params;
    assert.equal(paper || null, ref.paper_params_M, `${name} paper figure`);
    // the README: every figure is the count rounded to 0.1 M, except SSDLite-0.5 (2.09 M listed as 2.0)
    if (paper && name !== 'ssdlite_mobilevitv3_0.5_coco') assert.equal((s.params / 1e6).toFixed(1), paper.toFixed(1), `${name} vs paper`);
  }
  // the aux head is not part of inference: no MAdds from it
  const m = createModel('deeplabv3_mobilevitv3_0.5_voc');
  const { graph } = m.build([1, 3, 64, 64]);
  let all = 0;
  let aux = 0;
  // per-image work only: nodes computing from weights alone (folded biases) are constants
  const perImage = new Set(graph.nodes.filter((n) => n.inputs.some((v) => v.kind === 'input')).flatMap((n) => n.outputs));
  for (const n of graph.nodes) {
    if (n.inputs.some((v) => perImage.has(v))) n.outputs.forEach((o) => perImage.add(o));
    if (!n.op.madds || n.inputs.some((v) => v.kind === 'const') || !n.outputs.some((o) => perImage.has(o))) continue;
    all += n.op.madds(n);
    if (n.scope.startsWith('seg_head.aux_head')) aux += n.op.madds(n);
  }
  assert.ok(aux > 0);
  assert.equal(summarize(m, 64, 64).madds, all - aux);
});

test('MobileViTv2 baselines run through the same dense code (shapes at OS16/OS8, SSD rows)', async () => {
  const x = { dtype: 'float32' as const, shape: [1, 3, 64, 64], data: new Float32Array(3 * 64 * 64).map((_, i) => Math.sin(i)) };
  for (const [name, shape] of [['deeplabv3_mobilevitv2_0.5_voc', [1, 21, 64, 64]], ['deeplabv3_mobilevitv2_0.5_ade20k', [1, 150, 64, 64]], ['ssdlite_mobilevitv2_0.5_coco', [1, 4 * 4 * 6 + 2 * 2 * 6 + 6 + 6 + 6 + 4, 81]]] as const) {
    const m = createModel(name);
    const out = await m.forwardFeatures(x);
    assert.deepEqual(out.logits.shape, shape, name);
    assert.ok((out.logits.data as Float32Array).every(Number.isFinite), name);
    await m.dispose();
  }
});
