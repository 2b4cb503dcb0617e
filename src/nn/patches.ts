/**
 * MobileViT's patch layout (2x2 patches): a feature map as tokens grouped by position within the
 * patch, and back. Shared by the v1- and v2-based MobileViT blocks.
 */
import type { Value } from '../graph/ir.js';
import { reshape, transpose } from '../graph/ops/shape.js';
import { depthToSpace, spaceToDepth } from '../graph/ops/space_depth.js';

/**
 * [B, d, H, W] -> tokens [B*4*N, d] in B*4 groups: group p = (h mod 2)*2 + (w mod 2), position n over
 * the (H/2)x(W/2) grid. Tokens stay 2-D through the transformer so every linear is one Gemm.
 */
export function unfold(x: Value): Value {
  const [b, d, h, w] = x.shape;
  const how = x.graph.options.lowering.patches;
  // SpaceToDepth groups channels by patch position: [B, 4, d, N], then one [d, N] transpose per group
  if (how === 'spaceToDepth') return reshape(transpose(reshape(spaceToDepth(x), [b * 4, d, (h / 2) * (w / 2)]), [0, 2, 1]), [-1, d]);
  const t = transpose(reshape(x, [b, d, h / 2, 2, w / 2, 2]), [0, 3, 5, 2, 4, 1]);
  return reshape(t, [b * 4 * (h / 2) * (w / 2), d]);
}

/** unfold's inverse: tokens [B*4*N, d] -> [B, d, H, W]. */
export function fold(p: Value, b: number, h: number, w: number): Value {
  const d = p.shape[1];
  const how = p.graph.options.lowering.patches;
  if (how === 'spaceToDepth') return depthToSpace(reshape(transpose(reshape(p, [b * 4, -1, d]), [0, 2, 1]), [b, 4 * d, h / 2, w / 2]));
  const t = transpose(reshape(p, [b, 2, 2, h / 2, w / 2, d]), [0, 5, 3, 1, 4, 2]);
  return reshape(t, [b, d, h, w]);
}

/** fold() to token layout [B, H·W, d]: pixels back in raster order, channels stay innermost (a cheap copy). */
export function foldTokens(p: Value, b: number, h: number, w: number): Value {
  const d = p.shape[1];
  const t = transpose(reshape(p, [b, 2, 2, h / 2, w / 2, d]), [0, 3, 1, 4, 2, 5]);
  return reshape(t, [b, h * w, d]);
}

/**
 * Folds tokens back to an [B, C, H, W] map through a 1x1 conv `proj` (called as proj(x) on a map,
 * or proj(tokens, [H, W]) on tokens [B, H·W, d]). Where the graph's lowering says
 * `projectionReadsTokens` (training), the conv reads the tokens directly (one matrix product, no
 * Transpose of the channel axis); otherwise it runs on the folded map (the engine merges Conv + BN).
 */
export function foldThrough1x1(p: Value, b: number, h: number, w: number, proj: (x: Value, tokensHW?: [number, number]) => Value): Value {
  if (p.graph.options.lowering.projectionReadsTokens) return proj(foldTokens(p, b, h, w), [h, w]);
  return proj(fold(p, b, h, w));
}
