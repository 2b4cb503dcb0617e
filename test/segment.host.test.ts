import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { classMap, resizeBilinear, segLossWithAux, toSegmentationObjects } from '../src/segment/host.js';
import { goldenOrSkip } from './helpers/golden.js';
import { readRawSafetensors } from './helpers/raw_safetensors.js';

const g = goldenOrSkip();

test('segmentation train case: v0.2 loss (main at label size + 0.4 aux, align_corners=True, ignore 255) from the stored low-res logits', { skip: g.skip }, () => {
  const name = 'train_deeplabv3_mobilevitv3_0.5_voc_128x96_b4';
  const dir = join(g.dir, 'dense', 'train');
  const man = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
  const t = readRawSafetensors(join(dir, `${name}.io.safetensors`));
  const [N, C, h, w] = t.get('logits_lowres')!.shape;
  const [, H, W] = t.get('labels')!.shape;
  const labels = t.get('labels')!.values;
  // v0.2's train forward upsamples the classifier output by the output stride with align_corners=True
  const main = resizeBilinear(Float32Array.from(t.get('logits_lowres')!.values), N, C, h, w, H, W, true);
  const aux = Float32Array.from(t.get('aux_logits_lowres')!.values);
  const r = segLossWithAux(main, aux, [h, w], labels, N, C, H, W);
  const atol = man.tolerance_suggestion.loss_atol;
  const ref = { loss: t.get('loss')!.values[0], main: t.get('loss_main')!.values[0], aux: t.get('loss_aux')!.values[0] };
  assert.ok(Math.abs(r.main - ref.main) <= atol, `main ${r.main} vs ${ref.main}`);
  assert.ok(Math.abs(r.aux - ref.aux) <= atol, `aux ${r.aux} vs ${ref.aux} (stored unweighted)`);
  assert.ok(Math.abs(r.loss - ref.loss) <= atol, `loss ${r.loss} vs ${ref.loss}`);
  // align_corners=False would miss (the sensitivity table: 1e-3, 22x the atol)
  const wrong = segLossWithAux(resizeBilinear(Float32Array.from(t.get('logits_lowres')!.values), N, C, h, w, H, W, false), aux, [h, w], labels, N, C, H, W);
  assert.ok(Math.abs(wrong.loss - ref.loss) > atol);
  console.log(`seg loss ${r.loss} (ref ${ref.loss}, diff ${Math.abs(r.loss - ref.loss).toExponential(2)}); main ${r.main}, aux ${r.aux}`);
});

test('resizeBilinear: align_corners True keeps corners, False matches half-pixel centres; class map and result objects', () => {
  const x = Float32Array.from([0, 1, 2, 3]); // 1x1x2x2
  const a = resizeBilinear(x, 1, 1, 2, 2, 3, 3, true);
  assert.deepEqual([...a], [0, 0.5, 1, 1, 1.5, 2, 2, 2.5, 3]);
  const b = resizeBilinear(x, 1, 1, 2, 2, 4, 4, false);
  assert.deepEqual([...b.subarray(0, 4)], [0, 0.25, 0.75, 1]);
  const logits = Float32Array.from([1, 0, 0, 2, /* class 1 */ 0, 1, 3, 2]); // 1x2x2x2
  const m = classMap(logits, 1, 2, 2, 2);
  assert.deepEqual([...m], [0, 1, 1, 0]);
  const o = toSegmentationObjects(m, 2, 2, ['bg', 'thing']);
  assert.deepEqual(o.map((e) => e.label), ['bg', 'thing']);
  assert.deepEqual([...o[1].mask.data], [0, 255, 255, 0]);
});
