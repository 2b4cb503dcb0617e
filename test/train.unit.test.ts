/**
 * Training mechanics on a small model (MobileViTv3-XXS, random init, batch 2 at 64x64): optimizer
 * rules in the graph vs. their float64 host references, schedules, freezing, gradient clipping,
 * soft targets, learning rate as a graph input, state passing without fresh buffers, sync and EMA.
 */
import '../src/node.js';
import { test } from 'node:test';
import { normals } from './helpers/random.js';
import assert from 'node:assert/strict';
import { createModel } from '../src/models/registry.js';
import type { HostTensor } from '../src/tensor.js';
import {
  adamw,
  constantLr,
  mixTargets,
  noDecayNormsAndBiases,
  OptimizerStep,
  sgd,
  smoothTargets,
  stepDecay,
  TrainStep,
  warmupCosine,
  WeightEma,
  type Optimizer,
} from '../src/train/index.js';

const f = (t: HostTensor) => t.data as Float32Array;
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

const SHAPE = [2, 3, 64, 64];
const images = (seed: number): HostTensor => ({ dtype: 'float32', shape: SHAPE, data: normals(2 * 3 * 64 * 64, seed) });
const smallModel = () => createModel('mobilevitv3_xxs', { numClasses: 10, seed: 7 });

test('schedules: warm-up + cosine and step decay are pure functions of the step', () => {
  const s = warmupCosine({ baseLr: 1e-3, totalSteps: 100, warmupSteps: 10, minLr: 1e-5 });
  assert.equal(s(0), 0);
  assert.ok(Math.abs(s(5) - 5e-4) < 1e-12);
  assert.ok(Math.abs(s(10) - 1e-3) < 1e-12);
  assert.ok(Math.abs(s(55) - (1e-5 + (1e-3 - 1e-5) / 2)) < 1e-12);
  assert.ok(Math.abs(s(100) - 1e-5) < 1e-15 && s(500) === 1e-5);
  for (let i = 10; i < 100; i++) assert.ok(s(i + 1) <= s(i));
  const st = stepDecay({ baseLr: 0.1, stepSize: 30, gamma: 0.1 });
  assert.deepEqual([st(0), st(29), st(30), st(60)].map((v) => +v.toPrecision(6)), [0.1, 0.1, 0.01, 0.001]);
  const ms = stepDecay({ baseLr: 1, milestones: [5, 8], gamma: 0.5, warmupSteps: 2 });
  assert.deepEqual([ms(0), ms(1), ms(2), ms(5), ms(9)], [0, 0.5, 1, 0.5, 0.25]);
  assert.equal(constantLr(0.3)(1234), 0.3);
});

