/**
 * Mobile-Former (Chen et al., "Mobile-Former: Bridging MobileNet and Transformer", CVPR 2022), all seven
 * variants, as the official code AAboys/MobileFormer (`mobile_former.py`, `dna_blocks.py`) builds them
 * with the registry settings of `mobile_former_{26,52,96,151,214,294,508}m`.
 *
 * A Mobile (MobileNet-style) path over the feature map and a Former (transformer) path over a few
 * global tokens run in parallel, joined in every block by two light cross-attention bridges:
 *
 *   tokens ──► Mobile→Former ──► Former ──┬────────────────────────────────────────────► tokens'
 *                  ▲                      └─► token 0 ─► hyper functions ─► DyReLU slopes
 *                  │                                                            ▼
 *   x ─────────────┴──► conv ─ DyReLU ─ conv ─ DyReLU ─ conv (+ skip) ─► Former→Mobile ─► x'
 *
 * After the last block one more Mobile→Former bridge updates the tokens, and the classifier merges
 * the pooled feature map with token 0.
 *
 * Variants are data (MOBILE_FORMER_CFGS: the official block lists), blocks are code. Parameter names
 * are the official state_dict keys (`tokens.weight`, `stem.*`, `features.I.*`, `local_global.*`,
 * `classifier.*`), declared in torch's registration (= state_dict) order.
 *
 * Layouts: features NCHW. Tokens are carried as [T·B, D] rows, token-major as upstream's [T, B, D], so
 * every token Linear is a plain 2-D Gemm and each attention's head split ([T, B, heads, dh] → [B, heads,
 * T, dh]) is a Transpose the engine folds into the following MatMul (FusedMatMul). With sample-major
 * rows it could not: Mobile-Former-26M's inference graph had 83 Transpose nodes, now 35. Measured
 * speed-up over sample-major rows, one process, interleaved: 0.97-1.03x at batch 1 (26M, 96M, 151M, 294M, 508M),
 * 1.02-1.03x at batch 8 and 1.03x for the training step, i.e. at most a few percent.
 */
import { dropout } from '../graph/ops/dropout.js';
import type { Value } from '../graph/ir.js';
import { add, div, exp, hardSigmoid, maximum, mul, relu, sub } from '../graph/ops/elementwise.js';
import { matmul } from '../graph/ops/matmul.js';
import { reduceMean, reduceSum } from '../graph/ops/reduce.js';
import { concat, expand, reshape, slice, transpose } from '../graph/ops/shape.js';
import { softmax } from '../graph/ops/softmax.js';
import { channelShuffle, gelu, hardSwish, relu6 } from '../nn/functional.js';
import { BatchNorm, Conv2d, LayerNorm, Linear } from '../nn/layers.js';
import { Module, normal } from '../nn/module.js';
import { makeDivisible } from './cvnets_layers.js';
import { tap } from '../graph/taps.js';
import type { ModelSpec, Network, NetworkOutput, PretrainedCfg, VariantInfo } from './types.js';

// ---------------------------------------------------------------------------------------------------
// Variants (data)
// ---------------------------------------------------------------------------------------------------

/**
 * One row of an official block list, `[block, e1, c, n, s, e2]`: block type, first expansion, output
 * channels, repeats, stride of the first repeat, second expansion. `DnaBlock3` with e2 = 0 (or any
 * block with e1 = 1) is the conv-only bneck-lite block.
 */
export type BlockRow = ['DnaBlock' | 'DnaBlock3', number, number, number, number, number];

export interface MobileFormerConfig {
  /** Stem output channels (3x3 s2 conv, BN, ReLU6). */
  stem: number;
  /** Global tokens: count T and width D (`tokens.weight` [T, D]). */
  tokens: number;
  tokenDim: number;
  /** Width of the classifier's hidden FC (`num_features`). */
  numFeatures: number;
  /** Groups of the pointwise convs (4 with ChannelShuffle for 26m, else 1). */
  groups: number;
  /** Classifier dropout of the official recipe (active only when a train step enables dropout). */
  dropout: number;
  blocks: BlockRow[];
}

/** Settings every variant shares (`common_model_kwargs` plus the class defaults the registry relies on). */
const COMMON = {
  /** Heads of the Mobile→Former and Former→Mobile bridges (`attn_num_heads`). */
  bridgeHeads: 2,
  /** Heads of the Former: GlobalBlock is built without `attn_num_heads`, so its default 4 applies. */
  formerHeads: 4,
  /** Former FFN expansion (`GlobalBlock.ffn_exp`). */
  ffnExp: 2,
  /** Dynamic ReLU hyper-function squeeze (`hyper_reduction_ratio`). */
  hyperReduction: 4,
  /** Scale of the Dynamic ReLU coefficients and of the bridge's dynamic channel scale α. */
  dyScale: 2,
  /** Classifier 1x1 expansion (`last_exp`). */
  lastExp: 6,
  /** Channel rounding of the block outputs (`width_mult` 1.0 → divisor 4). */
  divisor: 4,
};

