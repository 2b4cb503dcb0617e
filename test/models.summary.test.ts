import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createModel } from '../src/models/registry.js';
import { summarize } from '../src/models/summary.js';

// Research figures (1 MAdd per multiply-accumulate of convs, linears and attention products; no bias).
const FIGURES: [string, number, number, number][] = [
  ['mobilevitv3_xxs', 256, 1.249, 332.2],
  ['mobilevitv3_0.5', 256, 1.43, 479.8],
  ['mobile_former_294m', 224, 11.423, 286.7],
];

for (const [name, res, params, madds] of FIGURES) {
  test(`${name}: ${params}M params and ${madds}M MAdds at ${res}x${res}, counted from the graph`, () => {
    const s = summarize(createModel(name), res, res);
    assert.equal((s.params / 1e6).toFixed(3), params.toFixed(3));
    assert.equal((s.madds / 1e6).toFixed(1), madds.toFixed(1));
    assert.equal(s.rows.reduce((a, r) => a + r.madds, 0), s.madds);
  });
}

test('per-stage rows carry output shapes, including odd sizes', () => {
  const s = summarize(createModel('mobilevitv3_xxs'), 96, 80);
  const row = (n: string) => s.rows.find((r) => r.stage === n)!;
  assert.deepEqual(row('layer_5').outputShape, [1, 128, 3, 3]);
  const v2 = summarize(createModel('mobilevitv3_0.5'), 97, 129);
  assert.deepEqual(v2.rows.find((r) => r.stage === 'layer_5')!.outputShape, [1, 256, 4, 6]);
});
