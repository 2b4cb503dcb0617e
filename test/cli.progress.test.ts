import assert from 'node:assert/strict';
import { test } from 'node:test';
import { duration, Eta } from '../src/cli/progress.js';

test('train ETA: a slow first step (graph build) does not skew the estimate', () => {
  const eta = new Eta();
  // Step 1 ends at 30 s (building the graph), then 1 s per step; 100 steps in all.
  assert.ok(Number.isNaN(eta.update(1, 100, 30_000)));
  assert.equal(eta.update(2, 100, 31_000), 98);
  assert.equal(eta.update(11, 100, 40_000), 89);
  assert.equal(duration(89), '1m29s');
  assert.equal(duration(NaN), '?');
});
