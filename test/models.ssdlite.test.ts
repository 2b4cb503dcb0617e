/**
 * Golden SSDLite cases (../shared/golden/dense): feature maps, raw head outputs, cls_logits and
 * box_regressions from the graph; anchors from the actual map sizes, decoded boxes and the official
 * post-processing (src/detect) of our outputs against the stored detections.
 */
import '../src/node.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ssdAnchors, ssdDecode, ssdPostprocess, toPixelBoxes } from '../src/detect/index.js';
import { createModel, listModels } from '../src/models/registry.js';
import type { SsdLite } from '../src/models/ssdlite.js';
import { denseOutputs } from '../src/models/dense_outputs.js';
import { assertClose } from './helpers/compare.js';
import { compareDetections } from './helpers/detections.js';
import { denseShapes, denseWeights, loadDenseCase } from './helpers/dense_golden.js';
import { goldenOrSkip } from './helpers/golden.js';

const g = goldenOrSkip();

const CASES = [
  { kase: 'ssdlite_mobilevitv3_xxs_coco', shapes: 'mobilevitv3_xxs/ssdlite_coco' },
  { kase: 'ssdlite_mobilevitv3_0.5_coco', shapes: 'mobilevitv3_0.5/ssdlite_coco' },
];

const f32 = (t: { data: unknown }) => t.data as Float32Array;

for (const { kase, shapes } of CASES) {
  test(`golden ${kase}: maps, head outputs, anchors, decoded boxes and detections (io and io2)`, { skip: g.skip }, async () => {
    const c = loadDenseCase(g.dir, kase);
    const m = createModel(kase, { weights: await denseWeights(g.dir, c, shapes) });
    assert.equal(m.numClasses, 81, 'class count detected from the head keys');
    assert.equal(m.numParams(), c.manifest.num_params);
    const net = m.net as SsdLite;
    for (const [tag, io] of [['io', c.io], ['io2', c.io2]] as const) {
      const info = c.manifest.io[tag];
      const tol = info.tolerance_suggestion;
      const input = io.get('input')!;
      const [B, , H, W] = input.shape;
      const out = await m.forwardFeatures(input);
      out.cls_logits = out.logits;
      const report: string[] = [];
      for (const [k, ref] of io) {
        if (k === 'input' || k === 'anchors' || k === 'boxes_decoded' || k.startsWith('det')) continue;
        assert.ok(out[k], `${kase} ${tag}: we produce ${k}`);
        report.push(`${k} ${assertClose(out[k], ref, tol[k].atol, tol[k].rtol, `${kase} ${tag} ${k}`).toExponential(2)}/${tol[k].atol}`);
      }
      // anchors from the model's actual feature-map sizes
      const grids = [0, 1, 2, 3, 4, 5].map((i) => out[`feat_l${i}`].shape.slice(2) as [number, number]);
      assert.deepEqual(grids, info.levels.map((l: any) => l.fm_hw));
      const anchors = ssdAnchors(grids);
      report.push(`anchors ${assertClose({ dtype: 'float32', shape: [anchors.length / 4, 4], data: anchors }, io.get('anchors')!, tol.anchors.atol, 0, `${kase} ${tag} anchors`).toExponential(2)}`);
      const N = anchors.length / 4;
      const C = 81;
      const dec = new Float32Array(B * N * 4);
      for (let b = 0; b < B; b++) dec.set(ssdDecode(f32(out.box_regressions).subarray(b * N * 4, (b + 1) * N * 4), anchors), b * N * 4);
      report.push(`boxes_decoded ${assertClose({ dtype: 'float32', shape: [B, N, 4], data: dec }, io.get('boxes_decoded')!, tol.boxes_decoded.atol, tol.boxes_decoded.rtol, `${kase} ${tag} decoded`).toExponential(2)}`);
      for (let b = 0; b < B; b++) {
        const det = ssdPostprocess(f32(out.cls_logits).slice(b * N * C, (b + 1) * N * C), f32(out.box_regressions).slice(b * N * 4, (b + 1) * N * 4), anchors, C, net.postprocess);
        const rl = io.get(`det${b}_labels`)!.data as BigInt64Array;
        const ra = io.get(`det${b}_anchor_index`)!.data as BigInt64Array;
        const e = compareDetections(
          { keys: [...det.anchorIndex].map((a, i) => `${a}:${det.labels[i]}`), scores: det.scores, boxes: det.boxes },
          { keys: [...ra].map((a, i) => `${a}:${rl[i]}`), scores: f32(io.get(`det${b}_scores`)!), boxes: f32(io.get(`det${b}_boxes`)!) },
          { scoreAtol: 0, scoreRtol: 5e-3, boxAtol: tol.boxes_decoded.atol, boxRtol: tol.boxes_decoded.rtol, swapTol: 1e-5, swapRelative: true, label: `${kase} ${tag} image ${b}` },
        );
        // pixel boxes compared per (anchor, label) key: entries with reference scores within 1e-5 may swap
        const px = toPixelBoxes(det.boxes, H, W);
        const rpx = f32(io.get(`det${b}_boxes_px`)!);
        const refPos = new Map([...ra].map((a, i) => [`${a}:${rl[i]}`, i]));
        let mpx = 0;
        det.anchorIndex.forEach((a, i) => {
          const j = refPos.get(`${a}:${det.labels[i]}`)!;
          for (let k = 0; k < 4; k++) mpx = Math.max(mpx, Math.abs(px[4 * i + k] - rpx[4 * j + k]));
        });
        assert.ok(mpx <= 0.05, `${kase} ${tag} image ${b}: boxes_px max diff ${mpx}`);
        report.push(`det${b}: ${det.labels.length} (score ${e.score.toExponential(2)}, box ${e.box.toExponential(2)}, px ${mpx.toExponential(2)})`);
      }
      console.log(`${kase} ${tag}: ${report.join(', ')}`);
    }
    await m.dispose();
  });
}

