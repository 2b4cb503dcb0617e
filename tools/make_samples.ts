/** Writes a few Fashion-MNIST test images (one per chosen class) to assets/samples as PNG. */
import { mkdirSync } from 'node:fs';
import sharp from 'sharp';
import { FASHION_MNIST_CLASSES, loadFashionMnist } from '../src/data/fashion_mnist_node.js';
const fm = loadFashionMnist();
mkdirSync('assets/samples', { recursive: true });
const want = [0, 1, 3, 5, 7, 8, 9];
for (const c of want) {
  const i = fm.test.labels.findIndex((l, j) => l === c && j >= 100);
  const px = fm.test.images.subarray(i * 784, (i + 1) * 784);
  const name = FASHION_MNIST_CLASSES[c].toLowerCase().replace(/[^a-z]+/g, '_');
  await sharp(Buffer.from(px), { raw: { width: 28, height: 28, channels: 1 } }).png().toFile(`assets/samples/${name}.png`);
  console.log(name, i);
}
