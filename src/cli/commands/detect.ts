/** `hybridvision detect <model> --weights FILE IMAGE... [--score 0.3] [--out DIR] [--json]`: boxes per image and annotated pictures. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { drawBoxes } from '../../data/draw.js';
import { encodePng } from '../../data/png_node.js';
import { assertTask, detectImages, detectionObjects, filterDetections } from '../../dense_pipeline.js';
import { writeFileAtomic } from '../../io/node_files.js';
import { DEFAULT_DETECTION_THRESHOLD } from '../../pipeline.js';
import { nonNegNumber, parse, type CommandSpec } from '../args.js';
import { modelAndImages } from '../model_images.js';
import { forEachImage, shownPath } from '../per_image.js';
import { loadWeights, WEIGHTS_HELP } from '../weights.js';
import { outputStem } from './segment.js';

export const detectSpec: CommandSpec = {
  usage: 'detect [<model> --weights FILE] [IMAGE...]',
  about:
    "Object detection (SSDLite, RetinaNet models): label, score and box (original image pixels) of each detection at or above --score; with --out, <name>.detections.png with the boxes drawn. " +
    'An unreadable image is reported on its own line, the rest are processed, and the exit code is 1.',
  options: {
    weights: { type: 'string', value: 'FILE', help: WEIGHTS_HELP },
    score: { type: 'string', value: 'S', help: `lowest score shown (default ${DEFAULT_DETECTION_THRESHOLD})` },
    out: { type: 'string', value: 'DIR', help: 'write the annotated images here (created if missing)' },
    json: { type: 'boolean', help: 'print JSON: [{image, detections: [{label, score, box: {xmin, ymin, xmax, ymax}}]} or {image, error}]' },
  },
};

export async function detectCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, detectSpec);
  const { name, weights, images, isDefault } = modelAndImages(detectSpec, positionals, values.weights, 'detector');
  const score = nonNegNumber(values.score, 'score', DEFAULT_DETECTION_THRESHOLD);
  const model = await loadWeights(weights, name);
  if (isDefault && !values.json) console.log(`${model.name} trained on fmnist-scenes (the shipped default detector, ${shownPath(weights)})`);
  assertTask(model, 'object-detection');
  if (values.out) mkdirSync(values.out, { recursive: true });
  const used = new Set<string>();
  await forEachImage(images, values.json, async (image, rgb) => {
    const [all] = await detectImages(model, [rgb]);
    const objs = detectionObjects(model, all, score);
    let file: string | undefined;
    if (values.out) {
      const kept = filterDetections(all, score);
      const pic = drawBoxes(rgb, kept.boxes, kept.labels);
      file = join(values.out, `${outputStem(image, used)}.detections.png`);
      await writeFileAtomic(file, encodePng({ width: pic.width, height: pic.height, channels: 3, data: pic.data }));
    }
    if (!values.json) {
      console.log(`${shownPath(image)} (${rgb.width}x${rgb.height}): ${objs.length} detection${objs.length === 1 ? '' : 's'} with score ≥ ${score}`);
      for (const o of objs) {
        const b = o.box;
        console.log(`  ${o.score.toFixed(3)}  ${o.label.padEnd(16)} [${[b.xmin, b.ymin, b.xmax, b.ymax].map((v) => v.toFixed(1)).join(', ')}]`);
      }
      if (file) console.log(`  wrote ${shownPath(file)}`);
    }
    return { image, detections: objs, ...(file ? { file } : {}) };
  });
  await model.dispose();
}
