/** `hybridvision predict [<model>] [--weights FILE] IMAGE...`: top-k labels per image. */
import { HybridVisionError } from '../../tensor.js';
import { relative } from 'node:path';
import { listModels } from '../../models/registry.js';
import { loadModelFile } from '../../models/model_file_node.js';
import { imagesToBatch, topK } from '../../pipeline.js';
import { parse, posInt, usageError, type CommandSpec } from '../args.js';
import { defaultModelPath, defaultSamples } from '../assets.js';

export const predictSpec: CommandSpec = {
  usage: 'predict [<model> --weights FILE] [IMAGE...]',
  about: 'Top-k labels for each image (JPEG/PNG/WebP); with no model, the shipped default on its sample images.',
  options: {
    weights: { type: 'string', value: 'FILE', help: 'the weights (safetensors or a PyTorch checkpoint)' },
    top: { type: 'string', value: 'K', help: 'labels per image (default 5)' },
    json: { type: 'boolean', help: 'print JSON: [{image, predictions: [{label, score}]}]' },
  },
};

export async function predictCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, predictSpec);
  const known = new Set(listModels());
  const name = positionals.length && known.has(positionals[0]) ? positionals[0] : undefined;
  let images = name ? positionals.slice(1) : positionals;
  if (name && !values.weights) throw usageError(predictSpec, '--weights FILE is required with a model name');
  const weights = values.weights ?? defaultModelPath();
  if (images.length === 0) {
    if (values.weights) throw usageError(predictSpec, 'expected at least one image');
    images = defaultSamples();
  }
  const model = await loadModelFile(weights, name);
  if (model.spec.family === 'deeplabv3' || model.spec.family === 'ssdlite') {
    throw new HybridVisionError(`${model.name} is a ${model.spec.family === 'ssdlite' ? 'detection' : 'segmentation'} model; predict classifies images (hybridvision run writes its outputs)`);
  }
  const k = posInt(values.top, 'top', 5);
  const preds = topK(model, await model.forward(await imagesToBatch(model, images)), k);
  if (values.json) console.log(JSON.stringify(images.map((image, i) => ({ image, predictions: preds[i] })), null, 2));
  else {
    if (!values.weights) console.log(`${model.name} trained on Fashion-MNIST (the shipped default, ${relative(process.cwd(), weights)})`);
    images.forEach((image, i) => {
      console.log(relative(process.cwd(), image) || image);
      for (const p of preds[i]) console.log(`  ${(p.score * 100).toFixed(2).padStart(6)}%  ${p.label}`);
    });
  }
  await model.dispose();
}