const MF_52M_BLOCKS: BlockRow[] = [
  ['DnaBlock3', 3, 12, 1, 2, 0],
  ['DnaBlock', 3, 12, 1, 1, 3],
  ['DnaBlock3', 6, 24, 1, 2, 4],
  ['DnaBlock', 3, 24, 1, 1, 3],
  ['DnaBlock3', 6, 48, 1, 2, 4],
  ['DnaBlock', 4, 48, 1, 1, 4],
  ['DnaBlock', 6, 64, 1, 1, 4],
  ['DnaBlock3', 6, 96, 1, 2, 4],
  ['DnaBlock', 6, 96, 1, 1, 4],
];

/** The official block lists, one row per variant (AAboys `mobile_former.py`), smallest first. */
export const MOBILE_FORMER_CFGS: Record<string, MobileFormerConfig> = {
  /** 52m's layout with grouped (g = 4) pointwise convs and channel shuffles. */
  mobile_former_26m: { stem: 8, tokens: 3, tokenDim: 128, numFeatures: 1024, groups: 4, dropout: 0.1, blocks: MF_52M_BLOCKS },
  mobile_former_52m: { stem: 8, tokens: 3, tokenDim: 128, numFeatures: 1024, groups: 1, dropout: 0.2, blocks: MF_52M_BLOCKS },
  mobile_former_96m: {
    stem: 12,
    tokens: 4,
    tokenDim: 128,
    numFeatures: 1280,
    groups: 1, dropout: 0.2,
    blocks: [
      ['DnaBlock3', 2, 12, 1, 1, 0],
      ['DnaBlock3', 6, 16, 1, 2, 4],
      ['DnaBlock3', 6, 32, 1, 2, 4],
      ['DnaBlock', 3, 32, 1, 1, 3],
      ['DnaBlock3', 6, 64, 1, 2, 4],
      ['DnaBlock', 4, 64, 1, 1, 4],
      ['DnaBlock', 6, 88, 1, 1, 4],
      ['DnaBlock3', 6, 128, 1, 2, 4],
      ['DnaBlock', 6, 128, 1, 1, 4],
    ],
  },
  mobile_former_151m: {
    stem: 12,
    tokens: 6,
    tokenDim: 192,
    numFeatures: 1280,
    groups: 1, dropout: 0.2,
    blocks: [
      ['DnaBlock3', 2, 12, 1, 1, 0],
      ['DnaBlock3', 6, 16, 1, 2, 4],
      ['DnaBlock', 3, 16, 1, 1, 3],
      ['DnaBlock3', 6, 32, 1, 2, 4],
      ['DnaBlock', 3, 32, 1, 1, 3],
      ['DnaBlock3', 6, 64, 1, 2, 4],
      ['DnaBlock', 4, 64, 1, 1, 4],
      ['DnaBlock', 6, 88, 1, 1, 4],
      ['DnaBlock', 6, 88, 1, 1, 4],
      ['DnaBlock3', 6, 128, 1, 2, 4],
      ['DnaBlock', 6, 128, 1, 1, 4],
      ['DnaBlock', 6, 128, 1, 1, 4],
    ],
  },
  mobile_former_214m: {
    stem: 12,
    tokens: 6,
    tokenDim: 192,
    numFeatures: 1600,
    groups: 1, dropout: 0.2,
    blocks: [
      ['DnaBlock3', 2, 12, 1, 1, 0],
      ['DnaBlock3', 6, 20, 1, 2, 4],
      ['DnaBlock', 3, 20, 1, 1, 4],
      ['DnaBlock3', 6, 40, 1, 2, 4],
      ['DnaBlock', 4, 40, 1, 1, 4],
      ['DnaBlock3', 6, 80, 1, 2, 4],
      ['DnaBlock', 4, 80, 1, 1, 4],
      ['DnaBlock', 6, 112, 1, 1, 4],
      ['DnaBlock', 6, 112, 1, 1, 4],
      ['DnaBlock3', 6, 160, 1, 2, 4],
      ['DnaBlock', 6, 160, 1, 1, 4],
      ['DnaBlock', 6, 160, 1, 1, 4],
    ],
  },
  mobile_former_294m: {
    stem: 16,
    tokens: 6,
    tokenDim: 192,
    numFeatures: 1920,
    groups: 1, dropout: 0.3,
    blocks: [
      ['DnaBlock3', 2, 16, 1, 1, 0],
      ['DnaBlock3', 6, 24, 1, 2, 4],
      ['DnaBlock', 4, 24, 1, 1, 4],
      ['DnaBlock3', 6, 48, 1, 2, 4],
      ['DnaBlock', 4, 48, 1, 1, 4],
      ['DnaBlock3', 6, 96, 1, 2, 4],
      ['DnaBlock', 4, 96, 1, 1, 4],
      ['DnaBlock', 6, 128, 1, 1, 4],
      ['DnaBlock', 6, 128, 1, 1, 4],
      ['DnaBlock3', 6, 192, 1, 2, 4],
      ['DnaBlock', 6, 192, 1, 1, 4],
      ['DnaBlock', 6, 192, 1, 1, 4],
    ],
  },
  mobile_former_508m: {
    stem: 24,
    tokens: 6,
    tokenDim: 192,
    numFeatures: 1920,
    groups: 1, dropout: 0.3,
    blocks: [
      ['DnaBlock3', 2, 24, 1, 1, 0],
      ['DnaBlock3', 6, 40, 1, 2, 4],
      ['DnaBlock', 3, 40, 1, 1, 3],
      ['DnaBlock3', 6, 72, 1, 2, 4],
      ['DnaBlock', 3, 72, 1, 1, 3],
      ['DnaBlock3', 6, 128, 1, 2, 4],
      ['DnaBlock', 4, 128, 1, 1, 4],
      ['DnaBlock', 6, 176, 1, 1, 4],
      ['DnaBlock', 6, 176, 1, 1, 4],
      ['DnaBlock3', 6, 240, 1, 2, 4],
      ['DnaBlock', 6, 240, 1, 1, 4],
      ['DnaBlock', 6, 240, 1, 1, 4],
    ],
  },
};

