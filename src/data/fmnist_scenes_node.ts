/** Writes fmnist-scenes to disk in COCO and VOC formats (Node-only). */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { writeFileAtomic } from '../io/node_files.js';
import { HybridVisionError } from '../tensor.js';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_DIR, loadFashionMnist } from './fashion_mnist_node.js';
import { makeScene, sceneName, type FmnistSource, type SceneOptions } from './fmnist_scenes.js';
import { encodePng } from './png_node.js';
import { VOC_PALETTE } from './voc_classes.js';

export interface WriteScenesOptions extends SceneOptions {
  out: string;
  count: number;
  seed: number;
  split: 'train' | 'test';
  dataPath?: string;
  /** the items to draw from (default: the matching Fashion-MNIST split read from dataPath) */
  source?: FmnistSource;
  onProgress?: (done: number, total: number) => void;
}

/** The category list of fmnist-scenes: id = Fashion-MNIST class + 1 (also the VOC mask value). */
export const SCENE_CATEGORIES = FASHION_MNIST_CLASSES.map((name, i) => ({ id: i + 1, name, supercategory: 'fashion' }));

/**
 * Layout under `out` (both formats share the images):
 *   instances_<split>.json                COCO: images, annotations (bbox [x,y,w,h], area = w·h), categories
 *   JPEGImages/<split>_NNNNNN.jpg         gray JPEG, quality 95
 *   SegmentationClass/<split>_NNNNNN.png  8-bit paletted (VOC palette), 0 background, class + 1
 *   ImageSets/Segmentation/<split>.txt    the image ids
 * Refuses to overwrite an existing split. The index files are written last and atomically.
 */
export async function writeFmnistScenes(o: WriteScenesOptions): Promise<{ images: number; objects: number }> {
  if (!Number.isInteger(o.count) || o.count < 1) throw new HybridVisionError(`--count must be a positive integer, got ${o.count}`);
  if (!Number.isInteger(o.seed) || o.seed < 0) throw new HybridVisionError(`--seed must be a whole number >= 0, got ${o.seed}`);
  if (existsSync(o.out) && !statSync(o.out).isDirectory()) throw new HybridVisionError(`--out ${o.out} exists and is not a folder`);
  const jsonPath = join(o.out, `instances_${o.split}.json`);
  const listPath = join(o.out, 'ImageSets', 'Segmentation', `${o.split}.txt`);
  for (const p of [jsonPath, listPath]) if (existsSync(p)) throw new HybridVisionError(`${p} already exists: the ${o.split} split is there already (choose another --out or remove it)`);
  const src = o.source ?? (() => {
    const fm = loadFashionMnist(o.dataPath ?? FASHION_MNIST_DIR);
    return o.split === 'train' ? fm.train : fm.test;
  })();
  const opts: SceneOptions = { size: o.size, minItems: o.minItems, maxItems: o.maxItems, minScale: o.minScale, maxScale: o.maxScale, maxIou: o.maxIou, bgMax: o.bgMax };
  makeScene(src, o.seed, 0, opts); // validates the options before anything is written
  for (const d of ['JPEGImages', 'SegmentationClass', join('ImageSets', 'Segmentation')]) mkdirSync(join(o.out, d), { recursive: true });
  const images: object[] = [];
  const annotations: object[] = [];
  const ids: string[] = [];
  for (let i = 0; i < o.count; i++) {
    const sc = makeScene(src, o.seed, i, opts);
    const name = sceneName(o.split, i);
    const S = sc.size;
    const jpg = await sharp(Buffer.from(sc.pixels.buffer, sc.pixels.byteOffset, sc.pixels.byteLength), { raw: { width: S, height: S, channels: 1 } }).jpeg({ quality: 95 }).toBuffer();
    await writeFile(join(o.out, 'JPEGImages', `${name}.jpg`), jpg);
    await writeFile(join(o.out, 'SegmentationClass', `${name}.png`), encodePng({ width: S, height: S, channels: 1, data: sc.mask, palette: VOC_PALETTE }));
    images.push({ id: i + 1, file_name: `JPEGImages/${name}.jpg`, width: S, height: S });
    for (const ob of sc.objects) {
      const [x1, y1, x2, y2] = ob.box;
      annotations.push({ id: annotations.length + 1, image_id: i + 1, category_id: ob.label + 1, bbox: [x1, y1, x2 - x1, y2 - y1], area: (x2 - x1) * (y2 - y1), iscrowd: 0 });
    }
    ids.push(name);
    o.onProgress?.(i + 1, o.count);
  }
  const info = { description: `fmnist-scenes ${o.split} (hybridvision): seed ${o.seed}, size ${opts.size ?? 128}, from the Fashion-MNIST ${o.split} split` };
  await writeFileAtomic(listPath, new TextEncoder().encode(ids.join('\n') + '\n'));
  await writeFileAtomic(jsonPath, new TextEncoder().encode(JSON.stringify({ info, images, annotations, categories: SCENE_CATEGORIES })));
  return { images: images.length, objects: annotations.length };
}
