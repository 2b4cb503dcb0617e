import assert from 'node:assert/strict';
import { test } from 'node:test';
import { niceTicks, trainingReport } from '../src/train/report.js';
import type { EpochRecord } from '../src/train/fit.js';

test('niceTicks: round steps that cover the range', () => {
  assert.deepEqual(niceTicks(0.31, 2.27), [0.5, 1, 1.5, 2]);
  assert.deepEqual(niceTicks(1, 10, 9), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  assert.deepEqual(niceTicks(88.2, 93.1), [89, 90, 91, 92, 93]);
});

test('training report: the loss chart says which loss is label-smoothed; both axes carry ticks', () => {
  const history: EpochRecord[] = [1, 2, 3, 4].map((e) => ({ epoch: e, trainLoss: 1.2 / e + 0.5, trainAcc: 0.6 + 0.05 * e, val: { top1: 0.7 + 0.04 * e, top5: 0.99, loss: 0.9 / e }, lr: 1e-3, seconds: 10, imgPerSec: 100 }));
  const html = trainingReport({ title: 't', command: 'c', history, test: null, classNames: ['a', 'b'], labelSmoothing: 0.1 });
  assert.match(html, /train loss \(label smoothing 0\.1\)/);
  assert.match(html, /val loss \(cross-entropy\)/);
  assert.match(html, /the training loss is label-smoothed/);
  // x ticks 1..4 and y tick labels on each of the two charts
  const xTicks = [...html.matchAll(/text-anchor="middle">(\d+)<\/text>/g)].map((m) => Number(m[1]));
  assert.deepEqual(xTicks, [1, 2, 3, 4, 1, 2, 3, 4]);
  assert.ok([...html.matchAll(/text-anchor="end">[\d.]+<\/text>/g)].length >= 6);
  assert.match(html, />accuracy %</);
  const plain = trainingReport({ title: 't', command: 'c', history, test: null, classNames: ['a', 'b'], labelSmoothing: 0 });
  assert.doesNotMatch(plain, /label smoothing|label-smoothed/);
});