/** Paper / README figures per size and the Google Drive id of the official weights. */
const RELEASES: Record<string, { params: number; madds: number; top1: number; drive: string }> = {
  '26m': { params: 3.2, madds: 26, top1: 64.0, drive: '15uWYzx2VWWUjacZQHB56vOHzKxQDlp5O' },
  '52m': { params: 3.5, madds: 52, top1: 68.7, drive: '1ekq_FPl57gjIlYX16Ll0nBuEyB0pjgGt' },
  '96m': { params: 4.6, madds: 96, top1: 72.8, drive: '1kMbRceswujtliCHKr-nxMFsrkvBrEfrW' },
  '151m': { params: 7.6, madds: 151, top1: 75.2, drive: '1w4QO-zhJ8QI1zGu7iOZ7lXxYJ5G1VXdF' },
  '214m': { params: 9.4, madds: 214, top1: 76.7, drive: '13MOjdIMMBJgqyq_ld-grRhBBHOFU5Ggd' },
  '294m': { params: 11.4, madds: 294, top1: 77.9, drive: '1JBSM7NJ60fN9TgT5sMnbhmbZwrzcBd0r' },
  '508m': { params: 14.0, madds: 508, top1: 79.3, drive: '1bqLIcpbCaxK-Eb4wcxk0iJpFJ1nXfGuF' },
};

/** A size's published facts in the shape every family's spec table has. */
function releaseInfo(size: string): VariantInfo {
  const { params, madds, top1, drive } = RELEASES[size];
  return { description: `Mobile-Former-${size.toUpperCase()}`, paper: { params, madds, top1 }, url: `https://drive.google.com/file/d/${drive}`, fileName: `mobile-former-${size}.pth.tar` };
}

/**
 * timm `_cfg` of the official repo (224, crop 0.875, bilinear, ImageNet mean/std, RGB) plus the paper's
 * figures, for a size such as '26m'.
 */
export function mobileFormerPretrainedCfg(size: string): PretrainedCfg {
  const info = releaseInfo(size);
  return {
    inputSize: [224, 224],
    cropPct: 0.875,
    interpolation: 'bilinear',
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    channelOrder: 'RGB',
    numClasses: 1000,
    url: info.url,
    fileName: info.fileName,
    paper: { ...info.paper, resolution: 224 },
  };
}

// ---------------------------------------------------------------------------------------------------
// Blocks (code)
// ---------------------------------------------------------------------------------------------------

/** Mobile-Former's Linear init (`nn.init.normal_(std=0.01)`, no truncation). */
const mfLinear = (fin: number, fout: number) => new Linear(fin, fout, { init: normal(0.01) });