test('optimizer rules in the graph match their float64 host references (AdamW with decay mask, SGD momentum / Nesterov)', async () => {
  const shapes = new Map<string, number[]>([
    ['a.weight', [4, 3, 3, 3]],
    ['a.bias', [4]],
    ['tokens.weight', [6, 8]],
  ]);
  const opts: Optimizer[] = [
    adamw({ weightDecay: 0.05 }),
    adamw({ weightDecay: 0.1, betas: [0.8, 0.99], decayMask: noDecayNormsAndBiases }),
    sgd({ momentum: 0.9, weightDecay: 1e-4 }),
    sgd({ momentum: 0.9, nesterov: true, weightDecay: 1e-4, decayMask: noDecayNormsAndBiases }),
    sgd({ momentum: 0.5, dampening: 0.3 }),
    sgd({}),
  ];
  let seed = 1;
  for (const opt of opts) {
    const os = await OptimizerStep.create(opt, shapes);
    let params = new Map([...shapes].map(([k, s]) => [k, { dtype: 'float32', shape: s, data: normals(s.reduce((a, b) => a * b, 1), seed++) } as HostTensor]));
    let host = new Map<string, { p: Float32Array; st: Float32Array[] }>([...params].map(([k, t]) => [k, { p: f(t).slice(), st: opt.slots.map(() => new Float32Array(f(t).length)) }]));
    let state = null;
    for (let t = 1; t <= 3; t++) {
      const lr = 0.01 * t;
      const grads = new Map([...shapes].map(([k, s]) => [k, { dtype: 'float32', shape: s, data: normals(s.reduce((a, b) => a * b, 1), seed++) } as HostTensor]));
      const r = await os.apply(params, grads, state, lr);
      for (const [k, s] of shapes) {
        const h = host.get(k)!;
        const u = opt.updateHost(h.p, f(grads.get(k)!), h.st, t, lr, opt.decays(k, s));
        host.set(k, { p: u.param, st: u.state });
        assert.ok(maxDiff(f(r.params.get(k)!), u.param) < 2e-6, `${opt.kind} ${JSON.stringify(opt.config)} step ${t} ${k}`);
        opt.slots.forEach((slot, i) => assert.ok(maxDiff(f(r.state.slots.get(slot)!.get(k)!), u.state[i]) < 2e-6));
      }
      params = r.params;
      state = r.state;
    }
    await os.release();
  }
  // the decay mask follows the module's declaration; undeclared tensors: no decay for 1-D ones
  assert.equal(noDecayNormsAndBiases('a.bias', [4]), false);
  assert.equal(noDecayNormsAndBiases('tokens.weight', [6, 8], false), false);
  assert.equal(noDecayNormsAndBiases('a.weight', [4, 3, 3, 3]), true);
  const mf = createModel('mobile_former_26m', { numClasses: 10 });
  const decl = new Map(mf.stateEntries().map((e) => [e.key, e.decay]));
  assert.equal(noDecayNormsAndBiases('tokens.weight', [3, 128], decl.get('tokens.weight')), false);
  assert.equal(noDecayNormsAndBiases('classifier.fc.0.weight', [1024, 704], decl.get('classifier.fc.0.weight')), true);
});

test('train step: lr is a graph input, state passes between steps in two fixed buffer sets, BN counters, sync', async () => {
  const model = smallModel();
  const ts = await TrainStep.create(model, SHAPE, { optimizer: adamw({ weightDecay: 0.05 }), labelSmoothing: 0.1 });
  const key = 'conv_1.block.conv.weight';
  const w0 = f(ts.get(key)!).slice();
  const x = images(1);
  // lr = 0: AdamW with decay factor 1 - 0 leaves every parameter unchanged; BN statistics still move.
  const rm0 = f(ts.get('conv_1.block.norm.running_mean')!).slice();
  const r0 = await ts.run(x, [1, 2], { lr: 0 });
  assert.ok(Number.isFinite(r0.loss));
  assert.equal(maxDiff(f(ts.get(key)!), w0), 0);
  assert.ok(maxDiff(f(ts.get('conv_1.block.norm.running_mean')!), rm0) > 0);
  assert.equal((ts.get('conv_1.block.norm.num_batches_tracked')!.data as BigInt64Array)[0], 1n);
  // the same session, another lr: parameters move; buffers alternate between two fixed sets
  const buffers = new Set<ArrayBufferLike>();
  let loss = r0.loss;
  for (let i = 0; i < 4; i++) {
    const r = await ts.run(x, [1, 2], { lr: 2e-3 });
    buffers.add(f(ts.get(key)!).buffer);
    loss = r.loss;
  }
  assert.equal(buffers.size, 2, 'parameters alternate between two pre-allocated buffers');
  assert.ok(loss < r0.loss, `loss goes down on a repeated batch: ${r0.loss} -> ${loss}`);
  assert.ok(maxDiff(f(ts.get(key)!), w0) > 1e-3);
  assert.equal(ts.step, 5);
  assert.equal((ts.get('conv_1.block.norm.num_batches_tracked')!.data as BigInt64Array)[0], 5n);
  const st = ts.optimizerState();
  assert.equal(st.step, 5);
  assert.ok(maxDiff(f(st.slots.get('exp_avg')!.get(key)!), new Float32Array(w0.length)) > 0);
  // sync writes parameters and buffers into the model; eval forward now uses them
  const before = await model.forward(x);
  ts.sync();
  assert.equal(maxDiff(f(model.weights.get(key)!), f(ts.get(key)!)), 0);
  assert.equal((model.weights.get('conv_1.block.norm.num_batches_tracked')!.data as BigInt64Array)[0], 5n);
  const after = await model.forward(x);
  assert.ok(maxDiff(f(before), f(after)) > 1e-4);
  await ts.release();
});

