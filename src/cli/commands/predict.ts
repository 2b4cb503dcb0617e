/** `hybridvision predict [<model>] [--weights FILE] IMAGE...`: top-k labels per image. */
import { relative } from 'node:path';
import { listModels } from '../../models/registry.js';
import { loadModelFile } from '../../models/model_file_node.js';
import { imagesToBatch, topK } from '../../pipeline.js';
import { HybridVisionError } from '../../tensor.js';
import { parse, posInt } from '../args.js';
import { defaultModelPath, defaultSamples } from '../assets.js';

export async function predictCommand(argv: string[]): Promise<void> {
  const usage = 'hybridvision predict [<model> --weights FILE] [IMAGE...] [--top K] [--json]';
  const { values, positionals } = parse(argv, { weights: { type: 'string' }, top: { type: 'string' }, json: { type: 'boolean' } }, usage);
  const known = new Set(listModels());
  const name = positionals.length && known.has(positionals[0]) ? positionals[0] : undefined;
  let images = name ? positionals.slice(1) : positionals;
  if (name && !values.weights) throw new HybridVisionError(`--weights FILE is required with a model name (usage: ${usage})`);
  const weights = values.weights ?? defaultModelPath();
  if (images.length === 0) {
    if (values.weights) throw new HybridVisionError(`expected at least one image (usage: ${usage})`);
    images = defaultSamples();
  }
  const model = await loadModelFile(weights, name);
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