/** `nn.Embedding(T, D)` read as a whole: the learnt global tokens, repeated over the batch → [T·B, D]. N(0, 1), no decay. */
class Tokens extends Module {
  constructor(
    readonly t: number,
    readonly d: number,
  ) {
    super();
    this.declareParam('weight', [t, d], normal(1), { decay: false });
  }
  forward(x: Value): Value {
    const w = this.bind(x.graph, 'weight');
    return reshape(expand(reshape(w, [this.t, 1, this.d]), [this.t, x.shape[0], this.d]), [this.t * x.shape[0], this.d]);
  }
}

/** `nn.Sequential(Conv2d (no bias), BatchNorm2d, ...)`, keys `<conv>.weight`, `<bn>.*` (indices 0/1 unless given). */
class ConvBN extends Module {
  conv: Conv2d;
  bn: BatchNorm;
  constructor(cin: number, cout: number, k: number, opts: { stride?: number; groups?: number } = {}, idx: [number, number] = [0, 1]) {
    super();
    this.conv = this.add(idx[0], new Conv2d(cin, cout, k, opts));
    this.bn = this.add(idx[1], new BatchNorm(cout));
  }
  forward(x: Value): Value {
    return this.bn.call(this.conv.call(x));
  }
}

/** Token 0 of each sample, [T·B, D] → [B, D]: the first B rows (`hyper_token_id = 0`, `cls_token_num = 1`). */
const token0 = (z: Value, t: number): Value => slice(z, [0], [z.shape[0] / t], [0]);

/**
 * HyperFunc (`hyperN.hyper.{0,2}`): the Dynamic ReLU coefficients of a C-channel map from token 0,
 * h_sigmoid(Linear(ReLU(Linear(t0)))) → 2C values a = [a1 | a2]. Returns the two slopes [B, C, 1, 1]
 * a1' = (a1 - 0.5)·2 + 1 ∈ [0, 2] and a2' = (a2 - 0.5)·2 ∈ [-1, 1], computed as upstream does.
 */
class HyperFunc extends Module {
  fc1: Linear;
  fc2: Linear;
  constructor(
    d: number,
    readonly c: number,
  ) {
    super();
    this.fc1 = this.add('hyper.0', mfLinear(d, d / COMMON.hyperReduction));
    this.fc2 = this.add('hyper.2', mfLinear(d / COMMON.hyperReduction, 2 * c));
  }
  forward(t0: Value): [Value, Value] {
    const b = t0.shape[0];
    const c = this.c;
    const a = mul(sub(hardSigmoid(this.fc2.call(relu(this.fc1.call(t0)))), 0.5), COMMON.dyScale);
    const a1 = reshape(add(slice(a, [0], [c], [1]), 1), [b, c, 1, 1]);
    const a2 = reshape(slice(a, [c], [2 * c], [1]), [b, c, 1, 1]);
    return [a1, a2];
  }
}

/** Dynamic ReLU (K = 2, slopes only): y = max(x·a1', x·a2'), applied straight to the BN output. */
const dyRelu = (x: Value, [a1, a2]: [Value, Value]): Value => maximum(mul(x, a1), mul(x, a2));

/**
 * Mobile→Former bridge (`local_global`, Local2Global with 'attn', dynamic, remove_proj_local): the
 * tokens attend over the pixels of x with 2 heads; k = v = x itself (channels split contiguously),
 * q = `q`(tokens). The result is scaled channel-wise by 2·h_sigmoid(`alpha.0`(tokens)), projected to D
 * by `proj`, and added to the tokens under a post-LayerNorm.
 */
class MobileToFormer extends Module {
  alpha: Linear;
  q: Linear;
  proj: Linear;
  norm: LayerNorm;
  constructor(
    readonly c: number,
    d: number,
  ) {
    super();
    this.alpha = this.add('alpha.0', mfLinear(d, c));
    this.q = this.add('q', mfLinear(d, c));
    this.proj = this.add('proj', mfLinear(c, d));
    this.norm = this.add('layer_norm', new LayerNorm(d));
  }
  forward(x: Value, z: Value): Value {
    const [b, c, h, w] = x.shape;
    const t = z.shape[0] / b;
    const nh = COMMON.bridgeHeads;
    const dh = c / nh;
    const q = transpose(reshape(mul(this.q.call(z), dh ** -0.5), [t, b, nh, dh]), [1, 2, 0, 3]); // [B, nh, T, dh]
    const k = reshape(x, [b, nh, dh, h * w]); // [B, nh, dh, HW], also v
    const attn = tap('mobile_to_former', softmax(matmul(q, k), -1), { h, w }); // [B, nh, T, HW]
    const o = matmul(attn, transpose(k, [0, 1, 3, 2])); // [B, nh, T, dh]
    const heads = reshape(transpose(o, [2, 0, 1, 3]), [t * b, c]);
    const alpha = mul(hardSigmoid(this.alpha.call(z)), COMMON.dyScale);
    return this.norm.call(add(z, this.proj.call(mul(heads, alpha))));
  }
}