test('train step: freeze backbone (head-only updates), gradient norm and clipping, soft targets = smoothed labels', async () => {
  const model = smallModel();
  const x = images(2);
  const labels = [3, 9];
  // frozen backbone: only classifier.* is trainable; backbone weights stay, BN statistics still update
  const ft = await TrainStep.create(model, SHAPE, { freeze: 'backbone', outputGradients: true });
  assert.deepEqual([...ft.trainable].sort(), ['classifier.fc.bias', 'classifier.fc.weight']);
  assert.ok(ft.frozen.includes('conv_1.block.conv.weight'));
  const bw = f(ft.get('conv_1.block.conv.weight')!).slice();
  const hw = f(ft.get('classifier.fc.weight')!).slice();
  await ft.run(x, labels);
  assert.equal(maxDiff(f(ft.get('conv_1.block.conv.weight')!), bw), 0);
  assert.ok(maxDiff(f(ft.get('classifier.fc.weight')!), hw) > 0);
  assert.deepEqual([...ft.gradients().keys()].sort(), ['classifier.fc.bias', 'classifier.fc.weight']);
  await ft.release();

  // gradients + norm, then a clipped step equals AdamW applied to the clipped gradients
  const opt = adamw({ weightDecay: 0.05 });
  const g = await TrainStep.create(model, SHAPE, { optimizer: opt, outputGradients: true, gradNorm: true, labelSmoothing: 0.1 });
  const p0 = new Map([...g.state()].filter(([k]) => g.trainable.includes(k)).map(([k, t]) => [k, { ...t, data: f(t).slice() }]));
  const r = await g.run(x, labels, { lr: 1e-3 });
  let sq = 0;
  for (const t of g.gradients().values()) for (const v of f(t)) sq += v * v;
  // float32 sum of ~7e5 squares in the graph vs float64 here
  assert.ok(Math.abs(r.gradNorm! - Math.sqrt(sq)) <= 1e-3 * Math.sqrt(sq), `grad norm ${r.gradNorm} vs ${Math.sqrt(sq)}`);
  const grads = new Map([...g.gradients()].map(([k, t]) => [k, { ...t, data: f(t).slice() }]));
  await g.release();

  const maxNorm = 0.25 * Math.sqrt(sq);
  const c = await TrainStep.create(model, SHAPE, { optimizer: opt, clipGradNorm: maxNorm, labelSmoothing: 0.1 });
  const rc = await c.run(x, labels, { lr: 1e-3 });
  assert.ok(Math.abs(rc.gradNorm! - r.gradNorm!) <= 1e-5 * r.gradNorm!);
  const coef = maxNorm / (r.gradNorm! + 1e-6);
  const clippedGrads = new Map([...grads].map(([k, t]) => [k, { ...t, data: f(t).map((v) => v * coef) }]));
  const os = await OptimizerStep.create(opt, new Map([...p0].map(([k, t]) => [k, t.shape])));
  const ref = await os.apply(p0, clippedGrads, null, 1e-3);
  let worst = 0;
  for (const [k, t] of ref.params) worst = Math.max(worst, maxDiff(f(c.get(k)!), f(t)));
  assert.ok(worst < 1e-6, `clipped step vs AdamW of clipped gradients: ${worst}`);
  await c.release();
  await os.release();

  // soft targets: smoothTargets(labels, 0.1) gives the loss and gradients of label smoothing 0.1
  const sft = await TrainStep.create(model, SHAPE, { targets: 'soft', outputGradients: true, update: false });
  const rs = await sft.run(x, smoothTargets(labels, 10, 0.1));
  assert.ok(Math.abs(rs.loss - r.loss) < 1e-5, `soft ${rs.loss} vs labels ${r.loss}`);
  for (const [k, t] of sft.gradients()) assert.ok(maxDiff(f(t), f(grads.get(k)!)) <= 1e-4 * (1e-3 + Math.max(...f(grads.get(k)!).map(Math.abs))), k);
  // mixup targets are convex combinations summing to 1 per row
  const mt = mixTargets([1, 2], [3, 2], 0.7, 10, 0.1);
  assert.ok(Math.abs(f(mt).slice(0, 10).reduce((a, b) => a + b, 0) - 1) < 1e-6);
  assert.ok(Math.abs(f(mt)[1] - (0.7 * 0.91 + 0.3 * 0.01)) < 1e-6 && Math.abs(f(mt)[3] - (0.3 * 0.91 + 0.7 * 0.01)) < 1e-6);
  await sft.release();
});

