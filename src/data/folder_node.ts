/** Node: an image-folder dataset (one sub-folder per class), decoded once and stored at a fixed square size. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HybridVisionError } from '../tensor.js';
import { arrayDataset, type Dataset } from './dataset.js';
import { decodeImageFile } from './decode_node.js';
import { centerCrop, resizeShortSide } from './resize.js';

const IMAGE = /\.(png|jpe?g|webp)$/i;

export async function loadImageFolder(dir: string, side: number): Promise<Dataset> {
  let classes: string[];
  try {
    classes = readdirSync(dir)
      .filter((d) => statSync(join(dir, d)).isDirectory())
      .sort();
  } catch {
    throw new HybridVisionError(`cannot read dataset folder ${dir}`);
  }
  if (classes.length < 2) throw new HybridVisionError(`${dir} needs one sub-folder per class (found ${classes.length})`);
  const files: [string, number][] = [];
  classes.forEach((c, i) => {
    for (const f of readdirSync(join(dir, c)).sort()) if (IMAGE.test(f)) files.push([join(dir, c, f), i]);
  });
  if (files.length === 0) throw new HybridVisionError(`${dir} holds no JPEG/PNG/WebP images`);
  const per = side * side * 3;
  const pixels = new Uint8Array(files.length * per);
  const labels = new Uint16Array(files.length);
  for (let i = 0; i < files.length; i++) {
    const img = centerCrop(resizeShortSide(await decodeImageFile(files[i][0]), side, 'bilinear'), side, side);
    pixels.set(img.data, i * per);
    labels[i] = files[i][1];
  }
  return arrayDataset(pixels, labels, side, side, 3, classes);
}
