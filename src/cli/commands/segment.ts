/** `hybridvision segment <model> --weights FILE IMAGE... [--out DIR] [--json]`: class maps (paletted PNG), overlays and per-class pixel shares. */
import { mkdirSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { overlayClassMap } from '../../data/draw.js';
import { encodePng } from '../../data/png_node.js';
import { VOC_PALETTE } from '../../data/voc_classes.js';
import { classNames, segmentImages, segmentationObjects, assertTask, type ClassMap } from '../../dense_pipeline.js';
import { writeFileAtomic } from '../../io/node_files.js';
import { parse, type CommandSpec } from '../args.js';
import { modelAndImages } from '../model_images.js';
import { forEachImage, shownPath } from '../per_image.js';
import { loadWeights, WEIGHTS_HELP } from '../weights.js';

export const segmentSpec: CommandSpec = {
  usage: 'segment [<model> --weights FILE] [IMAGE...]',
  about:
    'Semantic segmentation (DeepLabv3 models): per image the share of pixels of each class; with --out, <name>.classes.png (the class map, paletted with the VOC colours: pixel value = class index) and <name>.overlay.png. ' +
    'An unreadable image is reported on its own line, the rest are processed, and the exit code is 1.',
  options: {
    weights: { type: 'string', value: 'FILE', help: WEIGHTS_HELP },
    out: { type: 'string', value: 'DIR', help: 'write the class map and overlay PNGs here (created if missing)' },
    json: { type: 'boolean', help: 'print JSON: [{image, shares: {label: fraction}, segments: [{label, score}]} or {image, error}]' },
  },
};

/** Output files of an image: its base name without extension (a numeric suffix keeps repeated names apart). */
export function outputStem(image: string, used: Set<string>): string {
  const stem = basename(image, extname(image));
  let s = stem;
  for (let i = 2; used.has(s); i++) s = `${stem}_${i}`;
  used.add(s);
  return s;
}

export function classShares(m: ClassMap, names: string[]): { label: string; index: number; share: number }[] {
  const counts = new Map<number, number>();
  for (const k of m.map) counts.set(k, (counts.get(k) ?? 0) + 1);
  const n = m.width * m.height;
  return [...counts].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([k, c]) => ({ label: names[k] ?? String(k), index: k, share: c / n }));
}

export async function segmentCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, segmentSpec);
  const { name, weights, images, isDefault } = modelAndImages(segmentSpec, positionals, values.weights, 'segmenter');
  const model = await loadWeights(weights, name);
  if (isDefault && !values.json) console.log(`${model.name} trained on fmnist-scenes (the shipped default segmenter, ${shownPath(weights)})`);
  assertTask(model, 'image-segmentation');
  const names = classNames(model);
  if (values.out) mkdirSync(values.out, { recursive: true });
  const used = new Set<string>();
  await forEachImage(images, values.json, async (image, rgb) => {
    const [m] = await segmentImages(model, [rgb]);
    const shares = classShares(m, names);
    const files: string[] = [];
    if (values.out) {
      const stem = outputStem(image, used);
      const map8 = m.map instanceof Uint8Array ? m.map : Uint8Array.from(m.map, (k) => k & 255);
      const cls = join(values.out, `${stem}.classes.png`);
      const ov = join(values.out, `${stem}.overlay.png`);
      await writeFileAtomic(cls, encodePng({ width: m.width, height: m.height, channels: 1, data: map8, palette: VOC_PALETTE }));
      const o = overlayClassMap(rgb, m.map);
      await writeFileAtomic(ov, encodePng({ width: o.width, height: o.height, channels: 3, data: o.data }));
      files.push(cls, ov);
    }
    if (!values.json) {
      console.log(`${shownPath(image)} (${m.width}x${m.height})`);
      for (const s of shares) console.log(`  ${(s.share * 100).toFixed(2).padStart(6)}%  ${s.label}`);
      for (const f of files) console.log(`  wrote ${shownPath(f)}`);
    }
    return { image, shares: Object.fromEntries(shares.map((s) => [s.label, s.share])), segments: segmentationObjects(model, m).map(({ label, score }) => ({ label, score })), files };
  });
  await model.dispose();
}
