/**
 * The MobileViT backbones as dense-prediction encoders (`encoder.*` keys): the classification network
 * without conv_1x1_exp and classifier, optionally dilated to output stride 16 or 8.
 */
import type { Value } from '../graph/ir.js';
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
