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
import { taskOf } from '../../models/task.js';
import { denseEval } from './eval_dense.js';

export const evalSpec: CommandSpec = {
  usage: 'eval [<model> --weights FILE|pretrained]',
  about:
    'Top-1, top-5 (with more than 5 classes) and per-class accuracy on a test set; with no model, of the shipped default. ' +
    'Detectors (--data: a COCO-format folder): the 12 COCOeval numbers and AP per category; segmenters (--data: a VOC-format folder): mIoU, pixel accuracy and IoU per class.',
  options: {
    weights: { type: 'string', value: 'FILE', help: WEIGHTS_HELP },
    data: { type: 'string', value: 'SRC', help: "'fashion-mnist' (its test split; the default) or a folder with one sub-folder of images per class" },
    'data-path': { type: 'string', value: 'DIR', help: 'where the Fashion-MNIST IDX files are' },
    split: { type: 'string', value: 'NAME', help: 'dense models: the split of the folder (default: test, else val, else train)' },
    'dt-out': { type: 'string', value: 'FILE', help: 'detectors: also write the detections as a COCO result list (what coco-eval --dt reads)' },
    json: { type: 'boolean', help: 'dense models: print the metrics as JSON' },
  },
};

export async function evalCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, evalSpec);
  const name = positionals[0];
  if (name && !listModels().includes(name)) throw new HybridVisionError(`unknown model '${name}' (hybridvision models lists them)`);
  if (name && !values.weights) throw usageError(evalSpec, '--weights FILE (or pretrained) is required with a model name');
  const model = await loadWeights(values.weights ?? defaultModelPath(), name);
  if (taskOf(model.spec) !== 'image-classification') {
    if (!values.data) throw usageError(evalSpec, `--data DIR is required for ${model.name} (a COCO-format folder for detectors, a VOC-format folder for segmenters)`);
    try {
      await denseEval(model, { data: values.data, split: values.split, json: values.json, dtOut: values['dt-out'] });
    } finally {
      await model.dispose();
    }
    return;
  }
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
