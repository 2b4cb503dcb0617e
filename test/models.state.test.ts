import '../src/node.js';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createModel, getModelSpec, listModels } from '../src/models/registry.js';
import { goldenOrSkip } from './helpers/golden.js';

const g = goldenOrSkip();

test('the module tree is the state dict: official keys, order, shapes, dtypes and parameter counts of all 13 variants', { skip: g.skip }, () => {
  const shapes = JSON.parse(readFileSync(join(g.dir, 'state_dict_shapes.json'), 'utf8'));
  const variants = Object.keys(shapes);
  assert.equal(variants.length, 13);
  for (const v of variants) {
    const net = getModelSpec(v).build(1000);
    const ours = net.stateEntries().map((e) => [e.key, e.shape, e.dtype]);
    const ref = Object.entries(shapes[v].state_dict as Record<string, { shape: number[]; dtype: string }>).map(([k, s]) => [k, s.shape, s.dtype]);
    assert.deepEqual(ours, ref, `${v} state dict`);
    assert.equal(net.numParams(), shapes[v].num_params, `${v} params`);
  }
});

test('declarations: buffers are exactly the BatchNorm statistics; no decay on 1-D tensors and the Mobile-Former tokens', () => {
  for (const name of listModels()) {
    for (const e of createModel(name, { numClasses: 10 }).stateEntries()) {
      assert.equal(e.buffer, /\.(running_mean|running_var|num_batches_tracked)$/.test(e.key), `${name} ${e.key} buffer`);
      const decays = !e.buffer && e.shape.length > 1 && !/(^|\.)tokens\.weight$/.test(e.key); // Mobile-Former tokens, also as a detector body
      assert.equal(e.decay, decays, `${name} ${e.key} decay`);
    }
  }
});

test('initialisation follows the declarations: ones/zeros for norms and biases, kaiming fan_out convs, seeded and reproducible', () => {
  const a = createModel('mobilevitv3_xxs', { numClasses: 10, seed: 5 });
  const b = createModel('mobilevitv3_xxs', { numClasses: 10, seed: 5 });
  const c = createModel('mobilevitv3_xxs', { numClasses: 10, seed: 6 });
  const w = (m: typeof a, k: string) => m.weights.get(k)!.data as Float32Array;
  const conv = 'conv_1.block.conv.weight';
  assert.deepEqual(w(a, conv), w(b, conv));
  assert.notDeepEqual(w(a, conv), w(c, conv));
  const x = w(a, 'layer_3.1.conv_proj.block.conv.weight'); // [64, 80, 1, 1]: std sqrt(2/64)
  const std = Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
  assert.ok(Math.abs(std - Math.sqrt(2 / 64)) < 0.1 * Math.sqrt(2 / 64), `kaiming std ${std}`);
  assert.ok(w(a, 'conv_1.block.norm.running_var').every((v) => v === 1));
  assert.ok(w(a, 'conv_1.block.norm.bias').every((v) => v === 0));
  const fc = w(a, 'classifier.fc.weight');
  assert.ok(fc.every((v) => Math.abs(v) <= 0.04 + 1e-7), 'linear truncated at 2σ');
  const tokens = w(createModel('mobile_former_26m', { numClasses: 10, seed: 5 }), 'tokens.weight');
  const ts = Math.sqrt(tokens.reduce((s, v) => s + v * v, 0) / tokens.length);
  assert.ok(ts > 0.8 && ts < 1.2, `tokens std ${ts}`);
});
