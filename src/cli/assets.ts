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

export const ASSETS = join(packageRoot(), 'assets');

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

export function hasDefaultModel(): boolean {
  return existsSync(join(ASSETS, 'default', 'model.safetensors'));
}

export function defaultModelPath(): string {
  const p = join(ASSETS, 'default', 'model.safetensors');
  if (!existsSync(p)) throw new HybridVisionError('no default model is shipped yet: pass <model> --weights FILE');
  return p;
}

export function defaultSamples(): string[] {
  const dir = join(ASSETS, 'samples');
  if (!existsSync(dir)) throw new HybridVisionError('no sample images are shipped: pass image files');
  return readdirSync(dir)
    .filter((f) => /\.(png|jpe?g|webp)$/i.test(f))
    .sort()
    .map((f) => join(dir, f));
}
