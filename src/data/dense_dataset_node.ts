/** Loads COCO-format detection and VOC-format segmentation folders into memory (Node-only). */
import { readCocoFolder } from './coco_format_node.js';
import { decodeImageFile } from './decode_node.js';
import { resizeDetectionSample, resizeLabelMap, type DetectionDataset, type SegmentationDataset } from './dense_dataset.js';
import { resize } from './resize.js';
import { readVocFolder } from './voc_format_node.js';
import { HybridVisionError } from '../tensor.js';

/** Every image of a COCO split, resized to size × size; crowd boxes are dropped (as for training). */
export async function loadDetectionFolder(pathOrDir: string, split: string, size: number): Promise<DetectionDataset> {
  const f = readCocoFolder(pathOrDir, split);
  const n = f.samples.length;
  const pixels = new Uint8Array(n * size * size * 3);
  const boxes: Float32Array[] = [];
  const labels: Int32Array[] = [];
  for (let i = 0; i < n; i++) {
    const s = f.samples[i];
    const img = await decodeImageFile(f.imagePaths[i]);
    if (img.width !== s.width || img.height !== s.height) throw new HybridVisionError(`${f.imagePaths[i]} is ${img.width}x${img.height}, the annotations say ${s.width}x${s.height}`);
    const keep = [...s.crowd.keys()].filter((k) => !s.crowd[k]);
    const b = Float32Array.from(keep.flatMap((k) => [...s.boxes.subarray(4 * k, 4 * k + 4)]));
    const r = resizeDetectionSample(img, b, size);
    pixels.set(r.image.data, i * size * size * 3);
    boxes.push(r.boxes);
    labels.push(Int32Array.from(keep, (k) => s.labels[k]));
  }
  return { count: n, size, pixels, boxes, labels, classNames: f.classNames };
}

/** Every image of a VOC split, resized to size × size (labels by nearest neighbour). */
export async function loadSegmentationFolder(dir: string, split: string, size: number, classNames: readonly string[], ignoreIndex = 255): Promise<SegmentationDataset> {
  const samples = readVocFolder(dir, split, classNames.length, ignoreIndex);
  const n = samples.length;
  const pixels = new Uint8Array(n * size * size * 3);
  const labels = new Uint8Array(n * size * size);
  for (let i = 0; i < n; i++) {
    const s = samples[i];
    const img = await decodeImageFile(s.imagePath);
    if (img.width !== s.width || img.height !== s.height) throw new HybridVisionError(`${s.imagePath} is ${img.width}x${img.height}, its label map ${s.width}x${s.height}`);
    pixels.set(resize(img, size, size, 'bilinear').data, i * size * size * 3);
    labels.set(resizeLabelMap(s.label, s.width, s.height, size, size), i * size * size);
  }
  return { count: n, size, pixels, labels, classNames };
}
