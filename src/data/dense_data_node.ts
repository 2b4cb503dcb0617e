/**
 * Dense training data for `train`: fmnist-scenes made in memory (train scenes from the Fashion-MNIST
 * train split with the run's seed; the 1,000-image test set from the test split with a fixed seed,
 * so every run is judged on the same scenes), a COCO-format detection folder or a VOC-format
 * segmentation folder (Node-only).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HybridVisionError } from '../tensor.js';
import type { DetectionDataset, SegmentationDataset } from './dense_dataset.js';
import { loadDetectionFolder, loadSegmentationFolder } from './dense_dataset_node.js';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, loadFashionMnist } from './fashion_mnist_node.js';
import { makeSceneSet, sceneDatasets } from './fmnist_scenes.js';
import { VOC_CLASSES } from './voc_classes.js';

/** The fixed seed and size of the fmnist-scenes test set. */
export const SCENES_TEST_SEED = 1000;
export const SCENES_TEST_COUNT = 1000;

export interface DenseData<T> {
  train: T;
  test: T | null;
  name: string;
}

export interface DenseDataOptions {
  size: number;
  /** fmnist-scenes: training scenes (default 8000) and their seed. */
  scenes?: number;
  seed?: number;
  testScenes?: number;
  dataPath?: string;
}

function scenes(o: DenseDataOptions) {
  const fm = loadFashionMnist(o.dataPath ?? FASHION_MNIST_DIR);
  const train = sceneDatasets(makeSceneSet(fm.train, o.seed ?? 1, o.scenes ?? 8000, { size: o.size }), FASHION_MNIST_CLASSES);
  const test = sceneDatasets(makeSceneSet(fm.test, SCENES_TEST_SEED, o.testScenes ?? SCENES_TEST_COUNT, { size: o.size }), FASHION_MNIST_CLASSES);
  return { train, test };
}

const splitsOf = (dir: string, re: RegExp) => readdirSync(dir).map((f) => re.exec(f)?.[1]).filter((x): x is string => !!x);

export async function loadDetectionData(spec: string, o: DenseDataOptions): Promise<DenseData<DetectionDataset>> {
  if (spec === 'fmnist-scenes') {
    const s = scenes(o);
    return { train: s.train.detection, test: s.test.detection, name: 'fmnist-scenes' };
  }
  if (!existsSync(spec) || !statSync(spec).isDirectory()) throw new HybridVisionError(`--data must be 'fmnist-scenes' or a COCO-format folder (instances_<split>.json + images), got '${spec}'`);
  const splits = splitsOf(spec, /^instances_(\w+)\.json$/);
  const trainSplit = ['train', 'train2017'].find((s) => splits.includes(s));
  if (!trainSplit) throw new HybridVisionError(`${spec}: no instances_train.json (COCO-format detection folder expected)`);
  const testSplit = ['val', 'val2017', 'test'].find((s) => splits.includes(s));
  const train = await loadDetectionFolder(spec, trainSplit, o.size);
  const test = testSplit ? await loadDetectionFolder(spec, testSplit, o.size) : null;
  return { train, test, name: spec };
}

/** VOC folder class names: `labels.txt` / `classes.txt` (one a line, background first) or the 21 VOC classes. */
function vocClassNames(dir: string): string[] {
  for (const f of ['labels.txt', 'classes.txt']) {
    const p = join(dir, f);
    if (existsSync(p)) {
      const names = readFileSync(p, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
      if (names.length < 2 || names.length > 255) throw new HybridVisionError(`${p}: expected 2-255 class names (background first), got ${names.length}`);
      return names;
    }
  }
  return [...VOC_CLASSES];
}

export async function loadSegmentationData(spec: string, o: DenseDataOptions): Promise<DenseData<SegmentationDataset>> {
  if (spec === 'fmnist-scenes') {
    const s = scenes(o);
    return { train: s.train.segmentation, test: s.test.segmentation, name: 'fmnist-scenes' };
  }
  if (!existsSync(spec) || !statSync(spec).isDirectory()) throw new HybridVisionError(`--data must be 'fmnist-scenes' or a VOC-format folder (JPEGImages, SegmentationClass, ImageSets/Segmentation), got '${spec}'`);
  const lists = join(spec, 'ImageSets', 'Segmentation');
  if (!existsSync(lists)) throw new HybridVisionError(`${spec}: no ImageSets/Segmentation (VOC-format segmentation folder expected)`);
  const splits = splitsOf(lists, /^(\w+)\.txt$/);
  if (!splits.includes('train')) throw new HybridVisionError(`${lists}: no train.txt`);
  const names = vocClassNames(spec);
  const testSplit = ['val', 'test'].find((s) => splits.includes(s));
  const train = await loadSegmentationFolder(spec, 'train', o.size, names);
  const test = testSplit ? await loadSegmentationFolder(spec, testSplit, o.size, names) : null;
  return { train, test, name: spec };
}
