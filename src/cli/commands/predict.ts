/** `hybridvision predict [<model>] [--weights FILE|pretrained] IMAGE...`: top-k labels per image. */
import { relative } from 'node:path';
import { decodeImageFile } from '../../data/decode_node.js';
import type { RgbImage } from '../../data/image.js';
import { taskOf } from '../../models/task.js';
import { imagesToBatch, topK, type Prediction } from '../../pipeline.js';
import { HybridVisionError } from '../../tensor.js';
import { parse, posInt, type CommandSpec } from '../args.js';
import { modelAndImages } from '../model_images.js';
import { loadWeights, WEIGHTS_HELP } from '../weights.js';

export const predictSpec: CommandSpec = {
  usage: 'predict [<model> --weights FILE|pretrained] [IMAGE...]',
  about: 'Top-k labels for each image (JPEG/PNG/WebP); with no model, the shipped default on its sample images. An unreadable image is reported on its own line, the rest are classified, and the exit code is 1.',
  options: {
    weights: { type: 'string', value: 'FILE', help: WEIGHTS_HELP },
    top: { type: 'string', value: 'K', help: 'labels per image (default 5)' },
    json: { type: 'boolean', help: 'print JSON: [{image, predictions: [{label, score}]} or {image, error}]' },
  },
};

/** Images decoded per batch (bounds memory for long lists). */
const BATCH = 32;

export async function predictCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, predictSpec);
  const { name, weights, images } = modelAndImages(predictSpec, positionals, values.weights, 'classifier');
  const k = posInt(values.top, 'top', 5);
  const model = await loadWeights(weights, name);
  const task = taskOf(model.spec);
  if (task !== 'image-classification') {
    throw new HybridVisionError(`${model.name} is a ${task === 'image-segmentation' ? 'segmentation' : 'detection'} model; predict classifies images (hybridvision ${task === 'image-segmentation' ? 'segment' : 'detect'} runs it)`);
  }
  const results: ({ image: string; predictions: Prediction[] } | { image: string; error: string })[] = [];
  let failed = 0;
  const show = (image: string) => relative(process.cwd(), image) || image;
  if (!values.json && !values.weights) console.log(`${model.name} trained on Fashion-MNIST (the shipped default, ${show(weights)})`);
  for (let start = 0; start < images.length; start += BATCH) {
    const chunk = images.slice(start, start + BATCH);
    const ok: { image: string; at: number; rgb: RgbImage }[] = [];
    for (const [j, image] of chunk.entries()) {
      try {
        ok.push({ image, at: start + j, rgb: await decodeImageFile(image) });
      } catch (e) {
        if (!(e instanceof HybridVisionError)) throw e;
        failed++;
        results[start + j] = { image, error: e.message };
        if (!values.json) console.error(`hybridvision: error: ${e.message.split('\n')[0]}`);
      }
    }
    if (ok.length === 0) continue;
    const preds = topK(model, await model.forward(await imagesToBatch(model, ok.map((x) => x.rgb))), k);
    ok.forEach(({ image, at }, i) => {
      results[at] = { image, predictions: preds[i] };
      if (values.json) return;
      console.log(show(image));
      for (const p of preds[i]) console.log(`  ${(p.score * 100).toFixed(2).padStart(6)}%  ${p.label}`);
    });
  }
  if (values.json) console.log(JSON.stringify(results, null, 2));
  await model.dispose();
  if (failed > 0) {
    console.error(`hybridvision: ${failed} of ${images.length} image${images.length === 1 ? '' : 's'} could not be read`);
    process.exitCode = 1;
  }
}
