/** Node: load a model from a file (hybridvision safetensors or any PyTorch checkpoint). */
import { basename } from 'node:path';
import { readFileBytes } from '../io/node_files.js';
import { HybridVisionError } from '../tensor.js';
import type { HybridModel } from './model.js';
import { modelFromBytes } from './model_file.js';

export async function loadModelFile(path: string, name?: string, opts: { threads?: number } = {}): Promise<HybridModel> {
  const bytes = await readFileBytes(path);
  try {
    return await modelFromBytes(bytes, name, { ...opts, fileLabel: basename(path) });
  } catch (e) {
    if (e instanceof HybridVisionError && !e.message.includes(basename(path))) throw new HybridVisionError(`${basename(path)}: ${e.message}`);
    throw e;
  }
}
