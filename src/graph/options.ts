/**
 * How a graph is built: one typed options object given to `new Graph(...)` and read by ops and
 * lowering helpers from their graph (`x.graph.options`). Nothing about a build lives in module state.
 */

/**
 * How convolutions are lowered in training graphs (defaults chosen by measurement: single-layer
 * timings and whole steps, bench/train_step.ts --variants, batch 32 at 64x64):
 * - denseDepthwiseMaxMatrix: depthwise convs on small maps (per-channel matrix of input × output
 *   pixels up to 32768 entries: 2x2..12x12 maps, 16x16 at stride 2) run forward and backward as
 *   per-channel matrix products (ops/depthwise_dense.ts): 1.3-8.4x faster per layer (forward and both
 *   gradients, bench/depthwise.ts) than the engine's per-(image, group) Conv / ConvTranspose;
 *   slower from 16x16 at stride 1 on. 0 turns it off (the eval default: there the engine prepacks).
 * - stridedInput: the input gradient of a strided conv as one ConvTranspose (default; 4-9 % faster
 *   steps), or as a stride-1 conv over the zero-inserted output gradient.
 * - depthwiseWeight / denseWeight: the weight gradient of a k×k conv (k > 1) as ONE grouped,
 *   dilated Conv whose kernel is the output gradient ('conv'), as a sum of per-tap products
 *   ('taps': one shifted slice of the input per kernel tap, multiplied with the output gradient and
 *   reduced), or (depthwise only) as one matrix product per kernel row ('rows'). Depthwise default
 *   'auto': 'rows' at stride 1 (weight gradient about 30 % faster than 'conv' on 16x16..32x32
 *   maps, the whole layer 1.0-1.24x), 'conv' when strided (there 'rows' is 1.5-2x slower). Dense
 *   default 'conv' ('taps' no faster).
 */
export interface ConvLowering {
  stridedInput: 'convTranspose' | 'zeroInsert';
  depthwiseWeight: 'taps' | 'conv' | 'rows' | 'auto';
  denseWeight: 'taps' | 'conv';
  denseDepthwiseMaxMatrix: number;
}

/** Lowering choices; the defaults differ between training and inference graphs (see `lowering`). */
export interface Lowering {
  conv: ConvLowering;
  /** Train-mode BatchNorm as one op with a hand-written gradient (else autodiff through its composite). */
  fusedBatchNorm: boolean;
  /** SiLU as one op with a hand-written gradient (else x·sigmoid(x)). */
  fusedSilu: boolean;
  /**
   * Multi-head attention projections (nn/attention.ts): 'fused', one [q | k | v] Gemm and one
   * Transpose to heads (its gradient is two Gemms and two Transposes; training default), or
   * 'perHead', one broadcast MatMul per projection straight into heads, no Transposes (inference).
   */
  attention: 'fused' | 'perHead';
  /**
   * A 1x1 conv after the patch transformer reads the tokens with one matrix product (sparing fold's
   * Transpose of the channel axis and its gradient's; training default), instead of a Conv on the
   * folded map, which the engine merges with the following BatchNorm (inference).
   */
  projectionReadsTokens: boolean;
  /**
   * MobileViT's unfold/fold between a map and patch tokens (nn/patches.ts): 'transpose', one
   * 6-D Transpose (training default); 'spaceToDepth', SpaceToDepth / DepthToSpace plus one
   * [d, N] Transpose per patch position (inference default, as the PyTorch export folds; same-run
   * tools/ab_inference.js, batch 1, 9 rounds, old/new per run: XXS 1.05 1.16, 0.5 1.06 1.05,
   * 0.75 1.05 1.05, S 1.04 1.02 1.04, 1.0 1.02 1.05 1.04, XS 1.02 1.06 0.98).
   */
  patches: 'transpose' | 'spaceToDepth';
}

export interface DropoutConfig {
  /** Base seed; each site's seed derives from it and the site's creation order in the graph. */
  seed: number;
  /** Multiplies the rates the model declares (default 1). */
  scale?: number;
  /** Rate overrides by site name (e.g. 'classifier', 'attention', 'ffn', 'drop_path'). */
  rates?: Record<string, number>;
}

export interface GraphOptions {
  /** 'train': BatchNorm on batch statistics with running updates, dropout sites live, training lowerings. */
  readonly mode: 'eval' | 'train';
  readonly lowering: Readonly<Lowering>;
  /** Dropout / drop-path masks from the engine's seeded generator (train mode only); null: off. */
  readonly dropout: Readonly<DropoutConfig> | null;
  /** Record the values models mark with tap() (graph/taps.ts) in `graph.taps`, for extra outputs. */
  readonly taps: boolean;
}

/** What `new Graph(...)` accepts: every field optional, lowering choices merged over the mode's defaults. */
export interface GraphOptionsInit {
  mode?: 'eval' | 'train';
  lowering?: Partial<Omit<Lowering, 'conv'>> & { conv?: Partial<ConvLowering> };
  dropout?: DropoutConfig | null;
  taps?: boolean;
}

/** The lowering defaults of a mode. */
export function lowering(mode: 'eval' | 'train'): Lowering {
  const train = mode === 'train';
  return {
    conv: { stridedInput: 'convTranspose', depthwiseWeight: 'auto', denseWeight: 'conv', denseDepthwiseMaxMatrix: train ? 32768 : 0 },
    fusedBatchNorm: true,
    fusedSilu: true,
    attention: train ? 'fused' : 'perHead',
    projectionReadsTokens: train,
    patches: train ? 'transpose' : 'spaceToDepth',
  };
}

export function resolveGraphOptions(init: GraphOptionsInit = {}): GraphOptions {
  const mode = init.mode ?? 'eval';
  const base = lowering(mode);
  const l = init.lowering ?? {};
  return Object.freeze({
    mode,
    lowering: Object.freeze({ ...base, ...l, conv: Object.freeze({ ...base.conv, ...l.conv }) }),
    dropout: init.dropout ? Object.freeze({ ...init.dropout }) : null,
    taps: init.taps ?? false,
  });
}