test('every SSDLite variant: keys, shapes and parameter counts equal the official state dicts', { skip: g.skip }, () => {
  const shapes = denseShapes(g.dir);
  const names = listModels('ssdlite_mobilevitv3_*');
  assert.equal(names.length, 6);
  for (const name of names) {
    const backbone = /^ssdlite_(.+)_coco$/.exec(name)![1];
    const ref = shapes[`${backbone}/ssdlite_coco`];
    const m = createModel(name);
    const ours = m.stateShapes();
    assert.deepEqual([...ours.keys()].sort(), Object.keys(ref.state_dict).sort(), `${name} keys`);
    for (const [k, v] of ours) assert.deepEqual(v.shape, ref.state_dict[k].shape, `${name} ${k}`);
    assert.equal(m.numParams(), ref.num_params, `${name} params`);
  }
});

test('SSDLite class count follows the checkpoint head (fine-tuned heads)', () => {
  const m = createModel('ssdlite_mobilevitv3_xxs_coco', { numClasses: 11 });
  const sd = m.stateDict();
  const again = createModel('ssdlite_mobilevitv3_xxs_coco', { weights: sd });
  assert.equal(again.numClasses, 11);
  assert.equal(again.labels, null, 'no COCO names for a fine-tuned head');
  assert.deepEqual(createModel('ssdlite_mobilevitv3_xxs_coco').labels!.slice(0, 3), ['background', 'person', 'bicycle']);
  assert.equal(createModel('deeplabv3_mobilevitv3_0.5_ade20k').labels!.length, 150);
  // the exported inference graph ends in both head outputs
  const onnx = createModel('ssdlite_mobilevitv3_xxs_coco').toOnnx([1, 3, 96, 64]);
  assert.deepEqual(onnx.outputs, ['logits', 'box_regressions']);
  assert.deepEqual(sd.get('ssd_heads.0.loc_cls_layer.pw_conv.block.conv.weight')!.shape, [6 * 15, 512, 1, 1]);
});

test('denseOutputs: every tensor name of every golden dense io2 file, same shapes, same detections', { skip: g.skip }, async () => {
  const all = [
    { kase: 'deeplabv3_mobilevitv3_xxs_voc', shapes: 'mobilevitv3_xxs/deeplabv3_voc' },
    { kase: 'deeplabv3_mobilevitv3_0.5_ade20k', shapes: 'mobilevitv3_0.5/deeplabv3_ade20k' },
    ...CASES,
  ];
  for (const { kase, shapes } of all) {
    const c = loadDenseCase(g.dir, kase);
    const m = createModel(kase, { weights: await denseWeights(g.dir, c, shapes) });
    const out = await denseOutputs(m, c.io2.get('input')!);
    for (const [k, ref] of c.io2) {
      if (k === 'input') continue;
      assert.ok(out[k], `${kase}: denseOutputs has ${k}`);
      assert.deepEqual(out[k].shape, ref.shape, `${kase} ${k} shape`);
      if (k.endsWith('_labels')) assert.deepEqual(new Set(out[k].data as BigInt64Array), new Set(ref.data as BigInt64Array), `${kase} ${k}`);
    }
    await m.dispose();
  }
});
