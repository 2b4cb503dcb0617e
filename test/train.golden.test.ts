/**
 * Training conformance against the golden train cases (../shared/golden/train, README "Training
 * cases"): logits, loss, BatchNorm running statistics, every gradient (per-tensor tolerance),
 * AdamW step 1 from the stored gradients, step 2 (logits2, loss2, bn2, grad2 at the stored
 * indices, parameters), zero-gradient tensors; and eval-mode input gradients (saliency).
 *
 * Everything runs through the fused train step (one ONNX graph: forward, loss, backward, AdamW);
 * the optimizer-only graph (OptimizerStep) applies the stored gradients where the protocol asks.
 */
import '../src/node.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createModel } from '../src/models/registry.js';
import { InputGradient } from '../src/train/index.js';
import { checkTrainCase, f, golden, maxAbs, maxDiff, tensors, TRAIN_CASES, trainDir } from './helpers/train_golden.js';

for (const { kase, model, title } of TRAIN_CASES) {
  test(`golden train: ${title} (logits, loss, bn1/bn2, grads, AdamW steps 1-2)`, { skip: golden.skip }, async () => {
    await checkTrainCase(kase, model);
  });
}

test('golden grad-input: MobileViTv3-XXS eval-mode saliency at 96x80 (target logit and loss)', { skip: golden.skip }, async () => {
  const name = 'gradinput_mobilevitv3_xxs_nc10_96x80_b2';
  const man = JSON.parse(readFileSync(join(trainDir, `${name}.json`), 'utf8'));
  assert.ok(existsSync(join(trainDir, man.files.weights)));
  const tol = man.tolerance_suggestion;
  const io = tensors(man.files.io);
  const model = createModel(man.variant, { numClasses: man.num_classes, weights: tensors(man.files.weights) });
  const ig = await InputGradient.create(model, man.input_shape, { labelSmoothing: 0.1 });
  const r = await ig.run(io.get('input')!, io.get('labels')!.data as BigInt64Array);
  const dl = maxDiff(f(r.logits), f(io.get('logits')!));
  assert.ok(dl <= tol.logits_atol, `logits: ${dl}`);
  assert.ok(Math.abs(r.loss - f(io.get('loss')!)[0]) <= tol.loss_atol, `loss ${r.loss}`);
  const [n] = man.input_shape;
  const per = f(io.get('input')!).length / n;
  const out: string[] = [];
  for (const kind of ['target_logit', 'loss'] as const) {
    const ours = f(r.grads[kind]!);
    const ref = f(io.get(`grad_input.${kind}`)!);
    for (let b = 0; b < n; b++) {
      const a = ours.subarray(b * per, (b + 1) * per);
      const e = ref.subarray(b * per, (b + 1) * per);
      const rel = maxDiff(a, e) / maxAbs(e);
      assert.ok(rel <= tol.grad_input_rel_max, `grad_input.${kind} image ${b}: rel ${rel} > ${tol.grad_input_rel_max}`);
      out.push(`${kind}[${b}] ${rel.toExponential(2)}`);
    }
  }
  console.log(`${name}: logits ${dl.toExponential(2)}; per-image rel max err ${out.join(', ')} (tol ${tol.grad_input_rel_max})`);
  await ig.release();
});