/**
 * Former (`global_block`, GlobalBlock with 'attn' and FFN, post-norm): 4-head self-attention among the
 * tokens where only q is projected (k = v = tokens), output `channel_mlp`, LayerNorm; then the
 * D→2D→D GELU FFN with its own LayerNorm.
 */
class Former extends Module {
  ffn1: Linear;
  ffn2: Linear;
  ffnNorm: LayerNorm;
  q: Linear;
  out: Linear;
  norm: LayerNorm;
  constructor(
    readonly t: number,
    readonly d: number,
  ) {
    super();
    this.ffn1 = this.add('ffn.0', mfLinear(d, d * COMMON.ffnExp));
    this.ffn2 = this.add('ffn.2', mfLinear(d * COMMON.ffnExp, d));
    this.ffnNorm = this.add('ffn_norm', new LayerNorm(d));
    this.q = this.add('q', mfLinear(d, d));
    this.out = this.add('channel_mlp', mfLinear(d, d));
    this.norm = this.add('layer_norm', new LayerNorm(d));
  }
  forward(z: Value): Value {
    const { t, d } = this;
    const b = z.shape[0] / t;
    const nh = COMMON.formerHeads;
    const dh = d / nh;
    const split = (v: Value) => reshape(v, [t, b, nh, dh]);
    const q = transpose(split(mul(this.q.call(z), dh ** -0.5)), [1, 2, 0, 3]); // [B, nh, T, dh]
    const kv = transpose(split(z), [1, 2, 0, 3]);
    const kvT = transpose(split(z), [1, 2, 3, 0]); // [B, nh, dh, T]
    const attn = softmax(matmul(q, kvT), -1); // [B, nh, T, T]
    const o = reshape(transpose(matmul(attn, kv), [2, 0, 1, 3]), [t * b, d]);
    z = this.norm.call(add(z, this.out.call(o)));
    return this.ffnNorm.call(add(z, this.ffn2.call(gelu(this.ffn1.call(z)))));
  }
}

/**
 * Softmax over axis 2 of [B, nh, T, HW] (the few tokens), max-subtracted, without moving T last: the
 * max is a chain of elementwise maxima over the T slices (ORT's Softmax would transpose twice).
 */
function softmaxOverTokens(s: Value): Value {
  const t = s.shape[2];
  let m = slice(s, [0], [1], [2]);
  for (let i = 1; i < t; i++) m = maximum(m, slice(s, [i], [i + 1], [2]));
  const e = exp(sub(s, m));
  return div(e, reduceSum(e, [2], true));
}

/**
 * Former→Mobile bridge (`global_local`, Global2Local with 'attn', remove_proj_local): every pixel of y
 * (q = y itself, 2 heads split contiguously along channels) attends over the tokens with k = `k`(tokens)
 * and v = `proj`(tokens); the result is added to y (no norm, no output projection).
 *
 * Computed channel-major, [B, heads, T, HW], so the feature map is never transposed: the scores are
 * kᵀ·y, the softmax runs over the token axis, and the output vᵀ·attn is already NCHW.
 */
class FormerToMobile extends Module {
  k: Linear;
  v: Linear;
  constructor(
    readonly c: number,
    d: number,
  ) {
    super();
    this.k = this.add('k', mfLinear(d, c));
    this.v = this.add('proj', mfLinear(d, c));
  }
  forward(y: Value, z: Value): Value {
    const [b, c, h, w] = y.shape;
    const t = z.shape[0] / b;
    const nh = COMMON.bridgeHeads;
    const dh = c / nh;
    const k = transpose(reshape(mul(this.k.call(z), dh ** -0.5), [t, b, nh, dh]), [1, 2, 0, 3]); // [B, nh, T, dh]
    const v = transpose(reshape(this.v.call(z), [t, b, nh, dh]), [1, 2, 3, 0]); // [B, nh, dh, T]
    const attn = tap('former_to_mobile', softmaxOverTokens(matmul(k, reshape(y, [b, nh, dh, h * w]))), { h, w }); // [B, nh, T, HW], softmax over T
    return add(y, reshape(matmul(v, attn), [b, c, h, w]));
  }
}

