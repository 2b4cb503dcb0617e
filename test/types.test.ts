/**
 * Library types fit use without casts: this file only compiles if they do (the build runs tsc over
 * the tests), and its @ts-expect-error lines fail the build if a wrong use stops being an error.
 */
import '../src/node.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createModel, type HybridModel } from '../src/index.js';
import { pipeline, type Prediction } from '../src/pipeline.js';
import { warmupCosine } from '../src/train/schedule.js';

test('types: pipeline overloads, literal input tensors, instance cfg, createModel pretrained returns a Promise', async () => {
  const model: HybridModel = createModel('mobilevitv3_xxs', { numClasses: 4, seed: 1 });
  assert.equal(model.cfg.numClasses, 4);
  assert.equal(model.spec.cfg.numClasses, 1000);
  const classify = await pipeline('image-classification', model);
  const img = { width: 8, height: 8, data: new Uint8Array(8 * 8 * 3) };
  const one: Prediction[] = await classify(img);
  const many: Prediction[][] = await classify([img, img]);
  // @ts-expect-error one image gives one list, not a list per image
  const wrong: Prediction[][] = await classify(img);
  assert.equal(one.length, 4);
  assert.equal(many.length, 2);
  assert.equal(wrong.length, 4);
  const x = { dtype: 'float32', shape: [1, 3, 64, 64], data: new Float32Array(3 * 64 * 64) };
  assert.deepEqual((await model.forward(x)).shape, [1, 4]);
  await assert.rejects(model.forward({ ...x, dtype: 'float16' }), /input must be float32/);
  const p: Promise<HybridModel> = createModel('mobilevitv3_xxs', { pretrained: true, offline: true, cacheDir: '/nonexistent-hv-cache' });
  await assert.rejects(p, /offline/);
  assert.ok(warmupCosine({ baseLr: 1, totalSteps: 10, warmupSteps: 3 })(0) > 0);
  await model.dispose();
});
