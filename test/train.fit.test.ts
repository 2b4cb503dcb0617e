import { maxWeightDiff } from './helpers/compare.js';
import '../src/node.js';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { arrayDataset, permutation, subset, type Dataset } from '../src/data/dataset.js';
import { FASHION_MNIST_CLASSES, fashionMnistAvailable, loadFashionMnist } from '../src/data/fashion_mnist_node.js';
import { rng } from '../src/random.js';
import { createModel } from '../src/models/registry.js';
import { writeSafetensors } from '../src/io/safetensors.js';
import { HybridVisionError } from '../src/tensor.js';
import { loadTrainCheckpoint, prepareRunDir, saveTrainCheckpoint } from '../src/train/checkpoint_node.js';
import { REPO_ROOT } from './helpers/golden.js';
import { runLimited } from './helpers/limited_cli.js';
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
  // 4 steps per epoch; warm-up 0.05·(s+1)/3 over the first 2 steps, then 0.05·0.5^floor(step/4).
  const want = [0.05 / 3, 0.1 / 3, 0.05, 0.05, 0.025, 0.025, 0.025, 0.025, 0.0125, 0.0125, 0.0125, 0.0125];
  assert.equal(lrs.length, want.length);
  lrs.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-12, `step ${i}: lr ${v}, want ${want[i]}`));
  assert.ok(history.every((h) => Number.isFinite(h.trainLoss)));
  await m.dispose();
});

// ---- interrupted runs, run folders, non-finite state

const meta10 = { model: 'mobilevitv3_xxs', numClasses: 10, config: {} };

/** Largest |a − b| over the float tensors of `ref` (every key of `ref` must be in `got`). */
function maxDiffOver(ref: Map<string, { dtype: string; data: unknown }>, got: Map<string, { dtype: string; data: unknown }>): number {
  let d = 0;
  for (const [k, t] of ref) {
    if (t.dtype !== 'float32') continue;
    const g = got.get(k);
    assert.ok(g, `model lacks ${k}`);
    const x = t.data as Float32Array;
    const y = g.data as Float32Array;
    for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
  }
  return d;
}

for (const emaDecay of [null, 0.9]) {
  test(`resume with no epoch left restores the checkpoint's ${emaDecay ? 'EMA ' : ''}weights before anything is evaluated or saved`, { skip }, async () => {
    const train = fmnist(64, 6);
    const o = { ...base, epochs: 1, emaDecay };
    const ckpt = join(tmp, `done${emaDecay}.safetensors`);
    const first = createModel('mobilevitv3_xxs', { numClasses: 10, seed: 5 });
    await fit(first, train, null, o, { checkpoint: (s) => saveTrainCheckpoint(ckpt, meta10, s) });
    const { state } = await loadTrainCheckpoint(ckpt);
    assert.equal(state.epoch, 1);
    // killed between the last checkpoint and model.safetensors: the resumed run has nothing left to train
    const resumed = createModel('mobilevitv3_xxs', { numClasses: 10, seed: 99 });
    const init = new Map([...resumed.weights].map(([k, t]) => [k, { ...t, data: t.data.slice() }]));
    const steps: number[] = [];
    const { history } = await fit(resumed, train, null, o, { resume: state, onStep: (s) => void steps.push(s.step) });
    assert.equal(steps.length, 0);
    assert.equal(history.length, 1);
    const want = emaDecay ? state.ema! : state.weights;
    assert.equal(maxDiffOver(want, resumed.weights), 0);
    assert.ok(maxDiffOver(want, init) > 1e-3, 'the restored weights differ from a fresh initialisation');
    assert.equal(maxDiffOver(first.weights, resumed.weights), 0, 'the resumed model equals the finished run');
    await first.dispose();
    await resumed.dispose();
  });
}