interface BlockArgs {
  cin: number;
  cout: number;
  stride: number;
  e1: number;
  e2: number;
  groups: number;
  tokens: number;
  tokenDim: number;
}

/** A Mobile-Former block: (features [B,C,H,W], tokens [B,T,D]) → (features, tokens). */
abstract class MFBlock extends Module {
  abstract override forward(x: Value, z: Value): [Value, Value];
}

/**
 * bneck-lite (`DnaBlock3`/`DnaBlock` with e2 = 0 or e1 = 1, keys `conv.{0,1,4,5}`): 3x3 depthwise
 * expand by e1 (stride s), BN, ReLU6, [ChannelShuffle(in)], grouped 1x1 projection, BN, + x when the
 * shape is kept. No bridge: the tokens pass through.
 */
class BneckLite extends MFBlock {
  dw: ConvBN;
  pw: ConvBN;
  readonly identity: boolean;
  constructor(readonly a: BlockArgs) {
    super();
    const hid = a.cin * a.e1;
    this.dw = this.add('conv', new ConvBN(a.cin, hid, 3, { stride: a.stride, groups: a.cin }, [0, 1]));
    this.pw = this.add('conv', new ConvBN(hid, a.cout, 1, { groups: a.groups }, [4, 5]));
    this.identity = a.stride === 1 && a.cin === a.cout;
  }
  forward(x: Value, z: Value): [Value, Value] {
    let h = relu6(this.dw.call(x));
    if (this.a.groups > 1) h = channelShuffle(h, this.a.cin);
    h = this.pw.call(h);
    return [this.identity ? add(h, x) : h, z];
  }
}

/**
 * Mobile-Former block, stride 1 (`DnaBlock`): Mobile→Former and Former update the tokens; then
 * 1x1 (grouped) expand + BN [+ shuffle] + DyReLU, 3x3 depthwise + BN + DyReLU, 1x1 (grouped) project
 * + BN [+ shuffle]; + x when the shape is kept (before the bridge); then Former→Mobile.
 */
class DnaBlock extends MFBlock {
  conv1: ConvBN;
  hyper1: HyperFunc;
  conv2: ConvBN;
  hyper2: HyperFunc;
  conv3: ConvBN;
  l2g: MobileToFormer;
  former: Former;
  g2l: FormerToMobile;
  readonly identity: boolean;
  constructor(readonly a: BlockArgs) {
    super();
    const hid = Math.round(a.cin * a.e1);
    this.conv1 = this.add('conv1', new ConvBN(a.cin, hid, 1, { groups: a.groups }));
    this.hyper1 = this.add('hyper1', new HyperFunc(a.tokenDim, hid));
    this.conv2 = this.add('conv2', new ConvBN(hid, hid, 3, { stride: a.stride, groups: hid }));
    this.hyper2 = this.add('hyper2', new HyperFunc(a.tokenDim, hid));
    this.conv3 = this.add('conv3', new ConvBN(hid, a.cout, 1, { groups: a.groups }));
    this.l2g = this.add('local_global', new MobileToFormer(a.cin, a.tokenDim));
    this.former = this.add('global_block', new Former(a.tokens, a.tokenDim));
    this.g2l = this.add('global_local', new FormerToMobile(a.cout, a.tokenDim));
    this.identity = a.stride === 1 && a.cin === a.cout;
  }
  forward(x: Value, z: Value): [Value, Value] {
    const g = this.a.groups;
    z = this.former.call(this.l2g.call(x, z));
    const t0 = token0(z, this.a.tokens);
    let h = dyRelu(channelShuffle(this.conv1.call(x), g), this.hyper1.call(t0));
    h = dyRelu(this.conv2.call(h), this.hyper2.call(t0));
    h = channelShuffle(this.conv3.call(h), g);
    if (this.identity) h = add(h, x);
    return [this.g2l.call(h, z), z];
  }
}

/**
 * Mobile-Former↓ block (`DnaBlock3`, dw→pw→dw→pw, used with stride 2): after Mobile→Former and the
 * Former, 3x3 depthwise expand by e1 (stride s) + BN [+ ChannelShuffle(in)] + DyReLU; 1x1 (grouped) to
 * out + BN = y0; 3x3 depthwise expand by e2 + BN [+ ChannelShuffle(out)] + DyReLU; 1x1 (grouped) + BN;
 * + y0; Former→Mobile; + x when the shape is kept (after the bridge).
 */
