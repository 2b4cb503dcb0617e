/** Loading the golden dense cases: manifests, io files, and the weights as the golden README builds them. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { syntheticWeights } from '../../src/io/synthetic.js';
import { readCheckpoint } from '../../src/io/torch.js';
import type { HostTensor } from '../../src/tensor.js';
import { readTensors } from './compare.js';

export interface DenseCase {
  manifest: any;
  io: Map<string, HostTensor>;
  io2: Map<string, HostTensor>;
}

export function denseShapes(goldenDir: string): any {
  return JSON.parse(readFileSync(join(goldenDir, 'dense', 'dense_state_dict_shapes.json'), 'utf8')).models;
}

export function loadDenseCase(goldenDir: string, name: string): DenseCase {
  const dir = join(goldenDir, 'dense');
  return {
    manifest: JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')),
    io: readTensors(join(dir, `${name}.io.safetensors`)),
    io2: readTensors(join(dir, `${name}.io2.safetensors`)),
  };
}

/**
 * The case's state dict: the stored .pt, or formula (synth-v1 with the manifest seed) → BN buffers from
 * bnstats → SSD confidence shaping (float32 arithmetic).
 */
export async function denseWeights(goldenDir: string, kase: DenseCase, shapesKey: string): Promise<Map<string, HostTensor>> {
  const dir = join(goldenDir, 'dense');
  const m = kase.manifest;
  const pt = join(dir, 'pt', `${m.case}.pt`);
  if (existsSync(pt)) return readCheckpoint(readFileSync(pt));
  const sd = syntheticWeights(denseShapes(goldenDir)[shapesKey].state_dict, m.weights.seed);
  for (const [k, t] of readTensors(join(dir, m.weights.bnstats_file))) sd.set(k, t);
  if (m.shaping) applyShaping(sd, m.shaping);
  return sd;
}

function applyShaping(sd: Map<string, HostTensor>, sh: any): void {
  const K = 85;
  const f = Math.fround;
  for (let level = 0; level < 6; level++) {
    const base = level === 5 ? 'ssd_heads.5.loc_cls_layer.block.conv' : `ssd_heads.${level}.loc_cls_layer.pw_conv.block.conv`;
    const w = sd.get(`${base}.weight`)!;
    const b = sd.get(`${base}.bias`)!;
    const wd = w.data as Float32Array;
    const bd = b.data as Float32Array;
    const rows = w.shape[0];
    const per = wd.length / rows;
    for (let r = 0; r < rows; r++) {
      const gain = r % K < 4 ? sh.loc_gain : sh.class_gain;
      for (let j = 0; j < per; j++) wd[r * per + j] = f(wd[r * per + j] * gain);
      bd[r] = f(bd[r] * gain);
    }
    for (let a = 0; a < rows / K; a++) bd[a * K + 4] = f(bd[a * K + 4] + sh.bg_bias);
    for (const [lv, cls, delta] of sh.fg_bias) if (lv === level) for (let a = 0; a < rows / K; a++) bd[a * K + 4 + cls] = f(bd[a * K + 4 + cls] + delta);
  }
}
