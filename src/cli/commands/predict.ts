/** `hybridvision predict <model> --weights FILE IMAGE...`: top-k labels per image. */
import { loadCheckpointFile } from '../../io/node_files.js';
import { createModel } from '../../models/registry.js';
import { imagesToBatch, topK } from '../../pipeline.js';
import { HybridVisionError } from '../../tensor.js';
import { parse, posInt } from '../args.js';

export async function predictCommand(argv: string[]): Promise<void> {
  const usage = 'hybridvision predict <model> --weights FILE IMAGE... [--top K] [--json]';
  const { values, positionals } = parse(argv, { weights: { type: 'string' }, top: { type: 'string' }, json: { type: 'boolean' } }, usage);
  const [name, ...images] = positionals;
  if (!name || images.length === 0) throw new HybridVisionError(`expected a model and at least one image (usage: ${usage})`);
  if (!values.weights) throw new HybridVisionError(`--weights FILE is required (usage: ${usage})`);
  const model = createModel(name, { weights: await loadCheckpointFile(values.weights) });
  const k = posInt(values.top, 'top', 5);
  const preds = topK(model, await model.forward(await imagesToBatch(model, images)), k);
  if (values.json) console.log(JSON.stringify(images.map((image, i) => ({ image, predictions: preds[i] })), null, 2));
  else
    images.forEach((image, i) => {
      console.log(image);
      for (const p of preds[i]) console.log(`  ${(p.score * 100).toFixed(2).padStart(6)}%  ${p.label}`);
    });
  await model.dispose();
}
