/**
 * MobileViTv2 and the v2-based MobileViTv3 (0.5 / 0.75 / 1.0), as in CVNets v0.2 with the
 * MobileViTv3 block files. Widths follow from the width multiplier. Keys: conv_1, layer_1..5,
 * classifier.1.
 */
import type { Graph, Value } from '../graph/ir.js';
import { add, mul, relu } from '../graph/ops/elementwise.js';
import { matmul } from '../graph/ops/matmul.js';
import { reduceSum } from '../graph/ops/reduce.js';
import { concat, reshape, slice } from '../graph/ops/shape.js';
import { softmax } from '../graph/ops/softmax.js';
import { linear, resizeBilinear, silu } from '../nn/functional.js';
import { layerNorm } from '../graph/ops/norm.js';
import { fold, unfold } from '../nn/patches.js';
import { Conv2d, Linear } from '../nn/layers.js';
import { Module, ones, zeros } from '../nn/module.js';
import { CVNETS_ASSETS, ConvLayer, CvnetsClassifier, InvertedResidual, MV3_RELEASE, cvnetsSpec, makeDivisible, mitLayerDilations, type EncoderOptions } from './cvnets_layers.js';
import type { ModelSpec, VariantInfo } from './types.js';

export interface MobileViTv2Config {
  block: 'v2' | 'v3';
  width: number;
}

/** One row per variant. */
export const MOBILEVIT_V2_CFGS: Record<string, MobileViTv2Config> = {
  'mobilevitv3_0.5': { block: 'v3', width: 0.5 },
  'mobilevitv3_0.75': { block: 'v3', width: 0.75 },
  'mobilevitv3_1.0': { block: 'v3', width: 1.0 },
  'mobilevitv2_0.5': { block: 'v2', width: 0.5 },
  'mobilevitv2_0.75': { block: 'v2', width: 0.75 },
  'mobilevitv2_1.0': { block: 'v2', width: 1.0 },
  'mobilevitv2_1.25': { block: 'v2', width: 1.25 },
  'mobilevitv2_1.5': { block: 'v2', width: 1.5 },
  'mobilevitv2_1.75': { block: 'v2', width: 1.75 },
  'mobilevitv2_2.0': { block: 'v2', width: 2.0 },
};

/** The CVNets v0.2 width formulas. */
export function mobilevitV2Widths(w: number) {
  const stem = makeDivisible(Math.min(Math.max(32 * w, 16), 64), 8);
  const stage = (c: number, d: number, depth: number) => {
    const dd = makeDivisible(d * w, 8);
    return { c: makeDivisible(c * w, 8), d: dd, ffn: Math.floor((2 * dd) / 16) * 16, depth };
  };
  return {
    stem,
    layer1: makeDivisible(64 * w, 16),
    layer2: makeDivisible(128 * w, 8),
    stages: [stage(256, 128, 2), stage(384, 192, 4), stage(512, 256, 3)],
  };
}

/**
 * A 1x1 conv with bias (keys `<name>.block.conv.{weight [out, in, 1, 1], bias}`) applied to tokens
 * [M, in] as one Gemm: the transformer part runs channels-last.
 */
class Pointwise extends Module {
  conv: Conv2d;
  constructor(
    readonly cin: number,
    readonly cout: number,
  ) {
    super();
    this.conv = this.add('block.conv', new Conv2d(cin, cout, 1, { bias: true }));
  }
  /**
   * tokens [M, in] → [M, to − from]: output channels [from, to) only. With `pre`, the layer reads
   * x·scale + shift (a per-input-channel affine, folded into its weight and bias).
   */
  forward(x: Value, from = 0, to = this.cout, pre?: Affine): Value {
    const [w4, b4] = this.conv.weights(x.graph);
    let w = slice(reshape(w4, [this.cout, this.cin]), [from], [to], [0]);
    let b = slice(b4!, [from], [to], [0]);
    if (pre) {
      b = add(b, reshape(matmul(w, reshape(pre.shift, [this.cin, 1])), [to - from]));
      w = mul(w, pre.scale);
    }
    return linear(x, w, b);
  }
}

/** A per-channel affine x·scale + shift, [d] each. */
interface Affine {
  scale: Value;
  shift: Value;
}

