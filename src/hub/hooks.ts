/**
 * The seams through which the core reaches weights it cannot fetch itself (core: no Node built-ins).
 * The Node entry installs loaders that download, cache and read files; without them, asking for
 * pretrained weights or a model file by path is a one-line error naming the entry to import.
 */
import type { CreateOptions, HybridModel } from '../models/model.js';
import { HybridVisionError } from '../tensor.js';

/** Transformers.js-style progress events for one file. */
export interface DownloadProgress {
  status: 'initiate' | 'download' | 'progress' | 'done' | 'ready';
  /** The model. */
  name: string;
  /** The file being fetched. */
  file: string;
  /** Bytes so far and in all (total 0 when the server does not say). */
  loaded?: number;
  total?: number;
  /** Percent, 0..100, where the total is known. */
  progress?: number;
}

export type ProgressCallback = (p: DownloadProgress) => void;

/** Options of pretrained loading (createModel(name, { pretrained: true, ... }), pipeline). */
export interface PretrainedOptions {
  /** Report download progress. */
  progress?: ProgressCallback;
  /** The cache folder (default: $HYBRIDVISION_CACHE, else the per-user cache folder). */
  cacheDir?: string;
  /** Never touch the network; use the cache only (default: $HYBRIDVISION_OFFLINE=1). */
  offline?: boolean;
  /** Fetch from this base URL instead of the official hosts: `${baseUrl}/${model}/${asset}` (default: $HYBRIDVISION_BASE_URL). */
  baseUrl?: string;
  /** Expected sha256 of the published file (overrides the recorded one). */
  sha256?: string;
}

export type PretrainedLoader = (name: string, opts: CreateOptions) => Promise<HybridModel>;
export type ModelFileLoader = (path: string, opts: CreateOptions) => Promise<HybridModel>;

let pretrained: PretrainedLoader | null = null;
let files: ModelFileLoader | null = null;

export function setPretrainedLoader(f: PretrainedLoader): void {
  pretrained = f;
}

export function setModelFileLoader(f: ModelFileLoader): void {
  files = f;
}

export function loadPretrainedWith(name: string, opts: CreateOptions): Promise<HybridModel> {
  if (!pretrained) {
    return Promise.reject(new HybridVisionError(`pretrained weights for ${name} need a loader: import 'hybridvision/node' in Node, or pass { weights } read from a file you fetched`));
  }
  return pretrained(name, opts);
}

export function loadModelFileWith(path: string, opts: CreateOptions): Promise<HybridModel> {
  if (!files) return Promise.reject(new HybridVisionError(`'${path}' is not a model name, and reading model files needs 'hybridvision/node' (or pass a HybridModel)`));
  return files(path, opts);
}
