import { assertOneLineError, cli } from './helpers/cli.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import '../src/node.js';
import { ssdAnchors, SSD_ANCHOR_DEFAULTS } from '../src/detect/ssd.js';
import { denseOutputs } from '../src/models/dense_outputs.js';
import { modelFromBytes, modelToSafetensors } from '../src/models/model_file.js';
import { createModel } from '../src/models/registry.js';
import type { SsdLite } from '../src/models/ssdlite.js';
import { ssdTask } from '../src/train/dense_tasks.js';
import { writeSafetensors } from '../src/io/safetensors.js';

const NAME = 'ssdlite_mobilevitv3_xxs_coco';
const S = 128;

test('SSD anchor scales recorded in a model file drive its prior boxes; the official ones stay the default', async () => {
  const official = createModel(NAME, { numClasses: 3, seed: 1 });
  const m = createModel(NAME, { numClasses: 3, seed: 1 });
  m.cfg = { ...m.cfg, anchorScales: [0.2, 0.95] };
  const back = await modelFromBytes(modelToSafetensors(m));
  assert.deepEqual(back.cfg.anchorScales, [0.2, 0.95]);
  const x = { dtype: 'float32' as const, shape: [1, 3, S, S], data: new Float32Array(3 * S * S).fill(0.3) };
  const a = (await denseOutputs(back, x)).anchors.data as Float32Array;
  const o = (await denseOutputs(official, x)).anchors.data as Float32Array;
  const grids: [number, number][] = [[8, 8], [4, 4], [2, 2], [1, 1], [1, 1], [1, 1]];
  assert.deepEqual(Array.from(o), Array.from(ssdAnchors(grids)));
  assert.deepEqual(Array.from(a), Array.from(ssdAnchors(grids, { ...SSD_ANCHOR_DEFAULTS, minScaleRatio: 0.2, maxScaleRatio: 0.95 })));
  // the first prior of the first cell is the s_min square
  assert.equal(a[2], Math.fround(0.2));
  assert.equal(o[2], Math.fround(0.1));
  for (const mm of [official, m, back]) await mm.dispose();
});

test('the SSD matcher threshold of a training task: a lower IoU matches more priors to the same boxes', () => {
  const m = createModel(NAME, { numClasses: 2, seed: 1 });
  const ds = { count: 1, size: S, pixels: new Uint8Array(S * S), channels: 1 as const, boxes: [Float32Array.from([30, 40, 70, 90])], labels: [Int32Array.from([1])], classNames: ['thing'] };
  const positives = (matchIou?: number) => {
    const t = ssdTask(m, ds, null, { norm: { mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'RGB' }, flip: false, matchIou });
    const y = t.batch([0], () => 0.9, new Float32Array(3 * S * S)) as { data: Float32Array };
    let n = 0;
    for (let i = 0; i < y.data.length; i += 5) if (y.data[i] > 0) n++;
    return n;
  };
  const official = positives();
  const low = positives(0.35);
  assert.ok(official >= 1 && low > official, `${official} vs ${low}`);
  assert.ok((m.net as SsdLite).numClasses === 2);
});

test('--anchor-scales and --match-iou: checked, SSD models only; a model file with bad anchor scales is refused', () => {
  assertOneLineError(cli('train', NAME, '--data', 'fmnist-scenes', '--anchor-scales', '0.9,0.1'), /--anchor-scales needs MIN,MAX with 0 < MIN < MAX <= 2, got '0.9,0.1'/);
  assertOneLineError(cli('train', NAME, '--data', 'fmnist-scenes', '--match-iou', '1.5'), /--match-iou needs a number between 0 and 1/);
  assertOneLineError(cli('train', 'deeplabv3_mobilevitv3_xxs_voc', '--data', 'fmnist-scenes', '--match-iou', '0.4'), /--match-iou applies to SSD models only/);
});

test('model-file metadata: anchor scales out of order are refused', async () => {
  const t = { w: { dtype: 'float32' as const, shape: [1], data: new Float32Array(1) } };
  const bytes = writeSafetensors(t, { model: NAME, cfg: JSON.stringify({ anchorScales: [0.5, 0.1] }) });
  await assert.rejects(modelFromBytes(bytes, undefined, { fileLabel: 'bad.safetensors' }), /bad\.safetensors: metadata 'cfg.anchorScales' is .*; it must be \[min, max\] with 0 < min < max <= 2/);
});
