/** `hybridvision eval [<model> --weights FILE|pretrained] --data fashion-mnist|DIR`: top-1/top-5 and per-class accuracy. */
import { listModels } from '../../models/registry.js';
import { evaluate } from '../../train/evaluate.js';
import { HybridVisionError } from '../../tensor.js';
import { parse, usageError, type CommandSpec } from '../args.js';
import { defaultModelPath } from '../assets.js';
import { loadData } from '../data.js';
import { table } from '../format.js';
import { StatusLine } from '../progress.js';
import { loadWeights, WEIGHTS_HELP } from '../weights.js';

export const evalSpec: CommandSpec = {
  usage: 'eval [<model> --weights FILE|pretrained]',
  about: 'Top-1, top-5 (with more than 5 classes) and per-class accuracy on a test set; with no model, of the shipped default.',
  options: {
    weights: { type: 'string', value: 'FILE', help: WEIGHTS_HELP },
    data: { type: 'string', value: 'SRC', help: "'fashion-mnist' (its test split; the default) or a folder with one sub-folder of images per class" },
    'data-path': { type: 'string', value: 'DIR', help: 'where the Fashion-MNIST IDX files are' },
  },
};

export async function evalCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, evalSpec);
  const name = positionals[0];
  if (name && !listModels().includes(name)) throw new HybridVisionError(`unknown model '${name}' (hybridvision models lists them)`);
  if (name && !values.weights) throw usageError(evalSpec, '--weights FILE (or pretrained) is required with a model name');
  const model = await loadWeights(values.weights ?? defaultModelPath(), name);
  const size = model.cfg.inputSize[0];
  const status = new StatusLine();
  status.show(`loading ${values.data ?? 'fashion-mnist'}`);
  const data = await loadData(values.data ?? 'fashion-mnist', { size, dataPath: values['data-path'] });
  const ds = data.test ?? data.train;
  if (model.numClasses !== ds.classNames.length) throw new HybridVisionError(`${model.name} has ${model.numClasses} classes, the data ${ds.classNames.length}`);
  const r = await evaluate(model, ds, { size, pad: model.cfg.pad ?? data.pad, norm: model.cfg }, 100, (done, total) => status.show(`evaluating ${done}/${total} images`, done / total));
  status.clear();
  const top5 = ds.classNames.length > 5 ? `, top-5 ${(100 * r.top5).toFixed(2)}%` : '';
  console.log(`${model.name} on ${data.name} (${data.test ? 'test split' : 'all images'}, ${r.count}): top-1 ${(100 * r.top1).toFixed(2)}%${top5}`);
  console.log(table(['class', 'accuracy %'], ds.classNames.map((c, i) => [c, (100 * r.perClass[i]).toFixed(2)])));
  await model.dispose();
}
