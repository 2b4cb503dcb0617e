/**
 * Node: the one loading function for every model file: a hybridvision file written by `train` or
 * `import` (architecture, labels and preprocessing restored), an official PyTorch checkpoint (.pt,
 * .pth, .pth.tar) or a plain safetensors file with the official keys (architecture from `name`, or
 * detected from the keys).
 */
import { basename } from 'node:path';
import { readFileBytes, withFileName } from '../io/node_files.js';
import type { HybridModel } from './model.js';
import { modelFromBytes, type ModelFileOptions } from './model_file.js';

export async function loadModelFile(path: string, name?: string, opts: Omit<ModelFileOptions, 'fileLabel'> = {}): Promise<HybridModel> {
  const bytes = await readFileBytes(path);
  return withFileName(path, () => modelFromBytes(bytes, name, { ...opts, fileLabel: basename(path) }));
}