test('train step: the flat (per-group) optimizer equals the per-tensor one; fused BN/SiLU equal their composites', async () => {
  const model = smallModel();
  const x = images(4);
  const opt = adamw({ weightDecay: 0.05, decayMask: noDecayNormsAndBiases });
  const a = await TrainStep.create(model, SHAPE, { optimizer: opt, labelSmoothing: 0.1 });
  const b = await TrainStep.create(model, SHAPE, { optimizer: opt, labelSmoothing: 0.1, flatOptimizer: false });
  const c = await TrainStep.create(model, SHAPE, { optimizer: opt, labelSmoothing: 0.1, lowering: { fusedBatchNorm: false, fusedSilu: false } });
  for (let i = 0; i < 2; i++) {
    const ra = await a.run(x, [4, 6]);
    const rb = await b.run(x, [4, 6]);
    const rc = await c.run(x, [4, 6]);
    assert.equal(ra.loss, rb.loss);
    assert.ok(Math.abs(ra.loss - rc.loss) < 1e-5, `step ${i}: fused ${ra.loss} vs composite ${rc.loss}`);
  }
  for (const [k, t] of a.state()) {
    if (t.dtype !== 'float32') continue;
    assert.equal(maxDiff(f(t), f(b.get(k)!)), 0, `flat vs per-tensor: ${k}`);
    // Adam moves each element by ~lr·sign(g): round-off-level gradients may flip (up to 2·lr·steps)
    assert.ok(maxDiff(f(t), f(c.get(k)!)) < 4.5e-3, `fused vs composite: ${k}`);
  }
  await Promise.all([a.release(), b.release(), c!.release()]);
});

test('train step: SGD with Nesterov momentum trains; EMA of the weights', async () => {
  const model = smallModel();
  const ts = await TrainStep.create(model, SHAPE, { optimizer: sgd({ momentum: 0.9, nesterov: true, weightDecay: 1e-4 }), lr: warmupCosine({ baseLr: 0.05, totalSteps: 6, warmupSteps: 1, warmupStartLr: 0.01 }) });
  const ema = new WeightEma(ts.state(), { decay: 0.5 });
  const key = 'classifier.fc.weight';
  const e0 = f(ema.weights.get(key)!).slice();
  const x = images(3);
  const losses: number[] = [];
  const lrs: number[] = [];
  for (let i = 0; i < 6; i++) {
    const r = await ts.run(x, [0, 5]);
    losses.push(r.loss);
    lrs.push(r.lr);
    const cur = f(ts.get(key)!).slice();
    const prev = f(ema.weights.get(key)!).slice();
    ema.update(ts.state());
    const now = f(ema.weights.get(key)!);
    for (let j = 0; j < 5; j++) assert.ok(Math.abs(now[j] - (0.5 * prev[j] + 0.5 * cur[j])) < 1e-7);
  }
  assert.ok(Math.abs(lrs[0] - 0.01) < 1e-12 && Math.abs(lrs[1] - 0.05) < 1e-12, `schedule: ${lrs}`);
  assert.ok(losses[5] < losses[0], `loss ${losses}`);
  assert.ok(maxDiff(f(ema.weights.get(key)!), e0) > 0);
  assert.equal(ema.updates, 6);
  assert.equal((ema.weights.get('conv_1.block.norm.num_batches_tracked')!.data as BigInt64Array)[0], 6n);
  assert.equal(ts.optimizerState().slots.get('momentum_buffer')!.size, ts.trainable.length);
  await ts.release();
});
