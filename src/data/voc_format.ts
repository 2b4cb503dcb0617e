/**
 * VOC-format segmentation folders (JPEGImages/, SegmentationClass/ paletted PNGs,
 * ImageSets/Segmentation/<split>.txt): the parts that need no file system.
 */
import { HybridVisionError } from '../tensor.js';

/** Image ids of an ImageSets list: one per line, blank lines and surrounding spaces ignored. */
export function parseImageSetList(text: string, label = 'image list'): string[] {
  const ids = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0).map((l) => l.split(/\s+/)[0]);
  for (const id of ids) if (id.includes('/') || id.includes('\\') || id === '..' || id === '.') throw new HybridVisionError(`${label}: '${id}' is not a plain image id`);
  return ids;
}

/**
 * Checks a label map: every value must be a class 0..numClasses−1 or the ignore index.
 * The error names the first offending pixel.
 */
export function validateLabelMap(values: Uint8Array, width: number, numClasses: number, ignoreIndex = 255, label = 'label map'): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v >= numClasses && v !== ignoreIndex) throw new HybridVisionError(`${label}: value ${v} at (x ${i % width}, y ${Math.floor(i / width)}) is outside the classes 0..${numClasses - 1} (${ignoreIndex} = ignore)`);
  }
}
