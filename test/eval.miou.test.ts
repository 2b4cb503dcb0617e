import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfusionMatrix, cvnetsTrainingIou } from '../src/eval/segmentation.js';
import { goldenOrSkip } from './helpers/golden.js';
import { readRawSafetensors } from './helpers/raw_safetensors.js';

const g = goldenOrSkip();
const dir = g.skip ? '' : join(g.dir, 'eval');
const cases = g.skip ? [] : readdirSync(dir).filter((f) => /^miou_.*\.json$/.test(f)).map((f) => f.replace('.json', ''));

test('the golden folder has the 3 mIoU cases', { skip: g.skip }, () => assert.equal(cases.length, 3));

for (const name of cases) {
  test(`mIoU golden ${name}: confusion matrix, per-class IoU, mIoU, pixel and class accuracy`, { skip: g.skip }, () => {
    const man = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
    const maps = readRawSafetensors(join(dir, `${name}.maps.safetensors`));
    const cm = new ConfusionMatrix(man.num_classes, man.ignore_index);
    const [N, H, W] = man.shape;
    const pred = maps.get('pred')!.values;
    const label = maps.get('label')!.values;
    // image by image, as an evaluator would accumulate
    for (let n = 0; n < N; n++) cm.add(pred.subarray(n * H * W, (n + 1) * H * W), label.subarray(n * H * W, (n + 1) * H * W));
    const s = man.standard;
    const C = man.num_classes;
    for (let i = 0; i < C; i++) for (let j = 0; j < C; j++) assert.equal(cm.at(i, j), s.confusion_matrix[i][j], `cm[${i},${j}]`);
    const m = cm.metrics();
    const tol = man.tolerance_suggestion.mIoU_atol;
    assert.ok(Math.abs(m.mIoU - s.mIoU) <= tol, `mIoU ours ${m.mIoU} ref ${s.mIoU}`);
    assert.equal(m.classesInUnion, s.classes_in_union);
    m.perClassIoU.forEach((v, c) => (s.per_class_IoU[c] === null ? assert.equal(v, null) : assert.ok(Math.abs(v! - s.per_class_IoU[c]) <= tol, `IoU[${c}]`)));
    assert.ok(Math.abs(m.pixelAccuracy - s.pixel_accuracy) <= tol);
    assert.ok(Math.abs(m.meanClassAccuracy - s.mean_class_accuracy) <= tol);
    const cv = man.cvnets.training_metric_iou;
    const ours = cvnetsTrainingIou([{ pred, label, n: N }], C);
    assert.ok(Math.abs(ours - cv.value_unrounded) <= man.tolerance_suggestion.cvnets_training_metric_atol, `cvnets iou ${ours} vs ${cv.value_unrounded}`);
    assert.equal(Math.round(ours * 1e4) / 1e4, cv.value_percent_rounded_4);
  });
}

test('labels outside the class range (not 255) are a one-line error', () => {
  const cm = new ConfusionMatrix(3);
  assert.throws(() => cm.add([0, 1], [0, 7]), /label value 7 at pixel 1 is outside the classes 0..2/);
  assert.throws(() => cm.add([5], [1]), /predicted value 5/);
  cm.add([2, 2], [255, 2]);
  assert.equal(cm.metrics().mIoU, 1);
});
