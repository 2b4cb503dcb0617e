import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';

import {
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DIR,
  fashionMnistAvailable,
  loadFashionMnist,
} from '../src/data/fashion_mnist_node.js';
import { encodeIdx, parseIdx } from '../src/data/idx.js';
import { HybridVisionError } from '../src/tensor.js';

test('parses a hand-built IDX buffer', () => {
  const bytes = Uint8Array.from([0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  const { dims, data } = parseIdx(bytes);
  assert.deepEqual(dims, [2, 2, 3]);
  assert.deepEqual(Array.from(data), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.deepEqual(parseIdx(encodeIdx([2, 2, 3], data)), { dims, data });
});

test('rejects other element types, bad magic, truncation', () => {
  assert.throws(() => parseIdx(Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0])), /0x0d \(float32\) is not supported/);
  assert.throws(() => parseIdx(Uint8Array.from([0x1f, 0x8b, 8, 0])), /gzip/);
  assert.throws(() => parseIdx(Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 5, 1, 2])), /truncated IDX data/);
  assert.throws(() => parseIdx(Uint8Array.from([0, 0, 8, 2, 0, 0])), /truncated IDX header/);
  assert.throws(() => parseIdx(Uint8Array.from([0, 0, 8])), HybridVisionError);
});

test('Fashion-MNIST class names', () => {
  assert.equal(FASHION_MNIST_CLASSES.length, 10);
  assert.equal(FASHION_MNIST_CLASSES[0], 'T-shirt/top');
  assert.equal(FASHION_MNIST_CLASSES[9], 'Ankle boot');
});

test('a missing Fashion-MNIST file names the file and the apt package', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fmnist-'));
  try {
    assert.throws(
      () => loadFashionMnist(dir),
      (err: unknown) =>
        err instanceof HybridVisionError &&
        err.message.includes(join(dir, 'train-images-idx3-ubyte.gz')) &&
        err.message.includes('dataset-fashion-mnist') &&
        !err.message.includes('\n'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('loads a small synthetic Fashion-MNIST directory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fmnist-'));
  try {
    const img = (n: number) => gzipSync(encodeIdx([n, 28, 28], new Uint8Array(n * 784).fill(7)));
    const lab = (n: number) => gzipSync(encodeIdx([n], Uint8Array.from({ length: n }, (_, i) => i % 10)));
    writeFileSync(join(dir, 'train-images-idx3-ubyte.gz'), img(12));
    writeFileSync(join(dir, 'train-labels-idx1-ubyte.gz'), lab(12));
    writeFileSync(join(dir, 't10k-images-idx3-ubyte.gz'), img(3));
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), lab(3));
    assert.ok(fashionMnistAvailable(dir));
    const ds = loadFashionMnist(dir);
    assert.equal(ds.train.count, 12);
    assert.equal(ds.test.count, 3);
    assert.equal(ds.train.images.length, 12 * 784);
    assert.deepEqual(Array.from(ds.test.labels), [0, 1, 2]);
    writeFileSync(join(dir, 't10k-labels-idx1-ubyte.gz'), lab(4));
    assert.throws(() => loadFashionMnist(dir), /3 images but .* 4 labels/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const have = fashionMnistAvailable();
test('the installed Fashion-MNIST has 60000/10000 28x28 images', { skip: have ? false : `not installed in ${FASHION_MNIST_DIR} (apt-get install dataset-fashion-mnist)` }, () => {
  const ds = loadFashionMnist();
  assert.equal(ds.train.count, 60000);
  assert.equal(ds.test.count, 10000);
  for (const s of [ds.train, ds.test]) {
    assert.equal(s.rows, 28);
    assert.equal(s.cols, 28);
    assert.equal(s.images.length, s.count * 784);
    assert.equal(s.labels.length, s.count);
  }
  // balanced: 6000 / 1000 per class
  const counts = new Array<number>(10).fill(0);
  for (const l of ds.train.labels) counts[l]!++;
  assert.deepEqual(counts, new Array<number>(10).fill(6000));
});
