import '../src/node.js';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createModel } from '../src/models/registry.js';
import { syntheticWeights } from '../src/io/synthetic.js';
import { readCheckpoint } from '../src/io/torch.js';
import { goldenOrSkip } from './helpers/golden.js';
import { assertClose, loadCase, maxAbs } from './helpers/compare.js';

const g = goldenOrSkip();

const STORED = [
  { model: 'mobilevitv3_xxs', kase: 'mobilevitv3_xxs_nc1000_256' },
  { model: 'mobilevitv3_xs', kase: 'mobilevitv3_xs_nc10_128' },
  { model: 'mobilevitv3_0.5', kase: 'mobilevitv3_0.5_nc10_128' },
];

for (const { model, kase } of STORED) {
  test(`golden ${kase}: logits and every stage, both input sizes`, { skip: g.skip }, async () => {
    const c = loadCase(g.dir, kase);
    const m = createModel(model, { numClasses: c.manifest.num_classes, weights: c.weights! });
    assert.equal(m.numParams(), c.manifest.num_params);
    const tol = c.manifest.tolerance_suggestion;
    for (const io of [c.io, c.io2!]) {
      const out = await m.forwardFeatures(io.get('input')!);
      const shape = io.get('input')!.shape.join('x');
      assertClose(out.logits, io.get('logits')!, tol.logits_atol, tol.logits_rtol, `${kase} ${shape} logits`);
      for (const [k, ref] of io) {
        if (!k.startsWith('out_')) continue;
        assertClose(out[k], ref, 1e-4 * maxAbs(ref), 1e-3, `${kase} ${shape} ${k}`);
      }
    }
    await m.dispose();
  });
}

const SYNTH = ['mobilevitv3_xxs', 'mobilevitv3_xs', 'mobilevitv3_s', 'mobilevitv3_0.5', 'mobilevitv3_0.75', 'mobilevitv3_1.0'];
test('golden synthetic-weight cases: every MobileViTv3 variant', { skip: g.skip }, async () => {
  const shapes = JSON.parse(readFileSync(join(g.dir, 'state_dict_shapes.json'), 'utf8'));
  for (const v of SYNTH) {
    const c = loadCase(join(g.dir, 'synthetic'), `synth_${v}_nc1000_64x64_b2_s4242`);
    const w = syntheticWeights(shapes[v].state_dict, c.manifest.synth_seed);
    const m = createModel(v, { weights: w });
    assert.equal(m.numParams(), shapes[v].num_params, `${v} params`);
    const logits = await m.forward(c.io.get('input')!);
    assertClose(logits, c.io.get('logits')!, c.manifest.tolerance_suggestion.logits_atol, c.manifest.tolerance_suggestion.logits_rtol, `synthetic ${v}`);
    await m.dispose();
  }
});

test('golden .pt checkpoint loads through the allowlisted unpickler and reproduces the logits', { skip: g.skip }, async () => {
  const dir = join(g.dir, 'pt');
  const c = loadCase(dir, 'mobilevitv3_xxs_nc10_pt');
  const sd = await readCheckpoint(readFileSync(join(dir, 'mobilevitv3_xxs_nc10_pt.pt')));
  const m = createModel('mobilevitv3_xxs', { numClasses: 10, weights: sd });
  const logits = await m.forward(c.io.get('input')!);
  assertClose(logits, c.io.get('logits')!, c.manifest.tolerance_suggestion.logits_atol, c.manifest.tolerance_suggestion.logits_rtol, 'pt logits');
  await m.dispose();
});
