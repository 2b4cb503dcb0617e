/**
 * Writes the sample scenes shipped with the dense defaults (assets/samples/scenes): the first scenes
 * of the fmnist-scenes test set (Fashion-MNIST test split, seed 1000), as gray PNGs.
 * Usage: node dist/tools/scene_samples.js [count]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCENES_TEST_SEED } from '../src/data/dense_data_node.js';
import { FASHION_MNIST_CLASSES, loadFashionMnist } from '../src/data/fashion_mnist_node.js';
import { makeScene, sceneName } from '../src/data/fmnist_scenes.js';
import { encodePng } from '../src/data/png_node.js';
import { REPO_ROOT } from './repo_root.js';

const count = Number(process.argv[2] ?? 4);
const dir = join(REPO_ROOT, 'assets', 'samples', 'scenes');
mkdirSync(dir, { recursive: true });
const src = loadFashionMnist().test;
for (let i = 0; i < count; i++) {
  const s = makeScene(src, SCENES_TEST_SEED, i);
  const file = join(dir, `${sceneName('test', i)}.png`);
  writeFileSync(file, encodePng({ width: s.size, height: s.size, channels: 1, data: s.pixels }));
  console.log(`${file}: ${s.objects.map((o) => `${FASHION_MNIST_CLASSES[o.label]} [${o.box.join(', ')}]`).join('; ')}`);
}
