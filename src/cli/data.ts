/** Dataset selection shared by train and eval: Fashion-MNIST (IDX) or an image folder. */
import { existsSync, statSync } from 'node:fs';
import { arrayDataset, type Dataset } from '../data/dataset.js';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, loadFashionMnist } from '../data/fashion_mnist_node.js';
import { loadImageFolder } from '../data/folder_node.js';
import { HybridVisionError } from '../tensor.js';

export interface DataChoice {
  train: Dataset;
  test: Dataset | null;
  /** Canvas padding (source pixels) for the views, and normalisation. */
  pad: number;
  mean: [number, number, number];
  std: [number, number, number];
  name: string;
}

const FMNIST_MEAN = 0.286;
const FMNIST_STD = 0.353;

export async function loadData(spec: string, opts: { size: number; dataPath?: string }): Promise<DataChoice> {
  if (spec === 'fashion-mnist') {
    const fm = loadFashionMnist(opts.dataPath ?? FASHION_MNIST_DIR);
    const ds = (s: typeof fm.train) => arrayDataset(s.images, s.labels, s.cols, s.rows, 1, FASHION_MNIST_CLASSES);
    return { train: ds(fm.train), test: ds(fm.test), pad: 2, mean: [FMNIST_MEAN, FMNIST_MEAN, FMNIST_MEAN], std: [FMNIST_STD, FMNIST_STD, FMNIST_STD], name: 'fashion-mnist' };
  }
  if (!existsSync(spec) || !statSync(spec).isDirectory()) throw new HybridVisionError(`--data must be 'fashion-mnist' or a folder with one sub-folder per class, got '${spec}'`);
  const side = Math.round(opts.size * 1.15);
  return { train: await loadImageFolder(spec, side), test: null, pad: 0, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], name: spec };
}