/** GroupNorm(1, d) over a sample's tokens [B*P*N, d]: statistics over all of P, N and d jointly. */
class TokenGroupNorm extends Module {
  constructor(readonly d: number) {
    super();
    this.declareParam('weight', [d], ones, { decay: false });
    this.declareParam('bias', [d], zeros, { decay: false });
  }
  /** x: tokens [B*P*N, d] of `b` samples. */
  forward(x: Value, b: number): Value {
    const { scale, shift } = this.affine(x.graph);
    return add(mul(this.normalize(x, b), scale), shift);
  }
  /** The statistics part alone: zero mean and unit variance per sample. */
  normalize(x: Value, b: number): Value {
    return reshape(layerNorm(reshape(x, [b, -1]), null, null, 1, 1e-5), [...x.shape]);
  }
  /** The per-channel affine that follows normalize. */
  affine(g: Graph): Affine {
    return { scale: this.bind(g, 'weight'), shift: this.bind(g, 'bias') };
  }
}

/** Separable self-attention: softmax over patches of a 1-channel query weights the keys into one context vector. */
class LinearSelfAttention extends Module {
  qkv: Pointwise;
  out: Pointwise;
  constructor(readonly d: number) {
    super();
    this.qkv = this.add('qkv_proj', new Pointwise(d, 1 + 2 * d));
    this.out = this.add('out_proj', new Pointwise(d, d));
  }
  /** x: tokens [B*P*N, d] laid out as [B, P, N]; `pre`: an affine the qkv projection reads x through. */
  forward(x: Value, b: number, pre?: Affine): Value {
    const d = this.d;
    const n = x.shape[0] / (b * 4);
    const scores = softmax(reshape(this.qkv.call(x, 0, 1, pre), [b, 4, n, 1]), 2);
    const k = reshape(this.qkv.call(x, 1, 1 + d, pre), [b, 4, n, d]);
    const v = reshape(this.qkv.call(x, 1 + d, 1 + 2 * d, pre), [b, 4, n, d]);
    const ctx = reduceSum(mul(k, scores), [2], true); // [B, P, 1, d]
    return this.out.call(reshape(mul(relu(v), ctx), [b * 4 * n, d]));
  }
}

/** LinearAttnFFN: x += attn(GN(x)); x += FFN(GN(x)). Keys pre_norm_attn.{0,1}, pre_norm_ffn.{0,1,3}. */
class LinearAttnFFN extends Module {
  n1: TokenGroupNorm;
  attn: LinearSelfAttention;
  n2: TokenGroupNorm;
  fc1: Pointwise;
  fc2: Pointwise;
  constructor(d: number, ffn: number) {
    super();
    this.n1 = this.add('pre_norm_attn.0', new TokenGroupNorm(d));
    this.attn = this.add('pre_norm_attn.1', new LinearSelfAttention(d));
    this.n2 = this.add('pre_norm_ffn.0', new TokenGroupNorm(d));
    this.fc1 = this.add('pre_norm_ffn.1', new Pointwise(d, ffn));
    this.fc2 = this.add('pre_norm_ffn.3', new Pointwise(ffn, d));
  }
  forward(x: Value, b: number): Value {
    // Each GroupNorm's affine is folded into the 1x1 projection that reads it (columns of its weight
    // scaled by γ, β through its bias): two full-size passes fewer per norm. Batch 1: 0.5 1.02-1.03x,
    // 0.75 and 1.0 1.01x; the training step the same (tools/ab_inference.js, ab_train_step.js).
    const g = x.graph;
    x = add(x, this.attn.call(this.n1.normalize(x, b), b, this.n1.affine(g)));
    return add(x, this.fc2.call(silu(this.fc1.call(this.n2.normalize(x, b), 0, undefined, this.n2.affine(g)))));
  }
}

/** MobileViTv2 block (v2) and v2-based MobileViTv3 block (v3: global||local fusion plus input residual). */
class MobileViTv2Block extends Module {
  dw: ConvLayer;
  proj1x1: ConvLayer;
  layers: LinearAttnFFN[];
  finalNorm: TokenGroupNorm;
  convProj: ConvLayer;
  constructor(
    readonly kind: 'v2' | 'v3',
    c: number,
    st: { d: number; ffn: number; depth: number },
    dilation = 1,
  ) {
    super();
    this.dw = this.add('local_rep.0', new ConvLayer(c, c, 3, { groups: c, dilation }));
    this.proj1x1 = this.add('local_rep.1', new ConvLayer(c, st.d, 1, { norm: false, act: false }));
    this.layers = Array.from({ length: st.depth }, (_, i) => this.add(`global_rep.${i}`, new LinearAttnFFN(st.d, st.ffn)));
    this.finalNorm = this.add(`global_rep.${st.depth}`, new TokenGroupNorm(st.d));
    this.convProj = this.add('conv_proj', new ConvLayer(kind === 'v3' ? 2 * st.d : st.d, c, 1, { act: false }));
  }
  forward(x: Value): Value {
    const [b, , h0, w0] = x.shape;
    const h = Math.ceil(h0 / 2) * 2;
    const w = Math.ceil(w0 / 2) * 2;
    if (h !== h0 || w !== w0) x = resizeBilinear(x, h, w, true);
    const local = this.proj1x1.call(this.dw.call(x));
    let p = unfold(local);
    for (const l of this.layers) p = l.call(p, b);
    p = this.finalNorm.call(p, b);
    const fm = fold(p, b, h, w);
    if (this.kind === 'v2') return this.convProj.call(fm);
    return add(this.convProj.call(concat([fm, local], 1)), x);
  }
}

