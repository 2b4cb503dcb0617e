/** Reads a VOC-format segmentation folder (Node-only). */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HybridVisionError } from '../tensor.js';
import { decodePng } from './png_node.js';
import { parseImageSetList, validateLabelMap } from './voc_format.js';

export interface SegmentationSample {
  id: string;
  imagePath: string;
  width: number;
  height: number;
  /** height × width class ids (255 = ignore) */
  label: Uint8Array;
}

/** Reads one label PNG: palette indices (VOC) or 8-bit gray values are the class ids. */
export function readLabelPng(path: string, numClasses: number, ignoreIndex = 255): { width: number; height: number; label: Uint8Array } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch {
    throw new HybridVisionError(`cannot read label PNG ${path}: no such file`);
  }
  const png = decodePng(bytes, path);
  if (png.channels !== 1) throw new HybridVisionError(`label PNG ${path}: must be paletted or 8-bit gray (class ids), got ${png.channels} channels`);
  validateLabelMap(png.data, png.width, numClasses, ignoreIndex, `label PNG ${path}`);
  return { width: png.width, height: png.height, label: png.data };
}

/**
 * DIR/ImageSets/Segmentation/<split>.txt lists the ids; images are JPEGImages/<id>.jpg (or .jpeg/.png),
 * labels SegmentationClass/<id>.png. Every label map is read and checked against numClasses.
 */
export function readVocFolder(dir: string, split: string, numClasses: number, ignoreIndex = 255): SegmentationSample[] {
  const list = join(dir, 'ImageSets', 'Segmentation', `${split}.txt`);
  if (!existsSync(list)) throw new HybridVisionError(`${dir}: no ImageSets/Segmentation/${split}.txt (VOC format: JPEGImages, SegmentationClass, ImageSets/Segmentation)`);
  const ids = parseImageSetList(readFileSync(list, 'utf8'), list);
  if (ids.length === 0) throw new HybridVisionError(`${list} lists no images`);
  return ids.map((id) => {
    const imagePath = ['.jpg', '.jpeg', '.png'].map((e) => join(dir, 'JPEGImages', id + e)).find((p) => existsSync(p));
    if (!imagePath) throw new HybridVisionError(`${dir}: JPEGImages/${id}.jpg not found (listed in ${split}.txt)`);
    const l = readLabelPng(join(dir, 'SegmentationClass', `${id}.png`), numClasses, ignoreIndex);
    return { id, imagePath, ...l };
  });
}
