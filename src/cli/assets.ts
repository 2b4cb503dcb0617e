/** Files shipped with the package: the default model and sample images. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HybridVisionError } from '../tensor.js';

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = resolve(dir, '..');
    if (up === dir) throw new HybridVisionError('package root not found');
    dir = up;
  }
  return dir;
}

/** The folder holding package.json: the installed package, or the repository in a checkout. */
export const PACKAGE_ROOT = packageRoot();

export const ASSETS = join(PACKAGE_ROOT, 'assets');

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

/**
 * The shipped defaults, one per task: the Fashion-MNIST classifier with its item samples, and the
 * fmnist-scenes detector and segmenter with their scene samples.
 */
export type DefaultKind = 'classifier' | 'detector' | 'segmenter';

const DEFAULT_FILES: Record<DefaultKind, { model: string; samples: string }> = {
  classifier: { model: 'model.safetensors', samples: 'samples' },
  detector: { model: 'detector.safetensors', samples: join('samples', 'scenes') },
  segmenter: { model: 'segmenter.safetensors', samples: join('samples', 'scenes') },
};

export const DEFAULT_KINDS = Object.keys(DEFAULT_FILES) as DefaultKind[];

/** Where the shipped default of a kind lives (whether or not it is there). */
export function defaultModelFile(kind: DefaultKind): string {
  return join(ASSETS, 'default', DEFAULT_FILES[kind].model);
}

export function hasDefaultModel(kind: DefaultKind = 'classifier'): boolean {
  return existsSync(defaultModelFile(kind));
}

export function defaultModelPath(kind: DefaultKind = 'classifier'): string {
  const p = defaultModelFile(kind);
  if (!existsSync(p)) throw new HybridVisionError(`no default ${kind} is shipped: pass <model> --weights FILE`);
  return p;
}

export function defaultSamples(kind: DefaultKind = 'classifier'): string[] {
  const dir = join(ASSETS, DEFAULT_FILES[kind].samples);
  if (!existsSync(dir)) throw new HybridVisionError('no sample images are shipped: pass image files');
  return readdirSync(dir)
    .filter((f) => /\.(png|jpe?g|webp)$/i.test(f))
    .sort()
    .map((f) => join(dir, f));
}
