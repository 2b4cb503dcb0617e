/** `hybridvision run <model> --weights FILE --input IN --output OUT`: raw tensor in, logits out (conformance). */
import { loadCheckpointFile, readSafetensorsFile, writeFileAtomic } from '../../io/node_files.js';
import { writeSafetensors } from '../../io/safetensors.js';
import { createModel } from '../../models/registry.js';
import { loadWeights, WEIGHTS_HELP } from '../weights.js';
import { denseOutputs } from '../../models/dense_outputs.js';
import { HybridVisionError } from '../../tensor.js';
import { parse, posInt, usageError, type CommandSpec } from '../args.js';

export const runSpec: CommandSpec = {
  usage: 'run <model> --weights FILE --input IN.safetensors --output OUT.safetensors',
  about: "Runs the model on the tensor named 'input' of IN and writes the logits to OUT (for conformance checks).",
  options: {
    weights: { type: 'string', value: 'FILE', help: WEIGHTS_HELP },
    input: { type: 'string', value: 'FILE', help: "safetensors file with a float32 tensor 'input' [N, 3, H, W]" },
    output: { type: 'string', value: 'FILE', help: "safetensors file to write 'logits' to" },
    'num-classes': { type: 'string', value: 'N', help: 'class count, for weights that do not record it' },
  },
};

export async function runCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, runSpec);
  if (positionals.length !== 1 || !values.weights || !values.input || !values.output) throw usageError(runSpec, 'missing arguments');
  let model;
  if (values['num-classes'] === undefined) model = await loadWeights(values.weights, positionals[0]);
  else model = createModel(positionals[0], { weights: await loadCheckpointFile(values.weights), numClasses: posInt(values['num-classes'], 'num-classes', 1) });
  const input = (await readSafetensorsFile(values.input)).tensors.get('input');
  if (!input) throw new HybridVisionError(`${values.input} has no tensor named 'input'`);
  // dense models: every named tensor (golden io names); classifiers: the logits
  const dense = model.spec.family === 'deeplabv3' || model.spec.family === 'ssdlite';
  const tensors = dense ? await denseOutputs(model, input) : { logits: await model.forward(input) };
  await writeFileAtomic(values.output, writeSafetensors(tensors, { model: model.name }));
  console.log(dense ? `wrote ${Object.keys(tensors).length} tensors to ${values.output}` : `wrote logits [${tensors.logits.shape.join(', ')}] to ${values.output}`);
  await model.dispose();
}
