/** Reads a COCO-format detection folder (Node-only): instances_<split>.json plus the images it names. */
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HybridVisionError } from '../tensor.js';
import { parseCocoInstances, type DetectionSet } from './coco_format.js';

/** The instances file of a split: DIR/instances_<split>.json or DIR/annotations/instances_<split>*.json, or a file path. */
export function findInstancesFile(pathOrDir: string, split: string): string {
  if (!existsSync(pathOrDir)) throw new HybridVisionError(`no such file or folder: ${pathOrDir}`);
  if (statSync(pathOrDir).isFile()) return pathOrDir;
  for (const d of [pathOrDir, join(pathOrDir, 'annotations')]) {
    if (!existsSync(d)) continue;
    const exact = join(d, `instances_${split}.json`);
    if (existsSync(exact)) return exact;
    const near = readdirSync(d).filter((f) => f.startsWith(`instances_${split}`) && f.endsWith('.json')).sort();
    if (near.length) return join(d, near[0]);
  }
  throw new HybridVisionError(`${pathOrDir}: no instances_${split}.json (COCO format: instances_<split>.json plus the images)`);
}

export interface CocoFolder extends DetectionSet {
  /** absolute-or-relative image path per sample (same order as samples) */
  imagePaths: string[];
  annotationFile: string;
}

/**
 * Reads and validates a COCO detection folder. Image paths are file_name relative to the json's
 * folder, else to its parent, else to <folder>/<split>/ (the COCO 2017 layout).
 */
export function readCocoFolder(pathOrDir: string, split = 'train'): CocoFolder {
  const file = findInstancesFile(pathOrDir, split);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new HybridVisionError(`cannot read ${file}: ${(e as Error).message.split('\n')[0]}`);
  }
  const set = parseCocoInstances(json, file);
  const base = dirname(file);
  const roots = [base, dirname(base), join(dirname(base), split), join(base, split)];
  const imagePaths = set.samples.map((s) => {
    const hit = roots.map((r) => join(r, s.fileName)).find((p) => existsSync(p));
    if (!hit) throw new HybridVisionError(`${file}: image '${s.fileName}' not found next to the annotations`);
    return hit;
  });
  return { ...set, imagePaths, annotationFile: file };
}
