import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ssdAnchors, ssdDecode, ssdGridSizes, ssdMatch, ssdMultiboxLoss, ssdPostprocess, SSD_POSTPROCESS_V1, SSD_POSTPROCESS_V2, toPixelBoxes, hardNegativeMask, ssdEncode, xyxyToCxcywh, ssdAnchorsPerLocation, negLogSoftmaxAt } from '../src/detect/index.js';
import { goldenOrSkip } from './helpers/golden.js';
import { readRawSafetensors, type RawTensor } from './helpers/raw_safetensors.js';
import { compareDetections } from './helpers/detections.js';

const g = goldenOrSkip();
const dense = g.skip ? '' : join(g.dir, 'dense');
const f32 = (t: RawTensor, from = 0, to = t.values.length) => Float32Array.from(t.values.subarray(from, to));

const CASES: [string, boolean][] = [
  ['ssdlite_mobilevitv3_xxs_coco', false],
  ['ssdlite_mobilevitv3_0.5_coco', true],
];

for (const [name, v2] of CASES) {
  for (const tag of ['io', 'io2']) {
    test(`SSD golden ${name}.${tag}: grid sizes, prior boxes, decoded boxes, post-processed detections`, { skip: g.skip }, () => {
      const man = JSON.parse(readFileSync(join(dense, `${name}.json`), 'utf8'));
      const io = man.io[tag];
      const t = readRawSafetensors(join(dense, `${name}.${tag}.safetensors`));
      const [B, , H, W] = io.input_shape;
      const grids = ssdGridSizes(H, W, { roundOddToEven: v2 });
      assert.deepEqual(grids, io.levels.map((l: any) => l.fm_hw));
      assert.deepEqual(ssdAnchorsPerLocation(), io.levels.map((l: any) => l.anchors_per_location));
      const anchors = ssdAnchors(grids);
      const ref = t.get('anchors')!;
      assert.equal(anchors.length, ref.values.length);
      let maxA = 0;
      anchors.forEach((v, i) => (maxA = Math.max(maxA, Math.abs(v - ref.values[i]))));
      assert.ok(maxA <= io.tolerance_suggestion.anchors.atol, `anchors max diff ${maxA}`);
      const N = anchors.length / 4;
      const C = 81;
      const tolDec = io.tolerance_suggestion.boxes_decoded;
      let maxDec = 0;
      const opts = v2 ? SSD_POSTPROCESS_V2 : SSD_POSTPROCESS_V1;
      const errs: string[] = [];
      for (let b = 0; b < B; b++) {
        const reg = f32(t.get('box_regressions')!, b * N * 4, (b + 1) * N * 4);
        const dec = ssdDecode(reg, anchors);
        const refDec = t.get('boxes_decoded')!.values.subarray(b * N * 4, (b + 1) * N * 4);
        dec.forEach((v, i) => {
          const d = Math.abs(v - refDec[i]);
          maxDec = Math.max(maxDec, d);
          assert.ok(d <= tolDec.atol + tolDec.rtol * Math.abs(refDec[i]), `decoded[${b}] ${i}: ${v} vs ${refDec[i]}`);
        });
        const det = ssdPostprocess(f32(t.get('cls_logits')!, b * N * C, (b + 1) * N * C), reg, anchors, C, opts);
        const key = (a: number, l: number) => `${a}:${l}`;
        const rl = t.get(`det${b}_labels`)!.values;
        const ra = t.get(`det${b}_anchor_index`)!.values;
        const e = compareDetections(
          { keys: [...det.anchorIndex].map((a, i) => key(a, det.labels[i])), scores: det.scores, boxes: det.boxes },
          { keys: [...ra].map((a, i) => key(a, rl[i])), scores: t.get(`det${b}_scores`)!.values, boxes: t.get(`det${b}_boxes`)!.values },
          { scoreAtol: 0, scoreRtol: 5e-3, boxAtol: tolDec.atol, boxRtol: tolDec.rtol, swapTol: 1e-5, swapRelative: true, label: `${name}.${tag} image ${b}` },
        );
        const px = toPixelBoxes(det.boxes, H, W);
        const rpx = t.get(`det${b}_boxes_px`)!.values;
        let mpx = 0;
        px.forEach((v, i) => (mpx = Math.max(mpx, Math.abs(v - rpx[i]))));
        assert.ok(mpx <= 0.05, `boxes_px max diff ${mpx}`);
        errs.push(`image ${b}: ${det.labels.length} detections, max |score diff| ${e.score.toExponential(2)}, max |box diff| ${e.box.toExponential(2)}, px ${mpx.toExponential(2)}`);
      }
      console.log(`${name}.${tag}: anchors max diff ${maxA}, decoded max diff ${maxDec.toExponential(2)}; ${errs.join('; ')}`);
    });
  }
}

