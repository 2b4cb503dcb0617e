import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { cocoEvaluate, cocoBoxIou, linspace, summaryLines, cocoEvalJson, defaultCocoParams } from '../src/eval/coco_eval.js';
import { goldenOrSkip } from './helpers/golden.js';
import { readRawSafetensors } from './helpers/raw_safetensors.js';

const g = goldenOrSkip();
const dir = g.skip ? '' : join(g.dir, 'eval');
const cases = g.skip ? [] : readdirSync(dir).filter((f) => /^coco_.*\.gt\.json$/.test(f)).map((f) => f.replace('.gt.json', ''));

test('the golden folder has the 11 COCO cases', { skip: g.skip }, () => {
  assert.equal(cases.length, 11);
});

const readJson = (f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8'));

for (const name of cases) {
  test(`COCOeval golden ${name}: stats, per-category, precision and recall arrays`, { skip: g.skip }, () => {
    const man = readJson(`${name}.json`);
    const r = cocoEvaluate(readJson(`${name}.gt.json`), readJson(`${name}.dt.json`));
    const atol = man.tolerance_suggestion.stats_atol;
    let worst = 0;
    man.stats.forEach((ref: number, i: number) => {
      const d = Math.abs(r.stats[i] - ref);
      worst = Math.max(worst, d);
      assert.ok(d <= atol, `${name} stats[${i}]: ours ${r.stats[i]} ref ${ref}`);
    });
    assert.deepEqual([...r.perCategory.keys()].map(String), Object.keys(man.per_category).sort((a, b) => Number(a) - Number(b)));
    for (const [id, ref] of Object.entries<any>(man.per_category)) {
      const ours = r.perCategory.get(Number(id))!;
      for (const k of ['AP', 'AP50', 'AP75', 'AR100'] as const) assert.ok(Math.abs(ours[k] - ref[k]) <= man.tolerance_suggestion.per_category_atol, `${name} cat ${id} ${k}: ours ${ours[k]} ref ${ref[k]}`);
    }
    const pr = readRawSafetensors(join(dir, `${name}.pr.safetensors`));
    const { T, R, K, A, M } = r.dims;
    const prec = pr.get('precision_all_100')!;
    assert.deepEqual(prec.shape, [T, R, K]);
    for (let t = 0; t < T; t++)
      for (let ri = 0; ri < R; ri++)
        for (let k = 0; k < K; k++) {
          const ours = r.precision[(((t * R + ri) * K + k) * A + 0) * M + 2];
          const ref = prec.values[(t * R + ri) * K + k];
          assert.ok(Math.abs(ours - ref) <= 1e-12, `${name} precision[${t},${ri},${k}]: ours ${ours} ref ${ref}`);
        }
    const rec = pr.get('recall')!;
    assert.deepEqual(rec.shape, [T, K, A, M]);
    rec.values.forEach((ref, i) => assert.ok(Math.abs(r.recall[i] - ref) <= 1e-12, `${name} recall[${i}]: ours ${r.recall[i]} ref ${ref}`));
    assert.deepEqual(summaryLines(r.stats), man.summary_printed);
    const js = cocoEvalJson(r);
    assert.equal(js.stats.AP, r.stats[0]);
    assert.equal(js.stats.AR_large, r.stats[11]);
    console.log(`${name}: max |stat diff| ${worst}`);
  });
}

test('parameters are numpy linspace doubles, not decimal literals', () => {
  const p = defaultCocoParams();
  assert.equal(p.iouThrs[8], 0.8999999999999999);
  assert.notEqual(p.iouThrs[8], 0.9);
  assert.equal(p.iouThrs[5], 0.75);
  assert.equal(p.recThrs[35], 35 * 0.01);
  assert.notEqual(p.recThrs[35], 0.35);
  assert.deepEqual(linspace(0, 1, 3), [0, 0.5, 1]);
});

test('bbIou: crowd IoU is over the detection area; touching boxes give 0', () => {
  assert.equal(cocoBoxIou([0, 0, 10, 10], [5, 0, 10, 10], false), 50 / 150);
  assert.equal(cocoBoxIou([0, 0, 10, 10], [5, 0, 100, 100], true), 0.5);
  assert.equal(cocoBoxIou([0, 0, 10, 10], [10, 0, 10, 10], false), 0);
});

test('malformed inputs give one-line errors', () => {
  const gt = { images: [{ id: 1 }], categories: [{ id: 1 }], annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 1], area: 1 }] };
  assert.throws(() => cocoEvaluate(gt as any, [{ image_id: 1, category_id: 1, bbox: [0, 0, 1, 1], score: 1 }]), /annotations\[0\]: bbox must be 4 finite numbers/);
  gt.annotations[0].bbox = [0, 0, 1, 1];
  assert.throws(() => cocoEvaluate(gt as any, [{ image_id: 2, category_id: 1, bbox: [0, 0, 1, 1], score: 1 }]), /image_id 2 is not an image/);
  assert.throws(() => cocoEvaluate(gt as any, []), /empty/);
  assert.throws(() => cocoEvaluate(gt as any, [{ image_id: 1, category_id: 1, bbox: [0, 0, 1, 1], score: 'x' } as any]), /"score" must be a number/);
});

test('toCocoResults: normalised xyxy boxes become pixel xywh, background dropped, categories mapped', async () => {
  const { toCocoResults } = await import('../src/eval/coco_results.js');
  const { ssdLabelToCocoId } = await import('../src/data/coco_classes.js');
  const r = toCocoResults(7, { boxes: [0.1, 0.2, 0.5, 0.6, 0, 0, 1, 1], scores: [0.9, 0.8], labels: [12, 0] }, ssdLabelToCocoId, { sx: 200, sy: 100 });
  assert.equal(r.length, 1);
  assert.equal(r[0].category_id, 13);
  assert.deepEqual(r[0].bbox.map((v) => Math.round(v * 1e9) / 1e9), [20, 20, 80, 40]);
  assert.equal(r[0].image_id, 7);
});
