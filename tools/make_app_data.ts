/**
 * The app's bundled fine-tuning set: the first N images of each class of Fashion-MNIST's training
 * split (Debian's dataset-fashion-mnist), written as two IDX files under app/public/data/.
 * Usage: node dist/tools/make_app_data.js [perClass=30]
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { encodeIdx } from '../src/data/idx.js';
import { loadFashionMnist } from '../src/data/fashion_mnist_node.js';
import { writeFileAtomic } from '../src/io/node_files.js';
import { REPO_ROOT } from './repo_root.js';

const perClass = Number(process.argv[2] ?? 30);
const { train } = loadFashionMnist();
const picked: number[] = [];
const seen = new Array(10).fill(0);
for (let i = 0; i < train.count && picked.length < perClass * 10; i++) {
  const l = train.labels[i];
  if (seen[l] < perClass) {
    seen[l]++;
    picked.push(i);
  }
}
const px = train.rows * train.cols;
const images = new Uint8Array(picked.length * px);
const labels = new Uint8Array(picked.length);
picked.forEach((i, j) => {
  images.set(train.images.subarray(i * px, (i + 1) * px), j * px);
  labels[j] = train.labels[i];
});
const dir = join(REPO_ROOT, 'app', 'public', 'data');
mkdirSync(dir, { recursive: true });
await writeFileAtomic(join(dir, 'fashion-mnist-images.idx'), encodeIdx([picked.length, train.rows, train.cols], images));
await writeFileAtomic(join(dir, 'fashion-mnist-labels.idx'), encodeIdx([picked.length], labels));
console.log(`wrote ${picked.length} images (${perClass} per class) to ${dir}`);
