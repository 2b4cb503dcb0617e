/** `hybridvision data fmnist-scenes --out DIR --count N --seed S`: writes the synthetic detection/segmentation set. */
import { FASHION_MNIST_DIR } from '../../data/fashion_mnist_node.js';
import { writeFmnistScenes } from '../../data/fmnist_scenes_node.js';
import { nonNegInt, parse, posInt, usageError, type CommandSpec } from '../args.js';
import { Progress } from '../progress.js';

export const dataSpec: CommandSpec = {
  usage: 'data fmnist-scenes --out DIR --count N --seed S',
  about:
    'Writes fmnist-scenes: SxS canvases with 1-4 Fashion-MNIST items (scaled 1-3x, box IoU <= 0.3) over a dark noisy background, as COCO (instances_<split>.json + JPEGImages) and VOC (SegmentationClass paletted PNGs, ImageSets/Segmentation). The same seed gives the same set.',
  options: {
    out: { type: 'string', value: 'DIR', help: 'output folder (a split already there is never overwritten)' },
    count: { type: 'string', value: 'N', help: 'number of scenes' },
    seed: { type: 'string', value: 'S', help: 'random seed (whole number)' },
    size: { type: 'string', value: 'S', help: 'canvas side in pixels (default 128, at least 84)' },
    split: { type: 'string', choices: ['train', 'test'], help: 'Fashion-MNIST split the items come from and the split name (default train)' },
    'data-path': { type: 'string', value: 'DIR', help: `where the Fashion-MNIST IDX files are (default ${FASHION_MNIST_DIR})` },
  },
};

export async function dataCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, dataSpec);
  if (positionals[0] !== 'fmnist-scenes') throw usageError(dataSpec, positionals[0] ? `unknown data set '${positionals[0]}' (only fmnist-scenes)` : 'name the data set: fmnist-scenes');
  if (positionals.length > 1) throw usageError(dataSpec, `unexpected argument '${positionals[1]}'`);
  if (!values.out || values.count === undefined || values.seed === undefined) throw usageError(dataSpec, '--out, --count and --seed are required');
  const count = posInt(values.count, 'count', 0);
  const seed = nonNegInt(values.seed, 'seed');
  const size = posInt(values.size, 'size', 128);
  const split = (values.split ?? 'train') as 'train' | 'test';
  const t0 = Date.now();
  const bar = new Progress();
  const r = await writeFmnistScenes({ out: values.out, count, seed, size, split, dataPath: values['data-path'], onProgress: (d, n) => bar.update(`${d}/${n} scenes`, d / n, d === n) });
  bar.done(`wrote ${r.images} ${split} scenes with ${r.objects} objects to ${values.out} in ${((Date.now() - t0) / 1000).toFixed(1)}s (COCO: instances_${split}.json; VOC: ImageSets/Segmentation/${split}.txt)`);
}
