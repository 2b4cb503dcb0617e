/** The RetinaNet golden cases (../shared/golden/retinanet_mf): manifests and their weights. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { syntheticWeights, weightsSha256, type ShapeSpec } from '../../src/io/synthetic.js';
import type { HostTensor } from '../../src/tensor.js';
import { readTensors } from './compare.js';

export const RETINA_FORWARD_CASES = ['retina_mf151m_nc91_320x320_b1', 'retina_mf151m_nc91_224x320_200x320_b2'];

export const retinaShapes = (dir: string) => JSON.parse(readFileSync(join(dir, 'state_dict_shapes.json'), 'utf8'));
export const retinaManifest = (dir: string, name: string) => JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));

/** The case's weights: synth-v1 over the composed key list, then the stored overrides; sha256 checked at both steps. */
export async function retinaCaseWeights(dir: string, man: any, name: string): Promise<Map<string, HostTensor>> {
  const shapes: Record<string, ShapeSpec> = {};
  for (const [k, shape, dtype] of retinaShapes(dir).variants[man.variant].state_dict) shapes[k] = { shape, dtype };
  const w = syntheticWeights(shapes, man.weights.synth_seed);
  assert.equal(await weightsSha256(w), man.weights.synth_weights_sha256, 'synthetic weights sha256');
  for (const [k, t] of readTensors(join(dir, `${name}.weights_override.safetensors`))) {
    assert.ok(w.has(k), `override of unknown key ${k}`);
    w.set(k, t);
  }
  assert.equal(await weightsSha256(w), man.weights.final_weights_sha256, 'final weights sha256');
  return w;
}
