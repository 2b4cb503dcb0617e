/** `hybridvision import CHECKPOINT -o OUT.safetensors [--model NAME]`: PyTorch checkpoint -> safetensors, no Python. */
import { loadCheckpointFile, writeFileAtomic } from '../../io/node_files.js';
import { writeSafetensors } from '../../io/safetensors.js';
import { createModel } from '../../models/registry.js';
import { detectModels } from '../../models/detect.js';
import { HybridVisionError, type HostTensor } from '../../tensor.js';
import { parse, usageError, type CommandSpec } from '../args.js';

export { detectModels } from '../../models/detect.js';

export const importSpec: CommandSpec = {
  usage: 'import CHECKPOINT -o OUT.safetensors',
  about: 'Converts a PyTorch checkpoint (.pt, .pth, .pth.tar) to safetensors with the official key names, detecting the model. Unpickling never executes code.',
  options: {
    output: { type: 'string', short: 'o', value: 'FILE', help: 'the safetensors file to write' },
    model: { type: 'string', value: 'NAME', help: 'the zoo model (default: detected from the keys)' },
    ema: { type: 'boolean', help: "take the checkpoint's EMA weights where it has them" },
  },
};

export async function importCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, importSpec);
  if (positionals.length !== 1 || !values.output) throw usageError(importSpec, 'expected a checkpoint and -o OUT');
  const sd = await loadCheckpointFile(positionals[0], values.ema ? { prefer: 'state_dict_ema' } : {});
  let name = values.model;
  if (name) createModel(name, { weights: sd });
  else {
    const found = detectModels(sd);
    if (found.length === 0) throw new HybridVisionError(`${positionals[0]}: no zoo model matches its ${sd.size} keys (pass --model NAME to see the mismatch)`);
    name = found[0];
  }
  const m = createModel(name, { weights: sd });
  const tensors: Record<string, HostTensor> = {};
  for (const [k, t] of m.stateDict()) tensors[k] = t;
  await writeFileAtomic(values.output, writeSafetensors(tensors, { model: name, num_classes: String(m.numClasses), source: 'hybridvision import' }));
  console.log(`${name}: ${m.stateDict().size} tensors, ${m.numClasses} classes -> ${values.output}`);
}