test('SSD golden train case: matcher labels/locations, hard negatives, multibox loss parts', { skip: g.skip }, () => {
  const name = 'train_ssdlite_mobilevitv3_xxs_coco_320_b2';
  const man = JSON.parse(readFileSync(join(dense, 'train', `${name}.json`), 'utf8'));
  const t = readRawSafetensors(join(dense, 'train', `${name}.io.safetensors`));
  const anchors = ssdAnchors(ssdGridSizes(320, 320));
  const refA = t.get('anchors')!.values;
  anchors.forEach((v, i) => assert.equal(v, refA[i]));
  const N = anchors.length / 4;
  const C = 81;
  const matches = [0, 1].map((b) => ssdMatch(f32(t.get(`gt_boxes_${b}`)!), t.get(`gt_labels_${b}`)!.values, anchors));
  let maxLoc = 0;
  const refLab = t.get('matched_labels')!.values;
  const refLoc = t.get('matched_locations')!.values;
  matches.forEach((m, b) => {
    for (let n = 0; n < N; n++) assert.equal(m.labels[n], refLab[b * N + n], `matched label image ${b} anchor ${n}`);
    for (let i = 0; i < N * 4; i++) {
      const r = refLoc[b * N * 4 + i];
      const o = m.locations[i];
      if (!Number.isFinite(r)) assert.equal(o, r, `location ${b}/${i}`);
      else {
        maxLoc = Math.max(maxLoc, Math.abs(o - r));
        assert.ok(Math.abs(o - r) <= 1e-5 * Math.max(1, Math.abs(r)), `location ${b}/${i}: ${o} vs ${r}`);
      }
    }
  });
  // Hard negatives from the stored bg losses.
  const bg = t.get('bg_nll')!.values;
  const refMask = t.get('hard_negative_mask')!.values;
  const masks = matches.map((m, b) => hardNegativeMask(bg.subarray(b * N, (b + 1) * N), m.labels));
  masks.forEach((mk, b) => mk.forEach((v, n) => assert.equal(v, refMask[b * N + n], `mask ${b}/${n}`)));
  // CE over the selected rows (stored in row-major [B,N] order) and smooth-L1 over positives.
  const sel = t.get('cls_logits_selected')!.values;
  let ce = 0;
  let row = 0;
  matches.forEach((m, b) => masks[b].forEach((v, n) => v && (ce += negLogSoftmaxAt(sel, row++ * C, C, m.labels[n]))));
  assert.equal(row, t.get('cls_logits_selected')!.shape[0]);
  const ceRef = t.get('loss_cls_ce_sum')!.values[0];
  assert.ok(Math.abs(ce - ceRef) <= 1e-4 * Math.abs(ceRef), `CE sum ${ce} vs ${ceRef}`);
  // The host loss over logits holding only the selected rows (the rest enter the loss only through bg, checked above).
  const reg = Float32Array.from(t.get('box_regressions')!.values);
  const logits = new Float32Array(2 * N * C);
  row = 0;
  masks.forEach((mk, b) => mk.forEach((v, n) => v && logits.set(sel.subarray(row * C, ++row * C), (b * N + n) * C)));
  const parts = ssdMultiboxLoss(logits, reg, matches, C);
  assert.equal(parts.numPos, Number(t.get('num_pos')!.values[0]));
  const l1Ref = t.get('loss_box_smooth_l1_sum')!.values[0];
  assert.ok(Math.abs(parts.smoothL1Sum - l1Ref) <= 1e-4 * Math.abs(l1Ref), `smooth-L1 sum ${parts.smoothL1Sum} vs ${l1Ref}`);
  const loss = (parts.smoothL1Sum + ce) / parts.numPos;
  assert.ok(Math.abs(loss - t.get('loss')!.values[0]) <= man.tolerance_suggestion.loss_atol, `loss ${loss} vs ${t.get('loss')!.values[0]}`);
  console.log(`SSD train: matched locations max diff ${maxLoc.toExponential(2)}, CE ${ce} (ref ${ceRef}), L1 ${parts.smoothL1Sum} (ref ${l1Ref}), loss ${loss} (ref ${t.get('loss')!.values[0]})`);
});

