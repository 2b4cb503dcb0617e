/** Node: load a model from a file (hybridvision safetensors or any PyTorch checkpoint). */
import { basename } from 'node:path';
import { readFileBytes, withFileName } from '../io/node_files.js';
import type { HybridModel } from './model.js';
import { modelFromBytes } from './model_file.js';

export async function loadModelFile(path: string, name?: string, opts: { threads?: number } = {}): Promise<HybridModel> {
  const bytes = await readFileBytes(path);
  return withFileName(path, () => modelFromBytes(bytes, name, { ...opts, fileLabel: basename(path) }));
}