test('an epoch that leaves Inf in a BatchNorm running_var writes no checkpoint; the last good one is kept', { skip }, async () => {
  const train = fmnist(64, 7);
  const ckpt = join(tmp, 'inf.safetensors');
  const save = (s: Parameters<typeof saveTrainCheckpoint>[2]) => saveTrainCheckpoint(ckpt, meta10, s);
  const m = createModel('mobilevitv3_xxs', { numClasses: 10 });
  await fit(m, train, null, { ...base, epochs: 1 }, { checkpoint: save });
  const good = readFileSync(ckpt);
  const { state } = await loadTrainCheckpoint(ckpt);
  // training mode normalises with batch statistics, so the loss stays finite while running_var stays Inf
  const key = [...state.weights.keys()].find((k) => k.endsWith('running_var'))!;
  (state.weights.get(key)!.data as Float32Array)[0] = Infinity;
  const losses: number[] = [];
  await assert.rejects(
    fit(m, train, null, { ...base, epochs: 2 }, { resume: state, checkpoint: save, onStep: (s) => void losses.push(s.loss) }),
    new RegExp(`weight '${key.replace(/\./g, '\\.')}' \\(Infinity\\) became non-finite during epoch 2; stopped \\(the last good checkpoint, after epoch 1, is kept\\)`),
  );
  assert.ok(losses.length === 4 && losses.every(Number.isFinite), `finite losses ${losses}`);
  assert.deepEqual(readFileSync(ckpt), good);
  // the writer refuses non-finite state by itself too
  await assert.rejects(saveTrainCheckpoint(ckpt, meta10, state), /not writing .*inf\.safetensors: weight '.*running_var' \(Infinity\) is not finite/);
  assert.deepEqual(readFileSync(ckpt), good);
  await m.dispose();
});

test('a damaged training checkpoint gets one-line errors naming it', async () => {
  const w = { 'model.x': { dtype: 'float32' as const, shape: [1], data: Float32Array.from([1]) } };
  const cases: [Record<string, string>, RegExp][] = [
    [{ format: 'hybridvision-train', meta: '{oops', epoch: '1', step: '4', history: '[]' }, /metadata 'meta' is not valid JSON; the checkpoint is damaged/],
    [{ format: 'hybridvision-train', meta: JSON.stringify(meta10), epoch: '-1', step: '4', history: '[]' }, /metadata 'epoch' is not a whole number/],
    [{ format: 'hybridvision-train', meta: JSON.stringify(meta10), epoch: '1', step: '4', history: '{"a":1}' }, /metadata 'history' is not a list of epoch records/],
    [{ format: 'hybridvision-train', meta: JSON.stringify(meta10), epoch: '1', step: '4' }, /metadata 'history' is missing/],
  ];
  for (const [metadata, pattern] of cases) {
    const p = join(tmp, 'damaged.safetensors');
    writeFileSync(p, writeSafetensors(w, metadata));
    await assert.rejects(loadTrainCheckpoint(p), (e: Error) => {
      assert.ok(e instanceof HybridVisionError, String(e));
      assert.match(e.message, pattern);
      assert.ok(e.message.includes('damaged.safetensors') && !e.message.includes('\n'));
      return true;
    });
  }
});

/** A child process that holds the run-folder lock on `dir` until killed. */
async function holdLock(dir: string): Promise<ChildProcess> {
  const mod = pathToFileURL(join(REPO_ROOT, 'dist', 'src', 'train', 'checkpoint_node.js')).href;
  const child = spawn(process.execPath, ['-e', `import(${JSON.stringify(mod)}).then((m) => { m.prepareRunDir(${JSON.stringify(dir)}); console.log('locked'); setInterval(() => {}, 1000); })`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => (d.toString().includes('locked') ? resolve() : undefined));
    child.on('exit', (code) => reject(new Error(`lock holder exited with ${code}`)));
  });
  return child;
}

