import '../src/node.js';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { arrayDataset } from '../src/data/dataset.js';
import { decodeImageFile } from '../src/data/decode_node.js';
import { loadModelFile } from '../src/models/model_file_node.js';
import { pipeline } from '../src/pipeline.js';
import { renderEvalBatch } from '../src/train/evaluate.js';
import { REPO_ROOT } from './helpers/golden.js';

test("pipeline('image-classification') with the shipped default: same scores as the evaluation path, samples mostly right", async () => {
  const model = await loadModelFile(join(REPO_ROOT, 'assets', 'default', 'model.safetensors'));
  assert.equal(model.name, 'mobilevitv3_xxs');
  assert.equal(model.labels?.length, 10);
  const classify = await pipeline('image-classification', model, { topK: 0 });
  const dir = join(REPO_ROOT, 'assets', 'samples');
  const files = readdirSync(dir).filter((f) => f.endsWith('.png')).sort();
  assert.ok(files.length >= 5);
  const preds = (await classify(files.map((f) => join(dir, f)))) as { label: string; score: number; index: number }[][];

  // the evaluation path: gray 28x28 pixels as a dataset, the training view (pad 2, size 32)
  const imgs = await Promise.all(files.map((f) => decodeImageFile(join(dir, f))));
  const gray = new Uint8Array(imgs.length * 28 * 28);
  imgs.forEach((im, i) => {
    for (let p = 0; p < 28 * 28; p++) gray[i * 784 + p] = im.data[3 * p];
  });
  const ds = arrayDataset(gray, new Uint8Array(imgs.length), 28, 28, 1, model.labels!);
  const size = model.cfg.inputSize[0];
  const x = renderEvalBatch(ds, 0, imgs.length, imgs.length, { size, pad: model.cfg.pad!, norm: model.cfg });
  const logits = (await model.forward({ dtype: 'float32', shape: [imgs.length, 3, size, size], data: x })).data as Float32Array;
  let right = 0;
  files.forEach((f, i) => {
    assert.equal(preds[i].length, 10);
    const C = 10;
    const row = logits.subarray(i * C, (i + 1) * C);
    const arg = row.indexOf(Math.max(...row));
    assert.equal(preds[i][0].index, arg, `${f}: pipeline and evaluation path disagree`);
    const total = preds[i].reduce((a, p) => a + p.score, 0);
    assert.ok(Math.abs(total - 1) < 1e-6);
    if (preds[i][0].label.toLowerCase().replace(/[^a-z]+/g, '_') === f.replace('.png', '')) right++;
  });
  assert.ok(right >= files.length - 1, `${right} of ${files.length} samples labelled right`);
  await classify.dispose();
});
