/** `hybridvision export <model> --weights FILE -o model.onnx`: a standalone ONNX file (opset 17). */
import { writeFileAtomic } from '../../io/node_files.js';
import { loadWeights, WEIGHTS_HELP } from '../weights.js';
import { checkBatchInput, joinSize, parse, posInt, sizeValue, usageError, type CommandSpec } from '../args.js';

export const exportSpec: CommandSpec = {
  usage: 'export <model> --weights FILE|pretrained -o model.onnx',
  about: "A standalone ONNX file (opset 17) with the weights as initializers; input 'input' [N, 3, H, W].",
  options: {
    weights: { type: 'string', value: 'FILE', help: WEIGHTS_HELP },
    output: { type: 'string', short: 'o', value: 'FILE', help: 'where to write the .onnx file' },
    size: { type: 'string', value: 'H W', help: "input size (default the model's)" },
    batch: { type: 'string', value: 'N', help: 'batch size (default 1)' },
    features: { type: 'boolean', help: "also output every stage's feature map (NCHW, named by stage) beside the logits" },
  },
};

export async function exportCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(joinSize(argv), exportSpec);
  if (positionals.length !== 1 || !values.output) throw usageError(exportSpec, 'expected a model and -o FILE');
  if (!values.weights) throw usageError(exportSpec, '--weights FILE (or pretrained) is required');
  const m = await loadWeights(values.weights, positionals[0]);
  const [h, w] = sizeValue(values.size, m.cfg.inputSize);
  const shape = [posInt(values.batch, 'batch', 1), 3, h, w];
  checkBatchInput(shape[0]!, h, w);
  const { bytes, outputs } = m.toOnnx(shape, { features: values.features });
  await writeFileAtomic(values.output, bytes);
  console.log(`${m.name}: input 'input' [${shape.join(', ')}] -> ${outputs.join(', ')}; ${(bytes.length / 1e6).toFixed(2)} MB -> ${values.output}`);
}
