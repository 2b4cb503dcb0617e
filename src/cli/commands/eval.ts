/** `hybridvision eval [<model> --weights FILE] --data fashion-mnist|DIR`: top-1/top-5 and per-class accuracy. */
import { listModels } from '../../models/registry.js';
import { loadModelFile } from '../../models/model_file_node.js';
import { evaluate } from '../../train/evaluate.js';
import { HybridVisionError } from '../../tensor.js';
import { parse } from '../args.js';
import { defaultModelPath } from '../assets.js';
import { loadData } from '../data.js';
import { table } from '../format.js';

export async function evalCommand(argv: string[]): Promise<void> {
  const usage = 'hybridvision eval [<model> --weights FILE] --data fashion-mnist|DIR [--data-path P]';
  const { values, positionals } = parse(argv, { weights: { type: 'string' }, data: { type: 'string' }, 'data-path': { type: 'string' } }, usage);
  const name = positionals[0];
  if (name && !listModels().includes(name)) throw new HybridVisionError(`unknown model '${name}' (hybridvision models lists them)`);
  if (name && !values.weights) throw new HybridVisionError(`--weights FILE is required with a model name (usage: ${usage})`);
  const model = await loadModelFile(values.weights ?? defaultModelPath(), name);
  const size = model.cfg.inputSize[0];
  const data = await loadData(values.data ?? 'fashion-mnist', { size, dataPath: values['data-path'] });
  const ds = data.test ?? data.train;
  if (model.numClasses !== ds.classNames.length) throw new HybridVisionError(`${model.name} has ${model.numClasses} classes, the data ${ds.classNames.length}`);
  const r = await evaluate(model, ds, { size, pad: model.cfg.pad ?? data.pad, norm: model.cfg });
  console.log(`${model.name} on ${data.name} (${data.test ? 'test split' : 'all images'}, ${r.count}): top-1 ${(100 * r.top1).toFixed(2)}%, top-5 ${(100 * r.top5).toFixed(2)}%`);
  console.log(table(['class', 'accuracy %'], ds.classNames.map((c, i) => [c, (100 * r.perClass[i]).toFixed(2)])));
  await model.dispose();
}
