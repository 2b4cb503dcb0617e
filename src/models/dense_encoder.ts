/**
 * The MobileViT backbones as dense-prediction encoders (`encoder.*` keys): the classification network
 * without conv_1x1_exp and classifier, optionally dilated to output stride 16 or 8.
 */
import type { Value } from '../graph/ir.js';
import { HybridVisionError, type HostTensor } from '../tensor.js';
import type { HybridModel } from './model.js';
import type { OutputStride } from './cvnets_layers.js';
import { MOBILEVIT_CFGS, MobileViT } from './mobilevit.js';
import { MOBILEVIT_V2_CFGS, MobileViTv2 } from './mobilevit_v2.js';

export type DenseEncoder = (MobileViT | MobileViTv2) & { forwardLevels(x: Value): Value[]; readonly levelChannels: number[] };

/** Which cvnets tree a backbone's dense heads come from: v0.1 for MobileViT v1 / v1-based v3, v0.2 for v2 / v2-based v3. */
export function cvnetsTree(backbone: string): 'v0.1' | 'v0.2' {
  if (MOBILEVIT_CFGS[backbone]) return 'v0.1';
  if (MOBILEVIT_V2_CFGS[backbone]) return 'v0.2';
  throw new Error(`no dense encoder for backbone '${backbone}'`);
}

export function denseEncoder(backbone: string, outputStride: OutputStride): DenseEncoder {
  const opts = { outputStride, headless: true };
  return cvnetsTree(backbone) === 'v0.1' ? new MobileViT(MOBILEVIT_CFGS[backbone], 0, opts) : new MobileViTv2(MOBILEVIT_V2_CFGS[backbone], 0, opts);
}

/**
 * Initialises a dense model's `encoder.*` from a classification checkpoint of its backbone (official
 * keys conv_1, layer_1..5; conv_1x1_exp and the classifier are dropped). Every encoder tensor must be
 * present with its shape; the head keeps its current (initial) weights.
 */
export function initEncoderFromClassifier(model: HybridModel, classifier: Map<string, HostTensor>): void {
  const merged = new Map(model.weights);
  const missing: string[] = [];
  for (const e of model.stateEntries()) {
    if (!e.key.startsWith('encoder.')) continue;
    const t = classifier.get(e.key.slice('encoder.'.length));
    if (!t) missing.push(e.key.slice('encoder.'.length));
    else if (t.shape.join() !== e.shape.join() && !e.key.endsWith('num_batches_tracked')) throw new HybridVisionError(`backbone checkpoint: ${e.key.slice(8)} has shape [${t.shape}], ${model.name} expects [${e.shape}]`);
    else merged.set(e.key, t);
  }
  if (missing.length) throw new HybridVisionError(`backbone checkpoint lacks ${missing.length} encoder tensors of ${model.name} (e.g. ${missing.slice(0, 3).join(', ')}): is it a ${model.name.split('_').slice(1, -1).join('_')} checkpoint?`);
  model.loadStateDict(merged);
}
