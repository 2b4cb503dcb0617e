/** `--weights FILE|pretrained` for every command that loads a model. */
import { loadPretrained } from '../hub/pretrained_node.js';
import type { DownloadProgress } from '../hub/hooks.js';
import type { HybridModel } from '../models/model.js';
import { loadModelFile } from '../models/model_file_node.js';
import { HybridVisionError } from '../tensor.js';
import { bytesStr, StatusLine } from './progress.js';

export const WEIGHTS_HELP = "a model file (from train or import, a PyTorch checkpoint or safetensors), or 'pretrained' for the official ImageNet weights (downloaded once into the cache)";

/** A bar on stderr while a checkpoint downloads. */
function downloadBar(): (p: DownloadProgress) => void {
  const line = new StatusLine(undefined, 0);
  return (p) => {
    if (p.status === 'initiate') console.error(`downloading ${p.name}: ${p.file}`);
    else if (p.status === 'progress') line.show(`${p.file} ${bytesStr(p.loaded ?? 0)}${p.total ? ` of ${bytesStr(p.total)}` : ''}`, p.total ? (p.loaded ?? 0) / p.total : undefined);
    else if (p.status === 'done') line.clear();
  };
}

export async function loadWeights(weights: string, name: string | undefined, opts: { threads?: number } = {}): Promise<HybridModel> {
  if (weights !== 'pretrained') return loadModelFile(weights, name, opts);
  if (!name) throw new HybridVisionError("--weights pretrained needs a model name (hybridvision models lists them)");
  return loadPretrained(name, { threads: opts.threads, progress: downloadBar() });
}