class DnaBlock3 extends MFBlock {
  conv1: ConvBN;
  hyper1: HyperFunc;
  conv2: ConvBN;
  conv3: ConvBN;
  hyper3: HyperFunc;
  conv4: ConvBN;
  l2g: MobileToFormer;
  former: Former;
  g2l: FormerToMobile;
  readonly identity: boolean;
  constructor(readonly a: BlockArgs) {
    super();
    const hid1 = Math.round(a.cin * a.e1);
    const hid2 = Math.round(a.cout * a.e2);
    this.conv1 = this.add('conv1', new ConvBN(a.cin, hid1, 3, { stride: a.stride, groups: a.cin }));
    this.hyper1 = this.add('hyper1', new HyperFunc(a.tokenDim, hid1));
    this.conv2 = this.add('conv2', new ConvBN(hid1, a.cout, 1, { groups: a.groups }));
    this.conv3 = this.add('conv3', new ConvBN(a.cout, hid2, 3, { groups: a.cout }));
    this.hyper3 = this.add('hyper3', new HyperFunc(a.tokenDim, hid2));
    this.conv4 = this.add('conv4', new ConvBN(hid2, a.cout, 1, { groups: a.groups }));
    this.l2g = this.add('local_global', new MobileToFormer(a.cin, a.tokenDim));
    this.former = this.add('global_block', new Former(a.tokens, a.tokenDim));
    this.g2l = this.add('global_local', new FormerToMobile(a.cout, a.tokenDim));
    this.identity = a.stride === 1 && a.cin === a.cout;
  }
  forward(x: Value, z: Value): [Value, Value] {
    const shuffled = this.a.groups > 1;
    z = this.former.call(this.l2g.call(x, z));
    const t0 = token0(z, this.a.tokens);
    let h = this.conv1.call(x);
    if (shuffled) h = channelShuffle(h, this.a.cin);
    const y0 = this.conv2.call(dyRelu(h, this.hyper1.call(t0)));
    h = this.conv3.call(y0);
    if (shuffled) h = channelShuffle(h, this.a.cout);
    h = add(this.conv4.call(dyRelu(h, this.hyper3.call(t0))), y0);
    h = this.g2l.call(h, z);
    return [this.identity ? add(h, x) : h, z];
  }
}

/**
 * MergeClassifier (`classifier.*`): [ChannelShuffle(g)] + grouped 1x1 expand ×6 + BN (`conv.1`,
 * `conv.2`; slot 0 is the shuffle), ReLU6, global average pool, h_swish; concat [pooled, token 0];
 * `fc.0` Linear + `fc.1` BatchNorm1d + h_swish (the pre-logits); dropout (train steps with dropout on) and
 * `classifier.1` Linear.
 */
class MergeClassifier extends Module {
  conv: ConvBN;
  fc: Linear;
  fcNorm: BatchNorm;
  head: Linear;
  constructor(
    cin: number,
    readonly groups: number,
    readonly tokens: number,
    tokenDim: number,
    numFeatures: number,
    numClasses: number,
    readonly dropRate: number,
  ) {
    super();
    const hid = cin * COMMON.lastExp;
    this.conv = this.add('conv', new ConvBN(cin, hid, 1, { groups }, [1, 2]));
    this.fc = this.add('fc.0', mfLinear(hid + tokenDim, numFeatures));
    this.fcNorm = this.add('fc.1', new BatchNorm(numFeatures));
    this.head = this.add('classifier.1', mfLinear(numFeatures, numClasses));
  }
  forward(x: Value, z: Value): { logits: Value; preLogits: Value } {
    const y = relu6(this.conv.call(channelShuffle(x, this.groups)));
    const pooled = hardSwish(reduceMean(y, [2, 3], false));
    const preLogits = hardSwish(this.fcNorm.call(this.fc.call(concat([pooled, token0(z, this.tokens)], 1))));
    return { logits: this.head.call(dropout(preLogits, this.dropRate, 'classifier')), preLogits };
  }
}

/** [T·B, D] rows → upstream's [T, B, D] (feature outputs only). */
const tokenMajor = (z: Value, t: number): Value => reshape(z, [t, z.shape[0] / t, z.shape[1]]);

export class MobileFormer extends Module implements Network {
  tokens: Tokens;
  stem: ConvBN;
  blocks: MFBlock[];
  /** Absent in a headless body (numClasses null: a detector's backbone, whose state dict stops at `features`). */
  l2g: MobileToFormer | null = null;
  classifier: MergeClassifier | null = null;
  /** Each block's output stride (the stem's 2 × the block strides so far). */
  readonly outStrides: number[];
  /** Each block's output channels. */
  readonly outChannels: number[] = [];
  /** For each block, the stage K (1, 2, … in order of resolution) it ends, or 0 when it does not end one. */
  readonly stageEnd: number[];

