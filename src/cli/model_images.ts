/**
 * The `[<model> --weights FILE] [IMAGE...]` positionals of predict, segment and detect: a zoo name
 * first needs --weights; with neither, the shipped default of the task runs, and with no images
 * either, on its sample images.
 */
import { existsSync } from 'node:fs';
import { listModels } from '../models/registry.js';
import { HybridVisionError } from '../tensor.js';
import { usageError, type CommandSpec } from './args.js';
import { defaultModelPath, defaultSamples, type DefaultKind } from './assets.js';

export interface ModelAndImages {
  name?: string;
  weights: string;
  images: string[];
  /** The shipped default runs (no --weights given). */
  isDefault: boolean;
}

export function modelAndImages(spec: CommandSpec, positionals: string[], weights: string | undefined, kind: DefaultKind): ModelAndImages {
  const first = positionals[0];
  const name = first !== undefined && listModels().includes(first) ? first : undefined;
  // a first word that is neither a model, a file nor an image name is a mistyped model
  if (first !== undefined && !name && !existsSync(first) && !/\.[a-z]{2,5}$/i.test(first)) throw new HybridVisionError(`unknown model '${first}' (hybridvision models lists them)`);
  let images = name ? positionals.slice(1) : positionals;
  if (name && !weights) throw usageError(spec, '--weights FILE (or pretrained) is required with a model name');
  if (images.length === 0) {
    if (weights) throw usageError(spec, 'expected at least one image');
    images = defaultSamples(kind);
  }
  return { name, weights: weights ?? defaultModelPath(kind), images, isDefault: !weights };
}