test('SSD box coding round-trips and the default config has the official layout', () => {
  const anchors = ssdAnchors(ssdGridSizes(320, 320));
  assert.equal(anchors.length / 4, 3232);
  assert.deepEqual(ssdGridSizes(160, 224, { roundOddToEven: true }), [[10, 14], [6, 8], [3, 4], [2, 2], [1, 1], [1, 1]]);
  const gt = Float32Array.from([0.1, 0.2, 0.5, 0.6, 0.3, 0.3, 0.9, 0.95]);
  const a = anchors.subarray(0, 8);
  const enc = ssdEncode(xyxyToCxcywh(gt), a);
  const dec = ssdDecode(enc, a);
  dec.forEach((v, i) => assert.ok(Math.abs(v - gt[i]) < 1e-6, `${v} vs ${gt[i]}`));
  // An image without objects: every label 0, w/h targets -inf.
  const m = ssdMatch(new Float32Array(0), [], anchors);
  assert.ok(m.labels.every((l) => l === 0));
  assert.equal(m.locations[2], -Infinity);
});

test('ssdTargets normalises pixel boxes: same labels as matching the normalised boxes; Transformers.js result shape', async () => {
  const { ssdTargets, toDetectionObjects } = await import('../src/detect/index.js');
  const anchors = ssdAnchors(ssdGridSizes(320, 320));
  const px = Float32Array.from([32, 64, 160, 192, 200, 10, 300, 90]);
  const t = ssdTargets(px, [3, 7], 320, 320, anchors);
  const m = ssdMatch(Float32Array.from([0.1, 0.2, 0.5, 0.6, 0.625, 0.03125, 0.9375, 0.28125]), [3, 7], anchors);
  assert.deepEqual(t.labels, m.labels);
  assert.ok(t.labels.includes(3) && t.labels.includes(7));
  const o = toDetectionObjects({ boxes: [0.1, 0.2, 0.5, 0.6], scores: [0.9], labels: [1] }, ['background', 'person'], { sx: 100, sy: 50 });
  assert.deepEqual(o, [{ label: 'person', score: 0.9, box: { xmin: 10, ymin: 10, xmax: 50, ymax: 30 } }]);
});

test('SSD post-processing options: a per-image cap on the per-class mode keeps the best scores; a higher threshold keeps a subset', { skip: g.skip }, () => {
  const t = readRawSafetensors(join(dense, 'ssdlite_mobilevitv3_xxs_coco.io.safetensors'));
  const anchors = ssdAnchors(ssdGridSizes(320, 320));
  const cls = f32(t.get('cls_logits')!);
  const reg = f32(t.get('box_regressions')!);
  const full = ssdPostprocess(cls, reg, anchors, 81, SSD_POSTPROCESS_V1);
  const capped = ssdPostprocess(cls, reg, anchors, 81, { ...SSD_POSTPROCESS_V1, maxDetections: 50 });
  assert.equal(capped.scores.length, 50);
  const best = [...full.scores].sort((a, b) => b - a).slice(0, 50);
  assert.deepEqual([...capped.scores], best);
  const strict = ssdPostprocess(cls, reg, anchors, 81, { ...SSD_POSTPROCESS_V1, confThreshold: 0.3 });
  const keys = new Set([...full.anchorIndex].map((a, i) => `${a}:${full.labels[i]}`));
  assert.ok(strict.scores.length > 0 && strict.scores.length < full.scores.length);
  strict.anchorIndex.forEach((a, i) => assert.ok(strict.scores[i] > Math.fround(0.3) && keys.has(`${a}:${strict.labels[i]}`)));
});