export class MobileViTv2 extends CvnetsClassifier {
  readonly outChannels: number;
  /** Output channels of conv_1 and layer_1..5 (out_l0 … out_l5). */
  readonly levelChannels: number[];
  constructor(
    readonly cfg: MobileViTv2Config,
    readonly numClasses: number,
    opts: EncoderOptions = {},
  ) {
    super();
    const W = mobilevitV2Widths(cfg.width);
    this.stem = this.add('conv_1', new ConvLayer(3, W.stem, 3, { stride: 2 }));
    this.stage([new InvertedResidual(W.stem, W.layer1, 1, 2)]);
    this.stage([0, 1].map((i) => new InvertedResidual(i === 0 ? W.layer1 : W.layer2, W.layer2, i === 0 ? 2 : 1, 2)));
    let cin = W.layer2;
    // cvnets v0.2 passes the layer's (doubled) dilation to the block's depthwise conv
    const dil = mitLayerDilations(opts.outputStride ?? 32);
    W.stages.forEach((st, i) => {
      this.stage([new InvertedResidual(cin, st.c, dil[i].stride, 2, dil[i].mv2Dilation), new MobileViTv2Block(cfg.block, st.c, st, dil[i].blockDilation)]);
      cin = st.c;
    });
    this.outChannels = cin;
    this.levelChannels = [W.stem, W.layer1, W.layer2, ...W.stages.map((st) => st.c)];
    if (opts.headless) return;
    this.fc = this.add('classifier.1', new Linear(cin, numClasses));
  }
}

const mv3 = (width: string, params: number, madds: number, top1: number, dir: string): VariantInfo => ({
  description: `MobileViTv3-${width}`,
  paper: { params, madds, top1 },
  url: MV3_RELEASE,
  fileName: `${dir}/checkpoint_ema_best.pt`,
});
const v2 = (width: string, params: number, madds: number, top1: number): VariantInfo => ({
  description: `MobileViTv2-${width} (baseline)`,
  paper: { params, madds, top1 },
  url: `${CVNETS_ASSETS}-v2/classification/mobilevitv2/imagenet1k/256x256/mobilevitv2-${width}.pt`,
  fileName: `mobilevitv2-${width}.pt`,
});

/** Published facts per variant, in listing order (MAdds/top-1 0: not published). */
const RELEASES: Record<string, VariantInfo> = {
  'mobilevitv3_0.5': mv3('0.5', 1.4, 481, 72.33, 'mobilevitv3_0_5_0'),
  'mobilevitv3_0.75': mv3('0.75', 3.0, 1064, 76.55, 'mobilevitv3_0_7_5'),
  'mobilevitv3_1.0': mv3('1.0', 5.1, 1876, 78.64, 'mobilevitv3_1_0_0'),
  'mobilevitv2_0.5': v2('0.5', 1.4, 465, 70.18),
  'mobilevitv2_0.75': v2('0.75', 2.9, 1028, 75.56),
  'mobilevitv2_1.0': v2('1.0', 4.9, 1812, 78.09),
  'mobilevitv2_1.25': v2('1.25', 7.5, 0, 0),
  'mobilevitv2_1.5': v2('1.5', 10.6, 0, 0),
  'mobilevitv2_1.75': v2('1.75', 14.3, 0, 0),
  'mobilevitv2_2.0': v2('2.0', 18.4, 0, 0),
};

/** The registry entries of MobileViTv2 and the v2-based MobileViTv3. */
export const MOBILEVIT_V2_SPECS: ModelSpec[] = Object.entries(RELEASES).map(([name, info]) =>
  cvnetsSpec(name, name.startsWith('mobilevitv3') ? 'mobilevitv3' : 'mobilevitv2', info, { channelOrder: 'RGB', interpolation: 'bicubic' }, 'classifier.1.weight', (n) => new MobileViTv2(MOBILEVIT_V2_CFGS[name], n)),
);
