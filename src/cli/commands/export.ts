/** `hybridvision export <model> --weights FILE -o model.onnx`: a standalone ONNX file (opset 17). */
import { writeFileAtomic } from '../../io/node_files.js';
import { loadModelFile } from '../../models/model_file_node.js';
import { HybridVisionError } from '../../tensor.js';
import { joinSize, parse, posInt, sizeValue } from '../args.js';

export async function exportCommand(argv: string[]): Promise<void> {
  const usage = 'hybridvision export <model> --weights FILE -o model.onnx [--size H W] [--batch N] [--features]';
  const { values, positionals } = parse(
    joinSize(argv),
    { weights: { type: 'string' }, output: { type: 'string', short: 'o' }, size: { type: 'string' }, batch: { type: 'string' }, features: { type: 'boolean' } },
    usage,
  );
  if (positionals.length !== 1 || !values.output) throw new HybridVisionError(`expected a model and -o FILE (usage: ${usage})`);
  if (!values.weights) throw new HybridVisionError(`--weights FILE is required (usage: ${usage})`);
  const m = await loadModelFile(values.weights, positionals[0]);
  const [h, w] = sizeValue(values.size, m.cfg.inputSize);
  const shape = [posInt(values.batch, 'batch', 1), 3, h, w];
  const { bytes, outputs } = m.toOnnx(shape, { features: values.features });
  await writeFileAtomic(values.output, bytes);
  console.log(`${m.name}: input 'input' [${shape.join(', ')}] -> ${outputs.join(', ')}; ${(bytes.length / 1e6).toFixed(2)} MB -> ${values.output}`);
}
