import '../src/node.js';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { arrayDataset, permutation, subset, type Dataset } from '../src/data/dataset.js';
import { FASHION_MNIST_CLASSES, fashionMnistAvailable, loadFashionMnist } from '../src/data/fashion_mnist_node.js';
import { rng } from '../src/random.js';
import { createModel } from '../src/models/registry.js';
import { loadTrainCheckpoint, saveTrainCheckpoint } from '../src/train/checkpoint_node.js';
import { fit, type FitOptions } from '../src/train/fit.js';

const skip = fashionMnistAvailable() ? false : 'Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)';
const tmp = mkdtempSync(join(tmpdir(), 'hv-fit-'));

function fmnist(n: number, seed: number): Dataset {
  const fm = loadFashionMnist();
  const all = arrayDataset(fm.train.images, fm.train.labels, 28, 28, 1, FASHION_MNIST_CLASSES);
  return subset(all, permutation(all.count, rng(seed)).subarray(0, n));
}

const base: FitOptions = {
  epochs: 1,
  batchSize: 16,
  size: 32,
  lr: 2e-3,
  warmupEpochs: 0.1,
  augment: 'pad-crop',
  pad: 2,
  seed: 7,
  norm: { mean: [0.286, 0.286, 0.286], std: [0.353, 0.353, 0.353], channelOrder: 'RGB' },
};

test('a few hundred training steps on a Fashion-MNIST subset make the loss fall', { skip }, async () => {
  const train = fmnist(3200, 1);
  const val = fmnist(400, 2);
  const m = createModel('mobilevitv3_xxs', { numClasses: 10, seed: 3 });
  const losses: number[] = [];
  let prev = 0;
  const { history } = await fit(m, train, val, { ...base, epochs: 1 }, {
    onStep: (s) => {
      losses.push(s.loss * s.step - prev * (s.step - 1));
      prev = s.loss;
    },
  });
  assert.equal(losses.length, 200);
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const first = mean(losses.slice(0, 20));
  const last = mean(losses.slice(-20));
  assert.ok(last < 0.75 * first, `loss fell from ${first.toFixed(3)} to ${last.toFixed(3)}`);
  assert.ok(history[0].val!.top1 > 0.5, `val top-1 ${history[0].val!.top1}`);
  await m.dispose();
});

function maxWeightDiff(a: Map<string, { dtype: string; data: unknown }>, b: Map<string, { dtype: string; data: unknown }>): number {
  let d = 0;
  for (const [k, t] of a) {
    if (t.dtype !== 'float32') continue;
    const x = t.data as Float32Array;
    const y = b.get(k)!.data as Float32Array;
    for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
  }
  return d;
}

for (const dropout of [false, true]) {
  test(`a run interrupted after one epoch and resumed ends with the same weights as an uninterrupted run${dropout ? ' (with dropout)' : ''}`, { skip }, async () => {
    const train = fmnist(192, 3);
    const o = { ...base, epochs: 2, emaDecay: 0.99, dropout };
    const full = createModel('mobilevitv3_xxs', { numClasses: 10, seed: 5 });
    await fit(full, train, null, o);

    const ckpt = join(tmp, `resume${dropout}.safetensors`);
    const first = createModel('mobilevitv3_xxs', { numClasses: 10, seed: 5 });
    // interrupted right after the first epoch's checkpoint was written
    const interrupt = async (s: Parameters<typeof saveTrainCheckpoint>[2]) => {
      await saveTrainCheckpoint(ckpt, { model: 'mobilevitv3_xxs', numClasses: 10, config: {} }, s);
      throw new Error('interrupted');
    };
    await assert.rejects(fit(first, train, null, o, { checkpoint: interrupt }), /interrupted/);
    const { state } = await loadTrainCheckpoint(ckpt);
    assert.equal(state.epoch, 1);
    const resumed = createModel('mobilevitv3_xxs', { numClasses: 10, seed: 99 });
    await fit(resumed, train, null, o, { resume: state });
    const d = maxWeightDiff(full.weights, resumed.weights);
    assert.ok(d <= 1e-6, `resumed weights differ by ${d}`);
    if (dropout) {
      // the masks took effect: without dropout the same run ends elsewhere
      const plain = createModel('mobilevitv3_xxs', { numClasses: 10, seed: 5 });
      await fit(plain, train, null, { ...o, dropout: false });
      const e = maxWeightDiff(full.weights, plain.weights);
      assert.ok(e > 1e-3, `dropout changed the weights by only ${e}`);
    }
  });
}

test('a NaN loss stops training with a clear message and keeps the last good checkpoint', { skip }, async () => {
  const train = fmnist(64, 4);
  const ckpt = join(tmp, 'nan.safetensors');
  const save = (s: Parameters<typeof saveTrainCheckpoint>[2]) => saveTrainCheckpoint(ckpt, { model: 'mobilevitv3_xxs', numClasses: 10, config: {} }, s);
  const m = createModel('mobilevitv3_xxs', { numClasses: 10 });
  await fit(m, train, null, { ...base, epochs: 1 }, { checkpoint: save });
  const good = readFileSync(ckpt);
  const { state } = await loadTrainCheckpoint(ckpt);
  // std 0 turns every input into Inf/NaN from epoch 2 on
  const poisoned = { ...base, epochs: 2, norm: { ...base.norm, std: [0, 0, 0] } };
  await assert.rejects(fit(m, train, null, poisoned, { resume: state, checkpoint: save }), /loss became NaN at epoch 2, step 1.*last good checkpoint, after epoch 1/);
  assert.ok(existsSync(ckpt));
  assert.deepEqual(readFileSync(ckpt), good);
});

test('fit with SGD and the step schedule: warm-up, then the lr drops by gamma every stepEpochs', { skip }, async () => {
  const train = fmnist(64, 5);
  const m = createModel('mobilevitv3_xxs', { numClasses: 10 });
  const lrs: number[] = [];
  const o: FitOptions = { ...base, epochs: 3, lr: 0.05, warmupEpochs: 0.5, optimizer: 'sgd', nesterov: false, momentum: 0.8, schedule: 'step', stepEpochs: 1, gamma: 0.5 };
  const { history } = await fit(m, train, null, o, { onStep: (s) => void lrs.push(s.lr) });
  // 4 steps per epoch; warm-up over the first 2 steps from 0, then 0.05·0.5^floor(step/4).
  const want = [0, 0.025, 0.05, 0.05, 0.025, 0.025, 0.025, 0.025, 0.0125, 0.0125, 0.0125, 0.0125];
  assert.equal(lrs.length, want.length);
  lrs.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-12, `step ${i}: lr ${v}, want ${want[i]}`));
  assert.ok(history.every((h) => Number.isFinite(h.trainLoss)));
  await m.dispose();
});
