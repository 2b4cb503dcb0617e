import '../src/node.js';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createModel } from '../src/models/registry.js';
import { syntheticWeights, weightsSha256 } from '../src/io/synthetic.js';
import { goldenOrSkip } from './helpers/golden.js';
import { assertClose, readTensors } from './helpers/compare.js';

/*
 * The calibrated classification cases (golden README "Calibrated classification cases"): every
 * variant at an odd size, formula weights with BN statistics calibrated on real batches, so the
 * logits depend strongly on the input and every stage map is checked at its own tolerance.
 */
const g = goldenOrSkip();
const dir = join(g.dir, 'calibrated');
const cases = g.skip ? [] : readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length)).sort();

test('calibrated cases: all 13 variants present', { skip: g.skip }, () => {
  assert.equal(cases.length, 13);
});

for (const kase of cases) {
  test(`golden calibrated ${kase}: logits and every per-stage map`, { skip: g.skip }, async (t) => {
    const man = JSON.parse(readFileSync(join(dir, `${kase}.json`), 'utf8'));
    const shapes = JSON.parse(readFileSync(join(g.dir, 'state_dict_shapes.json'), 'utf8'))[man.variant];
    const weights = syntheticWeights(shapes.state_dict, man.weights.seed);
    const bn = readTensors(join(dir, man.files.bnstats));
    for (const [k, v] of bn) {
      assert.ok(weights.has(k), `${kase}: bnstats key ${k} not in the state dict`);
      weights.set(k, v);
    }
    assert.equal(await weightsSha256(weights), man.weights.state_dict_sha256, `${kase}: reconstructed state dict`);
    const io = readTensors(join(dir, man.files.io));
    const m = createModel(man.variant, { numClasses: man.num_classes, weights });
    assert.equal(m.numParams(), man.num_params);
    const out = await m.forwardFeatures(io.get('input')!);
    const tol = man.tolerance_suggestion;
    const d = assertClose(out.logits, io.get('logits')!, tol.logits_atol, tol.logits_rtol, `${kase} logits`);
    t.diagnostic(`${kase}: max |logits diff| ${d.toExponential(2)} (atol ${tol.logits_atol})`);
    assert.equal(man.intermediates.length, Object.keys(tol.per_tensor).filter((k) => k !== 'logits').length);
    for (const k of man.intermediates as string[]) {
      const ref = io.get(k);
      assert.ok(ref, `${kase}: ${k} not stored`);
      assert.ok(out[k], `${kase}: ${k} not produced`);
      const pt = tol.per_tensor[k];
      assertClose(out[k]!, ref, pt.atol, pt.rtol, `${kase} ${k}`);
    }
    await m.dispose();
  });
}
