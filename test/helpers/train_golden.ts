/**
 * The golden training-case check (../shared/golden/train, README "Training cases"), run on
 * whichever engine is current: logits, loss, BatchNorm running statistics, every gradient
 * (per-tensor tolerance), AdamW step 1 from the stored gradients, step 2 (logits2, loss2, bn2,
 * grad2 at the stored indices, parameters), zero-gradient tensors.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { goldenOrSkip } from './golden.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { createModel } from '../../src/models/registry.js';
import type { HostTensor } from '../../src/tensor.js';
import { adamw, crossEntropyHost, OptimizerStep, smoothTargets, TrainStep, type OptimizerState } from '../../src/train/index.js';

export const TRAIN_CASES = [
  { kase: 'train_mobilevitv3_xxs_nc10_64_b4', model: 'mobilevitv3_xxs', title: 'MobileViTv3-XXS' },
  { kase: 'train_mobilevitv3_0.5_nc10_64_b4', model: 'mobilevitv3_0.5', title: 'MobileViTv3-0.5' },
  { kase: 'train_mobile_former_26m_nc10_64_b4', model: 'mobile_former_26m', title: 'Mobile-Former-26M' },
];

export const golden = goldenOrSkip();
export const trainDir = golden.skip ? '' : join(golden.dir, 'train');

export function tensors(file: string): Map<string, HostTensor> {
  return readSafetensors(new Uint8Array(readFileSync(join(trainDir, file)))).tensors;
}

export const f = (t: HostTensor) => t.data as Float32Array;

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= m)) m = d; // NaN propagates
  }
  return m;
}
/** Elements of `full` at the stored sample indices (or all of it). */
function sampled(full: Float32Array, index: HostTensor | undefined): Float32Array {
  if (!index) return full;
  const idx = index.data as Int32Array;
  const out = new Float32Array(idx.length);
  for (let j = 0; j < idx.length; j++) out[j] = full[idx[j]];
  return out;
}

interface Worst {
  v: number;
  key: string;
}
const worst = (): Worst => ({ v: 0, key: '' });
function track(w: Worst, v: number, key: string): void {
  if (!(v <= w.v)) {
    w.v = v;
    w.key = key;
  }
}