  constructor(
    readonly cfg: MobileFormerConfig,
    readonly numClasses: number | null,
  ) {
    super();
    this.tokens = this.add('tokens', new Tokens(cfg.tokens, cfg.tokenDim));
    this.stem = this.add('stem', new ConvBN(3, cfg.stem, 3, { stride: 2 }));
    this.blocks = [];
    const strides: number[] = [];
    let cin = cfg.stem;
    let outStride = 2;
    for (const [kind, e1, c, n, s, e2] of cfg.blocks) {
      const cout = makeDivisible(c, COMMON.divisor);
      for (let r = 0; r < n; r++) {
        const a: BlockArgs = { cin, cout, stride: r === 0 ? s : 1, e1, e2, groups: cfg.groups, tokens: cfg.tokens, tokenDim: cfg.tokenDim };
        const block = e1 === 1 || e2 === 0 ? new BneckLite(a) : kind === 'DnaBlock3' ? new DnaBlock3(a) : new DnaBlock(a);
        this.blocks.push(this.add(`features.${this.blocks.length}`, block));
        outStride *= a.stride;
        strides.push(outStride);
        this.outChannels.push(cout);
        cin = cout;
      }
    }
    // out_stageK: the last block of the K-th resolution the blocks run at (golden README: for 26m/52m
    // stage 1 is 1/4; where the first block keeps the stem's 1/2, as in 96m…508m, that is stage 1).
    let stage = 0;
    this.stageEnd = strides.map((st, i) => (strides[i + 1] !== st ? ++stage : 0));
    this.outStrides = strides;
    if (numClasses === null) return;
    this.l2g = this.add('local_global', new MobileToFormer(cin, cfg.tokenDim));
    this.classifier = this.add('classifier', new MergeClassifier(cin, cfg.groups, cfg.tokens, cfg.tokenDim, cfg.numFeatures, numClasses, cfg.dropout));
  }

  /**
   * Tokens, stem and every block: each block's feature map and tokens ([T·B, D] rows) in order. The
   * tokens run alongside the maps as in the classifier; a detector taps the maps.
   */
  runBlocks(x: Value): { maps: Value[]; tokens: Value[]; stem: Value } {
    let z = this.tokens.call(x);
    let y = relu6(this.stem.call(x));
    const stem = y;
    const maps: Value[] = [];
    const tokens: Value[] = [];
    for (const block of this.blocks) {
      [y, z] = block.call(y, z);
      maps.push(y);
      tokens.push(z);
    }
    return { maps, tokens, stem };
  }

  /**
   * features: out_stage0 (stem); out_blockI and out_blockI_tokens after every block; out_stageK /
   * out_stageK_tokens for the last block of each resolution, K = 1, 2, …; out_final_tokens after the
   * final Mobile→Former bridge. preLogits: the h_swish(BN(fc.0)) vector [B, numFeatures] that feeds
   * the final Linear `classifier.classifier.1`.
   */
  forward(x: Value): NetworkOutput {
    if (!this.l2g || !this.classifier) throw new Error('a headless Mobile-Former body has no classifier: use runBlocks');
    const features: NetworkOutput['features'] = [];
    const { maps, tokens, stem } = this.runBlocks(x);
    features.push({ name: 'out_stage0', value: stem });
    maps.forEach((y, i) => {
      const t = tokenMajor(tokens[i], this.cfg.tokens);
      features.push({ name: `out_block${i}`, value: y }, { name: `out_block${i}_tokens`, value: t });
      const k = this.stageEnd[i];
      if (k) features.push({ name: `out_stage${k}`, value: y }, { name: `out_stage${k}_tokens`, value: t });
    });
    const y = maps[maps.length - 1];
    const z = this.l2g.call(y, tokens[tokens.length - 1]);
    features.push({ name: 'out_final_tokens', value: tokenMajor(z, this.cfg.tokens) });
    const { logits, preLogits } = this.classifier.call(y, z);
    return { logits, features, preLogits };
  }
}

/** The registry entries, smallest first. */
export const MOBILE_FORMER_SPECS: ModelSpec[] = Object.entries(MOBILE_FORMER_CFGS).map(([name, cfg]) => {
  const size = name.slice('mobile_former_'.length);
  return {
    name,
    family: 'mobile_former',
    description: releaseInfo(size).description,
    cfg: mobileFormerPretrainedCfg(size),
    build: (numClasses: number) => new MobileFormer(cfg, numClasses),
    headPrefixes: ['classifier.'],
    classifierKey: 'classifier.classifier.1.weight',
  };
});
