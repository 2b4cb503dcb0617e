import assert from 'node:assert/strict';
import { test } from 'node:test';

import { IMAGENET_CLASSES, imagenetClassName } from '../src/data/imagenet_classes.js';

test('1000 ImageNet classes in index order', () => {
  assert.equal(IMAGENET_CLASSES.length, 1000);
  assert.ok(IMAGENET_CLASSES.every((n) => typeof n === 'string' && n.length > 0 && n.trim() === n));
  const spot: Record<number, string> = {
    0: 'tench',
    1: 'goldfish',
    134: 'crane',
    207: 'golden retriever',
    281: 'tabby',
    409: 'analog clock',
    517: 'crane',
    639: 'maillot',
    954: 'banana',
    999: 'toilet tissue',
  };
  for (const [i, name] of Object.entries(spot)) assert.equal(IMAGENET_CLASSES[Number(i)], name, `index ${i}`);
  // the only duplicated names in this list are crane (134, 517) and maillot (638, 639)
  const seen = new Map<string, number[]>();
  IMAGENET_CLASSES.forEach((n, i) => seen.set(n, [...(seen.get(n) ?? []), i]));
  const dups = [...seen].filter(([, v]) => v.length > 1).map(([k, v]) => `${k}:${v.join(',')}`);
  assert.deepEqual(dups.sort(), ['crane:134,517', 'maillot:638,639']);
  assert.equal(imagenetClassName(281), 'tabby');
  assert.equal(imagenetClassName(1000), 'class 1000');
});
