/** `hybridvision run <model> --weights FILE --input IN --output OUT`: raw tensors in, named outputs out (conformance). */
import { loadCheckpointFile, readSafetensorsFile, writeFileAtomic } from '../../io/node_files.js';
import { writeSafetensors } from '../../io/safetensors.js';
import { createModel } from '../../models/registry.js';
import { loadWeights, WEIGHTS_HELP } from '../weights.js';
import { denseOutputs } from '../../models/dense_outputs.js';
import { RCNN_TRANSFORM_DEFAULTS, type RcnnTransformOptions } from '../../detect/retina_transform.js';
import { retinaTransformOf } from '../../models/retinanet_detect.js';
import { HybridVisionError } from '../../tensor.js';
import { numberList, parse, posInt, usageError, type CommandSpec, type Parsed } from '../args.js';
import { readRunInput, runBatch } from '../run_input.js';

const D = RCNN_TRANSFORM_DEFAULTS;
const TRANSFORM_OPTIONS = ['min-size', 'max-size', 'mean', 'std', 'size-divisible'];

export const runSpec: CommandSpec = {
  usage: 'run <model> --weights FILE --input IN.safetensors --output OUT.safetensors',
  about:
    "Runs the model on the images of IN and writes its outputs to OUT (for conformance checks): classifiers 'logits'; " +
    'segmentation and detection models every named tensor of the golden io files (features, head outputs, anchors, detections).',
  options: {
    weights: { type: 'string', value: 'FILE', help: WEIGHTS_HELP },
    input: { type: 'string', value: 'FILE', help: "safetensors file with float32 'input' [N, 3, H, W], or images of any sizes 'input.0' … 'input.<N-1>' [3, H, W] (RetinaNet)" },
    output: { type: 'string', value: 'FILE', help: 'safetensors file to write the outputs to' },
    'num-classes': { type: 'string', value: 'N', help: 'class count, for weights that do not record it' },
    'min-size': { type: 'string', value: 'N', help: `RetinaNet transform: resize the short side to N (default: the model's, ${D.minSize} for the zoo models)` },
    'max-size': { type: 'string', value: 'N', help: `RetinaNet transform: … unless the long side would exceed N (default: the model's, ${D.maxSize} for the zoo models)` },
    mean: { type: 'string', value: 'R,G,B', help: `RetinaNet transform: normalisation mean (default: the model's, ${D.mean.join(',')} for the zoo models)` },
    std: { type: 'string', value: 'R,G,B', help: `RetinaNet transform: normalisation std (default: the model's, ${D.std.join(',')} for the zoo models)` },
    'size-divisible': { type: 'string', value: 'N', help: `RetinaNet transform: pad the batch to a multiple of N (default ${D.sizeDivisible})` },
  },
};

function transformOptions(values: Parsed['values'], D: RcnnTransformOptions): RcnnTransformOptions {
  return {
    minSize: posInt(values['min-size'], 'min-size', D.minSize),
    maxSize: posInt(values['max-size'], 'max-size', D.maxSize),
    mean: numberList(values.mean, 'mean', 3, D.mean) as [number, number, number],
    std: numberList(values.std, 'std', 3, D.std, true) as [number, number, number],
    sizeDivisible: posInt(values['size-divisible'], 'size-divisible', D.sizeDivisible),
  };
}

export async function runCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, runSpec);
  if (positionals.length !== 1 || !values.weights || !values.input || !values.output) throw usageError(runSpec, 'missing arguments');
  transformOptions(values, D); // bad transform flags are reported before any file is read
  const input = readRunInput((await readSafetensorsFile(values.input)).tensors, values.input);
  let model;
  if (values['num-classes'] === undefined) model = await loadWeights(values.weights, positionals[0]);
  else model = createModel(positionals[0], { weights: await loadCheckpointFile(values.weights), numClasses: posInt(values['num-classes'], 'num-classes', 1) });
  try {
    const family = model.spec.family;
    const given = TRANSFORM_OPTIONS.find((k) => values[k] !== undefined);
    const transform = transformOptions(values, retinaTransformOf(model.cfg));
    if (given && family !== 'retinanet') throw new HybridVisionError(`--${given} is RetinaNet's transform; ${model.name} takes its input as given`);
    // dense models: every named tensor (golden io names); classifiers: the logits
    const dense = family === 'deeplabv3' || family === 'ssdlite' || family === 'retinanet';
    const tensors = !dense
      ? { logits: await model.forward(runBatch(input, model.name)) }
      : await denseOutputs(model, family === 'retinanet' && input.kind === 'images' ? input.images : runBatch(input, model.name), { transform });
    await writeFileAtomic(values.output, writeSafetensors(tensors, { model: model.name }));
    console.log(dense ? `wrote ${Object.keys(tensors).length} tensors to ${values.output}` : `wrote logits [${tensors.logits.shape.join(', ')}] to ${values.output}`);
  } finally {
    await model.dispose();
  }
}
