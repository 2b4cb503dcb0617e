import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { concatRows, headToRows, splitSsdRows } from '../src/detect/index.js';
import { goldenOrSkip } from './helpers/golden.js';
import { readRawSafetensors } from './helpers/raw_safetensors.js';

const g = goldenOrSkip();

test('SSD head layout: head_raw_l0..5 → rows → split gives cls_logits and box_regressions bit for bit (xxs io2)', { skip: g.skip }, () => {
  const name = 'ssdlite_mobilevitv3_xxs_coco';
  const man = JSON.parse(readFileSync(join(g.dir, 'dense', `${name}.json`), 'utf8'));
  const t = readRawSafetensors(join(g.dir, 'dense', `${name}.io2.safetensors`));
  const B = man.io.io2.input_shape[0];
  const levels = man.io.io2.levels.map((l: any) => {
    const raw = t.get(`head_raw_l${l.level}`)!;
    const [, ch, h, w] = raw.shape;
    assert.equal(ch, l.anchors_per_location * 85);
    return headToRows(Float32Array.from(raw.values), B, l.anchors_per_location, 85, h, w);
  });
  const rows = concatRows(levels, B, 85);
  const N = man.io.io2.num_anchors;
  const { boxRegressions, clsLogits } = splitSsdRows(rows, B, N, 81);
  assert.deepEqual(clsLogits, Float32Array.from(t.get('cls_logits')!.values));
  assert.deepEqual(boxRegressions, Float32Array.from(t.get('box_regressions')!.values));
});

test('RetinaNet head layout: cls_logits_raw.P5..P7 and bbox_regression_raw.P3..P7 map onto the concatenated rows bit for bit', { skip: g.skip }, () => {
  const name = 'retina_mf151m_nc91_320x320_b1';
  const man = JSON.parse(readFileSync(join(g.dir, 'retinanet_mf', `${name}.json`), 'utf8'));
  const t = readRawSafetensors(join(g.dir, 'retinanet_mf', `${name}.io.safetensors`));
  const grids: [number, number][] = man.level_grids;
  const C = man.num_classes;
  const A = man.num_anchors;
  const offsets = grids.reduce<number[]>((o, [h, w], i) => [...o, o[i] + h * w * 9], [0]);
  const box = t.get('bbox_regression')!.values;
  const cls = t.get('cls_logits')!.values;
  grids.forEach(([h, w], l) => {
    const rb = headToRows(Float32Array.from(t.get(`bbox_regression_raw.P${l + 3}`)!.values), 1, 9, 4, h, w);
    assert.deepEqual(rb, Float32Array.from(box.subarray(offsets[l] * 4, offsets[l + 1] * 4)), `P${l + 3} boxes`);
    const craw = t.get(`cls_logits_raw.P${l + 3}`);
    if (!craw) return; // P3/P4 raw logits are not stored (size)
    const rc = headToRows(Float32Array.from(craw.values), 1, 9, C, h, w);
    assert.deepEqual(rc, Float32Array.from(cls.subarray(offsets[l] * C, offsets[l + 1] * C)), `P${l + 3} logits`);
  });
  assert.equal(offsets[5], A);
});
