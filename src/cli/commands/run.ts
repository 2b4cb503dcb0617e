/** `hybridvision run <model> --weights FILE --input IN --output OUT`: raw tensor in, logits out (conformance). */
import { readFileBytes, loadCheckpointFile, writeFileAtomic } from '../../io/node_files.js';
import { readSafetensors, writeSafetensors } from '../../io/safetensors.js';
import { createModel } from '../../models/registry.js';
import { loadModelFile } from '../../models/model_file_node.js';
import { HybridVisionError } from '../../tensor.js';
import { parse, posInt } from '../args.js';

export async function runCommand(argv: string[]): Promise<void> {
  const usage = 'hybridvision run <model> --weights FILE --input IN.safetensors --output OUT.safetensors [--num-classes N]';
  const { values, positionals } = parse(
    argv,
    { weights: { type: 'string' }, input: { type: 'string' }, output: { type: 'string' }, 'num-classes': { type: 'string' } },
    usage,
  );
  if (positionals.length !== 1 || !values.weights || !values.input || !values.output) throw new HybridVisionError(`missing arguments (usage: ${usage})`);
  let model;
  if (values['num-classes'] === undefined) model = await loadModelFile(values.weights, positionals[0]);
  else model = createModel(positionals[0], { weights: await loadCheckpointFile(values.weights), numClasses: posInt(values['num-classes'], 'num-classes', 1) });
  const input = readSafetensors(await readFileBytes(values.input)).tensors.get('input');
  if (!input) throw new HybridVisionError(`${values.input} has no tensor named 'input'`);
  const logits = await model.forward(input);
  await writeFileAtomic(values.output, writeSafetensors({ logits }, { model: model.name }));
  console.log(`wrote logits [${logits.shape.join(', ')}] to ${values.output}`);
  await model.dispose();
}