/** Runs one training case on the current engine, asserting as it goes, and logs what it measured. */
export async function checkTrainCase(caseName: string, variant: string): Promise<void> {
  const man = JSON.parse(readFileSync(join(trainDir, `${caseName}.json`), 'utf8'));
  assert.equal(man.variant, variant);
  const tol = man.tolerance_suggestion;
  const W = tensors(man.files.weights);
  const io = tensors(man.files.io);
  const G = tensors(man.files.grads);
  const BN = tensors(man.files.bn);
  const AW = tensors(man.files.adamw);
  const zero = new Set<string>(man.zero_gradient_tensors);
  const perTensor: Record<string, number[]> = man.grad_per_tensor;
  const o = man.optimizer;
  const lr: number = o.lr;
  const opt = adamw({ betas: o.betas, eps: o.eps, weightDecay: o.weight_decay });
  const [n, , h, w] = man.input_shape;

  const model = createModel(variant, { numClasses: man.num_classes, weights: W });
  const ts = await TrainStep.create(model, [n, 3, h, w], { optimizer: opt, labelSmoothing: 0.1, outputGradients: true, lr });
  const paramKeys = [...G.keys()].map((k) => k.slice('grad.'.length));
  assert.deepEqual([...ts.trainable].sort(), [...paramKeys].sort(), 'trainable parameters = stored gradients');
  const report: string[] = [];

  const checkForward = (r: { loss: number; logits: HostTensor }, sfx: string) => {
    const ref = io.get(`logits${sfx}`)!;
    const d = maxDiff(f(r.logits), f(ref));
    let excess = -Infinity;
    for (let i = 0; i < f(ref).length; i++) excess = Math.max(excess, Math.abs(f(r.logits)[i] - f(ref)[i]) - (tol.logits_atol + tol.logits_rtol * Math.abs(f(ref)[i])));
    assert.ok(excess <= 0, `logits${sfx}: max diff ${d}`);
    const dl = Math.abs(r.loss - f(io.get(`loss${sfx}`)!)[0]);
    assert.ok(dl <= tol.loss_atol, `loss${sfx}: ${r.loss} vs ${f(io.get(`loss${sfx}`)!)[0]}`);
    // the loss rule itself, on the stored logits (host, float64)
    const labels = [...(io.get(`labels${sfx}`)!.data as BigInt64Array)].map(Number);
    assert.ok(Math.abs(crossEntropyHost(ref, smoothTargets(labels, man.num_classes, 0.1)) - f(io.get(`loss${sfx}`)!)[0]) < 1e-6);
    report.push(`logits${sfx} ${d.toExponential(2)} (atol ${tol.logits_atol}), loss${sfx} ${dl.toExponential(2)} (atol ${tol.loss_atol})`);
  };
  const checkBn = (prefix: string, expectCount: bigint) => {
    const wb = worst();
    let count = 0;
    for (const [k, ref] of BN) {
      if (!k.startsWith(prefix)) continue;
      const key = k.slice(prefix.length);
      const ours = ts.get(key);
      assert.ok(ours, `${key}: no BN state`);
      if (ref.dtype === 'int64') {
        assert.equal((ours.data as BigInt64Array)[0], (ref.data as BigInt64Array)[0], key);
        assert.equal((ours.data as BigInt64Array)[0], expectCount, key);
        continue;
      }
      const rel = maxDiff(f(ours), f(ref)) / maxAbs(f(ref));
      track(wb, rel, key);
      assert.ok(rel <= tol.bn_running_rel_max, `${prefix}${key}: rel ${rel} > ${tol.bn_running_rel_max}`);
      count++;
    }
    assert.ok(count > 0);
    report.push(`${prefix} ${count} running stats, worst rel ${wb.v.toExponential(2)} (${wb.key}; tol ${tol.bn_running_rel_max})`);
  };
  const checkGrads = (ours: Map<string, HostTensor>, prefix: string) => {
    const wg = worst();
    const wz = worst();
    for (const key of paramKeys) {
      const ref = prefix === 'grad.' ? G.get(`grad.${key}`)! : AW.get(`grad2.${key}`)!;
      const mine = sampled(f(ours.get(key)!), prefix === 'grad.' ? undefined : AW.get(`index.${key}`));
      if (zero.has(key)) {
        const m = maxAbs(mine);
        track(wz, m, key);
        assert.ok(m <= tol.zero_grad_atol, `${prefix}${key} (zero-gradient tensor): max|ours| ${m} > ${tol.zero_grad_atol}`);
        continue;
      }
      const t = perTensor[key]?.[3] ?? tol.grad_rel_max;
      const rel = maxDiff(mine, f(ref)) / maxAbs(f(ref));
      track(wg, rel / t, key);
      assert.ok(rel <= t, `${prefix}${key}: rel err ${rel} > tol ${t}`);
    }
    report.push(`${prefix}* worst (rel err / tol) ${wg.v.toExponential(2)} at ${wg.key}; zero-grad max ${wz.v.toExponential(2)} (atol ${tol.zero_grad_atol})`);
  };
  /**
   * step-N parameters from our own gradients: within 1e-5 except the zero-gradient tensors, the
   * elements whose reference gradient is at the round-off floor (|g| <= zero_grad_atol, e.g. the key
   * part of a qkv bias, which softmax ignores: Adam moves them by ~lr·sign(noise)), and a fraction
   * step2_frac_allowed of the others, which may differ by up to 2.5e-3.
   */
  const checkOwnStep = (label: string, sfx: string, gradRef: (key: string) => Float32Array) => {
    let bad = 0;
    let total = 0;
    let floor = 0;
    let worstAbs = 0;
    for (const key of paramKeys) {
      if (zero.has(key)) continue;
      const ref = f(AW.get(`${sfx}.${key}`)!);
      const mine = sampled(f(ts.get(key)!), AW.get(`index.${key}`));
      const g = gradRef(key);
      for (let i = 0; i < ref.length; i++) {
        const d = Math.abs(mine[i] - ref[i]);
        assert.ok(d <= 2.5e-3, `${label} ${key}[${i}]: ${mine[i]} vs ${ref[i]}`);
        if (Math.abs(g[i]) <= tol.zero_grad_atol) {
          floor++;
          continue;
        }
        if (d > 1e-5) bad++;
        else worstAbs = Math.max(worstAbs, d);
        total++;
      }
    }
    assert.ok(bad / total <= tol.step2_frac_allowed, `${label}: ${bad}/${total} elements differ by > 1e-5`);
    report.push(
      `${label} (own grads): ${bad}/${total} sampled elements > 1e-5 (allowed frac ${tol.step2_frac_allowed}; ${floor} round-off-floor elements skipped), others max ${worstAbs.toExponential(2)}`,
    );
  };

  // 1-3: forward batch 1, BN stats, gradients; the fused step also applied AdamW with our own gradients.
  const r1 = await ts.run(io.get('input')!, io.get('labels')!.data as BigInt64Array, { lr });
  checkForward(r1, '');
  checkBn('bn1.', 1n);
  checkGrads(ts.gradients(), 'grad.');
  checkOwnStep('fused step1', 'step1', (k) => sampled(f(G.get(`grad.${k}`)!), AW.get(`index.${k}`)));

  // 4: AdamW step 1 from the stored gradients (optimizer-only graph, same rule).
  const shapes = new Map(paramKeys.map((k) => [k, W.get(k)!.shape] as [string, number[]]));
  const os = await OptimizerStep.create(opt, shapes);
  const storedG1 = new Map(paramKeys.map((k) => [k, G.get(`grad.${k}`)!] as [string, HostTensor]));
  const s1 = await os.apply(W, storedG1, null, lr);
  const wa = worst();
  for (const key of paramKeys) {
    const d = maxDiff(sampled(f(s1.params.get(key)!), AW.get(`index.${key}`)), f(AW.get(`step1.${key}`)!));
    track(wa, d, key);
    assert.ok(d <= tol.adamw_atol, `step1.${key}: ${d} > ${tol.adamw_atol}`);
  }
  report.push(`step1 from stored grads: max ${wa.v.toExponential(2)} (${wa.key}; adamw_atol ${tol.adamw_atol})`);

  // 5: forward batch 2 at the step-1 parameters (from the stored gradients), our BN stats after step 1.
  ts.setWeights(s1.params);
  ts.loadOptimizerState(s1.state);
  const r2 = await ts.run(io.get('input2')!, io.get('labels2')!.data as BigInt64Array, { lr });
  assert.equal(r2.step, 2);
  checkForward(r2, '2');
  checkBn('bn2.', 2n);
  checkGrads(ts.gradients(), 'grad2.');
  // 6: step 2 with our own grad2 (the fused step) ...
  checkOwnStep('fused step2', 'step2', (k) => f(AW.get(`grad2.${k}`)!));
  // ... and with the stored grad2 where it is stored in full (optimizer-only graph).
  const fullKeys = paramKeys.filter((k) => !AW.has(`index.${k}`));
  const g2 = new Map<string, HostTensor>(paramKeys.map((k) => [k, fullKeys.includes(k) ? AW.get(`grad2.${k}`)! : ts.gradients().get(k)!]));
  const s2 = await os.apply(s1.params, g2, s1.state as OptimizerState, lr);
  const wa2 = worst();
  for (const key of fullKeys) {
    const d = maxDiff(f(s2.params.get(key)!), f(AW.get(`step2.${key}`)!));
    track(wa2, d, key);
    assert.ok(d <= tol.adamw_atol, `step2.${key}: ${d} > ${tol.adamw_atol}`);
  }
  report.push(`step2 from stored grad2 (${fullKeys.length} full tensors): max ${wa2.v.toExponential(2)} (${wa2.key}; adamw_atol ${tol.adamw_atol})`);

  // sync writes parameters, running stats and num_batches_tracked back into the model.
  ts.sync();
  assert.equal((model.weights.get(paramKeys[0])!.data as Float32Array)[0], f(ts.get(paramKeys[0])!)[0]);
  const nbtKey = [...BN.keys()].find((k) => k.startsWith('bn2.') && k.endsWith('num_batches_tracked'))!.slice(4);
  assert.equal((model.weights.get(nbtKey)!.data as BigInt64Array)[0], 2n);
  await os.release();
  await ts.release();
  console.log(`${caseName}:\n  ${report.join('\n  ')}`);
}

