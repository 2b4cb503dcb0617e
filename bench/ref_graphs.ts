/**
 * Where the same-run baselines live: the official models exported with torch.onnx by
 * tools/ref_baselines.sh (batch 1: <variant>.onnx, batch N: <variant>.bN.onnx) in
 * $HYBRIDVISION_REF_ONNX (default /tmp/ref/onnx), and Debian's python with torch for PyTorch's own timings.
 */
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const REF_ONNX_DIR = process.env.HYBRIDVISION_REF_ONNX ?? '/tmp/ref/onnx';
export const TORCH_PYTHON = process.env.HYBRIDVISION_TORCH_PYTHON ?? '/usr/bin/python3';
/** tools/ref/*.py import ref_models from this harness folder. */
export const REF_HARNESS = process.env.HYBRIDVISION_REF_HARNESS ?? resolve(REPO, '../shared/reference');

export function exportedGraph(name: string, batch: number): string | null {
  const p = join(REF_ONNX_DIR, batch === 1 ? `${name}.onnx` : `${name}.b${batch}.onnx`);
  return existsSync(p) ? p : null;
}

export const HOW_TO_EXPORT = [
  `No PyTorch-exported graphs in ${REF_ONNX_DIR} (set HYBRIDVISION_REF_ONNX to where they are). To make them:`,
  '  apt-get install -y python3-torch python3-torchvision python3-onnx python3-numpy libopenblas0-pthread',
  '  MVV3_GIT=<git dir of micronDLA/MobileViTv3> CVNETS_GIT=<apple/ml-cvnets> MF_GIT=<AAboys/MobileFormer> \\',
  '    REF_DIR=/tmp/ref bash tools/ref_baselines.sh',
  'See docs/baselines.md.',
].join('\n');

let torchOk: boolean | null = null;
/** True when TORCH_PYTHON imports torch and the reference trees are laid out (REF_DIR). */
export function torchAvailable(): boolean {
  if (torchOk === null) {
    const r = spawnSync(TORCH_PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
    torchOk = r.status === 0 && existsSync(join(process.env.REF_DIR ?? '/tmp/ref', 'mfpkg'));
  }
  return torchOk;
}

export const pyEnv = (): NodeJS.ProcessEnv => ({ ...process.env, HYBRIDVISION_REF_HARNESS: REF_HARNESS });

export const median = (a: number[]): number => [...a].sort((x, y) => x - y)[a.length >> 1];
