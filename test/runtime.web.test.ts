/**
 * The browser engine: onnxruntime-web's wasm build (run here under Node) executes the same
 * inference and training graphs as onnxruntime-node, checked against the golden cases.
 */
import '../src/node.js';
import { test } from 'node:test';
import * as ortWeb from 'onnxruntime-web';
import { getEngine, setEngine } from '../src/runtime/engine.js';
import { webEngine } from '../src/runtime/web.js';
import { createModel } from '../src/models/registry.js';
import { goldenOrSkip } from './helpers/golden.js';
import { assertClose, loadCase } from './helpers/compare.js';
import { checkTrainCase, TRAIN_CASES } from './helpers/train_golden.js';
import assert from 'node:assert/strict';

const g = goldenOrSkip();
setEngine(webEngine(ortWeb, { threads: 1 }));

test('onnxruntime-web: official-weight logits of the golden MobileViTv3-XXS case', { skip: g.skip }, async () => {
  assert.equal(getEngine().name, 'onnxruntime-web');
  const c = loadCase(g.dir, 'mobilevitv3_xxs_nc1000_256');
  const m = createModel('mobilevitv3_xxs', { numClasses: c.manifest.num_classes, weights: c.weights! });
  const tol = c.manifest.tolerance_suggestion;
  assertClose(await m.forward(c.io.get('input')!), c.io.get('logits')!, tol.logits_atol, tol.logits_rtol, 'web logits');
  await m.dispose();
});

for (const { kase, model, title } of TRAIN_CASES) {
  test(`onnxruntime-web: golden train ${title} (the same one-graph training step)`, { skip: g.skip }, async () => {
    assert.equal(getEngine().name, 'onnxruntime-web');
    await checkTrainCase(kase, model);
  });
}
