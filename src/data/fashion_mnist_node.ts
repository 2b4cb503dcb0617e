/**
 * Node-only Fashion-MNIST loader: the gzipped IDX files shipped by the Debian package
 * `dataset-fashion-mnist` in /usr/share/datasets/fashion-mnist.
 */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

import { HybridVisionError } from '../tensor.js';
import { parseIdx } from './idx.js';

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_CLASSES: readonly string[] = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

export const FASHION_MNIST_FILES = {
  trainImages: 'train-images-idx3-ubyte.gz',
  trainLabels: 'train-labels-idx1-ubyte.gz',
  testImages: 't10k-images-idx3-ubyte.gz',
  testLabels: 't10k-labels-idx1-ubyte.gz',
} as const;

export interface FashionMnistSplit {
  /** count x 28 x 28 gray bytes, row-major, 0 = background */
  images: Uint8Array;
  /** count class indices 0..9 (see FASHION_MNIST_CLASSES) */
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

export interface FashionMnist {
  train: FashionMnistSplit;
  test: FashionMnistSplit;
}

function readIdxFile(dir: string, name: string): { dims: number[]; data: Uint8Array } {
  const path = join(dir, name);
  const plain = path.replace(/\.gz$/, '');
  let bytes: Uint8Array;
  if (existsSync(path)) {
    try {
      bytes = gunzipSync(readFileSync(path));
    } catch (err) {
      throw new HybridVisionError(`cannot read Fashion-MNIST file ${path}: ${(err as Error).message.split('\n')[0]}`);
    }
  } else if (existsSync(plain)) {
    bytes = readFileSync(plain);
  } else {
    throw new HybridVisionError(
      `Fashion-MNIST file not found: ${path} (install the Debian package dataset-fashion-mnist: apt-get install dataset-fashion-mnist)`,
    );
  }
  return parseIdx(bytes, path);
}

function loadSplit(dir: string, imagesName: string, labelsName: string): FashionMnistSplit {
  const images = readIdxFile(dir, imagesName);
  const labels = readIdxFile(dir, labelsName);
  if (images.dims.length !== 3) throw new HybridVisionError(`${join(dir, imagesName)}: expected 3 dimensions, got [${images.dims.join(', ')}]`);
  if (labels.dims.length !== 1) throw new HybridVisionError(`${join(dir, labelsName)}: expected 1 dimension, got [${labels.dims.join(', ')}]`);
  const [count, rows, cols] = images.dims as [number, number, number];
  if (labels.dims[0] !== count) {
    throw new HybridVisionError(`Fashion-MNIST: ${imagesName} has ${count} images but ${labelsName} has ${labels.dims[0]} labels`);
  }
  for (let i = 0; i < labels.data.length; i++) {
    if (labels.data[i]! >= FASHION_MNIST_CLASSES.length) throw new HybridVisionError(`${join(dir, labelsName)}: label ${labels.data[i]} at ${i} is out of range 0..9`);
  }
  return { images: images.data, labels: labels.data, count, rows, cols };
}

/** Loads both splits (60000 train, 10000 test, 28x28). */
export function loadFashionMnist(dir: string = FASHION_MNIST_DIR): FashionMnist {
  return {
    train: loadSplit(dir, FASHION_MNIST_FILES.trainImages, FASHION_MNIST_FILES.trainLabels),
    test: loadSplit(dir, FASHION_MNIST_FILES.testImages, FASHION_MNIST_FILES.testLabels),
  };
}

/** True when the Fashion-MNIST files are present in `dir`. */
export function fashionMnistAvailable(dir: string = FASHION_MNIST_DIR): boolean {
  return Object.values(FASHION_MNIST_FILES).every((f) => existsSync(join(dir, f)) || existsSync(join(dir, f.replace(/\.gz$/, ''))));
}