test('the run folder lock: a second run is refused while the first lives, a killed run\'s lock is taken over', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hv-lock-'));
  const child = await holdLock(dir);
  try {
    assert.throws(() => prepareRunDir(dir), new RegExp(`another training run \\(pid ${child.pid}\\) is writing to ${dir.replace(/[.]/g, '\\.')}; wait for it to finish or choose another --out`));
    // the CLI says so in one line, before loading anything heavy into a run
    const r = runLimited(['train', 'mobilevitv3_xxs', '--data', 'fashion-mnist', '--limit', '64', '--epochs', '1', '--out', dir]);
    if (!skip) {
      assert.equal(r.code, 1, r.err);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.match(r.err, new RegExp(`^hybridvision: error: another training run \\(pid ${child.pid}\\) is writing to`));
      assert.ok(!/epoch 1\/1/.test(r.out), 'no epoch ran');
    }
  } finally {
    child.kill('SIGKILL');
    await new Promise((res) => child.once('exit', res));
  }
  // the holder was killed (kill -9): its lock is stale and taken over
  const release = prepareRunDir(dir);
  assert.throws(() => prepareRunDir(dir), /another training run \(pid \d+\)/, 'a live lock of this process also counts');
  release();
  prepareRunDir(dir)();
  rmSync(dir, { recursive: true, force: true });
});

test('temp files left by killed runs are removed when a run starts; other files stay', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hv-tmpclean-'));
  const stale = ['.checkpoint.safetensors.4242.m3x1k2.0.tmp', '.model.safetensors.17.lq0.a.tmp'];
  const keep = ['checkpoint.safetensors', 'notes.tmp', '.hidden', 'history.json'];
  for (const f of [...stale, ...keep]) writeFileSync(join(dir, f), 'x');
  const release = prepareRunDir(dir);
  release();
  assert.deepEqual(readdirSync(dir).sort(), [...keep].sort());
  rmSync(dir, { recursive: true, force: true });
});

test('a read-only --out is refused before training starts', () => {
  // root can write into a mode-0555 folder, so as root use /sys (no files can be created there)
  const root = process.getuid?.() === 0;
  const dir = root ? '/sys' : mkdtempSync(join(tmpdir(), 'hv-ro-'));
  if (!root) chmodSync(dir, 0o555);
  try {
    assert.throws(() => prepareRunDir(dir), /cannot write training output to .*: (permission denied|it is on a read-only file system); choose another --out/);
    const r = runLimited(['train', 'mobilevitv3_xxs', '--data', 'fashion-mnist', '--limit', '64', '--epochs', '1', '--out', dir]);
    if (!skip) {
      assert.equal(r.code, 1, r.err);
      assert.match(r.err.trim(), /^hybridvision: error: cannot write training output to .*; choose another --out$/);
      assert.ok(!/epoch 1\/1/.test(r.out), 'no epoch ran');
    }
  } finally {
    if (!root) {
      chmodSync(dir, 0o755);
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('CLI: a run killed after its last checkpoint, resumed, writes the trained model, not a fresh one', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'hv-resume-cli-'));
  const args = ['train', 'mobilevitv3_xxs', '--data', 'fashion-mnist', '--limit', '96', '--epochs', '1', '--batch', '16', '--val', '0', '--out', dir];
  const first = runLimited(args, { heapMb: 2048, timeoutMs: 300_000 });
  assert.equal(first.code, 0, first.err);
  // as if killed between checkpoint.safetensors and model.safetensors
  rmSync(join(dir, 'model.safetensors'));
  const again = runLimited([...args, '--resume'], { heapMb: 2048, timeoutMs: 300_000 });
  assert.equal(again.code, 0, again.err);
  assert.match(again.out, /resuming after epoch 1/);
  const { state } = await loadTrainCheckpoint(join(dir, 'checkpoint.safetensors'));
  const { readSafetensors } = await import('../src/io/safetensors.js');
  const saved = readSafetensors(readFileSync(join(dir, 'model.safetensors'))).tensors;
  assert.equal(maxDiffOver(state.weights, saved), 0, 'model.safetensors holds the checkpoint weights');
  const fresh = createModel('mobilevitv3_xxs', { numClasses: 10, seed: 1 });
  assert.ok(maxDiffOver(state.weights, fresh.weights) > 1e-3);
  await fresh.dispose();
  rmSync(dir, { recursive: true, force: true });
});
