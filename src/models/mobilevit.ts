/**
 * MobileViT v1 and the v1-based MobileViTv3 (XXS/XS/S and their L2 forms), as in CVNets v0.1 with
 * the MobileViTv3 block files. Keys: conv_1, layer_1..5, conv_1x1_exp, classifier.fc.
 */
import type { Value } from '../graph/ir.js';
import { add } from '../graph/ops/elementwise.js';
import { dropout } from '../graph/ops/dropout.js';
import { concat } from '../graph/ops/shape.js';
import { selfAttention } from '../nn/attention.js';
import { resizeBilinear, silu } from '../nn/functional.js';
import { fold, foldThrough1x1, unfold } from '../nn/patches.js';
import { LayerNorm, Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { CVNETS_ASSETS, ConvLayer, CvnetsClassifier, InvertedResidual, MV3_RELEASE, cvnetsSpec, mitLayerDilations, type EncoderOptions } from './cvnets_layers.js';
import type { ModelSpec, VariantInfo } from './types.js';

export interface MobileViTStage {
  /** stage output channels C, transformer dim d, FFN dim, transformer depth L */
  c: number;
  d: number;
  ffn: number;
  depth: number;
}
export interface MobileViTConfig {
  block: 'v1' | 'v3';
  mv2Expand: number;
  layer1: number;
  layer2: number;
  stages: [MobileViTStage, MobileViTStage, MobileViTStage];
  heads: number;
  /** Transformer (after attention and FFN) and classifier dropout of the official recipe. */
  dropout: number;
  classifierDropout: number;
}

const s = (c: number, d: number, ffn: number, depth: number): MobileViTStage => ({ c, d, ffn, depth });

/** One row per variant (CVNets `mobilevit.py` modes; v3 widens only the stage outputs C). */
export const MOBILEVIT_CFGS: Record<string, MobileViTConfig> = {
  mobilevit_xxs: { block: 'v1', mv2Expand: 2, layer1: 16, layer2: 24, stages: [s(48, 64, 128, 2), s(64, 80, 160, 4), s(80, 96, 192, 3)], heads: 4, dropout: 0.05, classifierDropout: 0.1 },
  mobilevit_xs: { block: 'v1', mv2Expand: 4, layer1: 32, layer2: 48, stages: [s(64, 96, 192, 2), s(80, 120, 240, 4), s(96, 144, 288, 3)], heads: 4, dropout: 0.1, classifierDropout: 0.1 },
  mobilevit_s: { block: 'v1', mv2Expand: 4, layer1: 32, layer2: 64, stages: [s(96, 144, 288, 2), s(128, 192, 384, 4), s(160, 240, 480, 3)], heads: 4, dropout: 0.1, classifierDropout: 0.1 },
  mobilevitv3_xxs: { block: 'v3', mv2Expand: 2, layer1: 16, layer2: 24, stages: [s(64, 64, 128, 2), s(80, 80, 160, 4), s(128, 96, 192, 3)], heads: 4, dropout: 0.05, classifierDropout: 0.1 },
  mobilevitv3_xs: { block: 'v3', mv2Expand: 4, layer1: 32, layer2: 48, stages: [s(96, 96, 192, 2), s(160, 120, 240, 4), s(160, 144, 288, 3)], heads: 4, dropout: 0.1, classifierDropout: 0.1 },
  mobilevitv3_s: { block: 'v3', mv2Expand: 4, layer1: 32, layer2: 64, stages: [s(128, 144, 288, 2), s(256, 192, 384, 4), s(320, 240, 480, 3)], heads: 4, dropout: 0.1, classifierDropout: 0.1 },
  mobilevitv3_xxs_l2: { block: 'v3', mv2Expand: 2, layer1: 16, layer2: 24, stages: [s(64, 64, 128, 2), s(80, 80, 160, 2), s(128, 96, 192, 3)], heads: 4, dropout: 0.05, classifierDropout: 0.1 },
  mobilevitv3_xs_l2: { block: 'v3', mv2Expand: 4, layer1: 32, layer2: 48, stages: [s(96, 96, 192, 2), s(160, 120, 240, 2), s(160, 144, 288, 3)], heads: 4, dropout: 0.1, classifierDropout: 0.1 },
  mobilevitv3_s_l2: { block: 'v3', mv2Expand: 4, layer1: 32, layer2: 64, stages: [s(128, 144, 288, 2), s(256, 192, 384, 2), s(320, 240, 480, 3)], heads: 4, dropout: 0.1, classifierDropout: 0.1 },
};

/** CVNets MultiHeadAttention: fused [q | k | v] projection `qkv_proj`, attention, `out_proj`. */
class MultiHeadAttention extends Module {
  qkv: Linear;
  out: Linear;
  constructor(
    readonly d: number,
    readonly heads: number,
  ) {
    super();
    this.qkv = this.add('qkv_proj', new Linear(d, 3 * d));
    this.out = this.add('out_proj', new Linear(d, d));
  }
  /** x: tokens [G*N, d], attention within each of the G groups. */
  forward(x: Value, groups: number): Value {
    const [w, b] = this.qkv.weights(x.graph);
    const [wOut, bOut] = this.out.weights(x.graph);
    return selfAttention(x, w, b!, wOut, bOut!, groups, this.heads);
  }
}

/** CVNets TransformerEncoder: x += MHA(LN(x)); x += FFN(LN(x)). Keys pre_norm_mha.{0,1}, pre_norm_ffn.{0,1,4}. */
class TransformerEncoder extends Module {
  ln1: LayerNorm;
  mha: MultiHeadAttention;
  ln2: LayerNorm;
  fc1: Linear;
  fc2: Linear;
  constructor(
    d: number,
    ffn: number,
    heads: number,
    readonly drop: number,
  ) {
    super();
    this.ln1 = this.add('pre_norm_mha.0', new LayerNorm(d));
    this.mha = this.add('pre_norm_mha.1', new MultiHeadAttention(d, heads));
    this.ln2 = this.add('pre_norm_ffn.0', new LayerNorm(d));
    this.fc1 = this.add('pre_norm_ffn.1', new Linear(d, ffn));
    this.fc2 = this.add('pre_norm_ffn.4', new Linear(ffn, d));
  }
  /** x: tokens [G*N, d], attention within each of the G groups. */
  forward(x: Value, groups: number): Value {
    x = add(x, dropout(this.mha.call(this.ln1.call(x), groups), this.drop, 'attention'));
    return add(x, dropout(this.fc2.call(silu(this.fc1.call(this.ln2.call(x)))), this.drop, 'ffn'));
  }
}

/** MobileViT block (v1) and MobileViTv3 block (v1-based): local conv, patch transformer, fusion. */
class MobileViTBlock extends Module {
  localConv: ConvLayer;
  localProj: ConvLayer;
  layers: TransformerEncoder[];
  finalNorm: LayerNorm;
  proj: ConvLayer;
  fusion: ConvLayer;
  constructor(
    readonly kind: 'v1' | 'v3',
    c: number,
    readonly stage: MobileViTStage,
    heads: number,
    drop: number,
  ) {
    super();
    const { d, ffn, depth } = stage;
    this.localConv = this.add('local_rep.conv_3x3', new ConvLayer(c, c, 3, { groups: kind === 'v3' ? c : 1 }));
    this.localProj = this.add('local_rep.conv_1x1', new ConvLayer(c, d, 1, { norm: false, act: false }));
    this.layers = Array.from({ length: depth }, (_, i) => this.add(`global_rep.${i}`, new TransformerEncoder(d, ffn, heads, drop)));
    this.finalNorm = this.add(`global_rep.${depth}`, new LayerNorm(d));
    this.proj = this.add('conv_proj', new ConvLayer(d, c, 1));
    this.fusion = kind === 'v3' ? this.add('fusion', new ConvLayer(d + c, c, 1)) : this.add('fusion', new ConvLayer(2 * c, c, 3));
  }
  forward(x: Value): Value {
    const local = this.localProj.call(this.localConv.call(x));
    const [b, , h, w] = local.shape;
    const eh = Math.ceil(h / 2) * 2;
    const ew = Math.ceil(w / 2) * 2;
    const resized = eh !== h || ew !== w;
    let p = unfold(resized ? resizeBilinear(local, eh, ew, false) : local);
    for (const layer of this.layers) p = layer.call(p, b * 4);
    p = this.finalNorm.call(p);
    const fm = resized
      ? this.proj.call(resizeBilinear(fold(p, b, eh, ew), h, w, false))
      : foldThrough1x1(p, b, h, w, (t, hw) => this.proj.call(t, hw));
    if (this.kind === 'v1') return this.fusion.call(concat([x, fm], 1));
    return add(this.fusion.call(concat([local, fm], 1)), x);
  }
}

export class MobileViT extends CvnetsClassifier {
  readonly expChannels: number;
  /** Output channels of conv_1 and layer_1..5 (out_l0 … out_l5). */
  readonly levelChannels: number[];
  constructor(
    readonly cfg: MobileViTConfig,
    readonly numClasses: number,
    opts: EncoderOptions = {},
  ) {
    super();
    const e = cfg.mv2Expand;
    this.stem = this.add('conv_1', new ConvLayer(3, 16, 3, { stride: 2 }));
    this.stage([new InvertedResidual(16, cfg.layer1, 1, e)]);
    this.stage([0, 1, 2].map((i) => new InvertedResidual(i === 0 ? cfg.layer1 : cfg.layer2, cfg.layer2, i === 0 ? 2 : 1, e)));
    let cin = cfg.layer2;
    // the v1-based block takes no dilation (cvnets v0.1): only the MV2s of dilated layers change
    const dil = mitLayerDilations(opts.outputStride ?? 32);
    cfg.stages.forEach((st, i) => {
      this.stage([new InvertedResidual(cin, st.c, dil[i].stride, e, dil[i].mv2Dilation), new MobileViTBlock(cfg.block, st.c, st, cfg.heads, cfg.dropout)]);
      cin = st.c;
    });
    this.levelChannels = [16, cfg.layer1, cfg.layer2, ...cfg.stages.map((st) => st.c)];
    this.expChannels = Math.min(4 * cin, 960);
    if (opts.headless) return;
    this.exp = this.add('conv_1x1_exp', new ConvLayer(cin, this.expChannels, 1));
    this.fc = this.add('classifier.fc', new Linear(this.expChannels, numClasses));
    this.classifierDropout = cfg.classifierDropout;
  }
}

const mv3 = (description: string, params: number, madds: number, top1: number, dir: string): VariantInfo => ({
  description,
  paper: { params, madds, top1 },
  url: MV3_RELEASE,
  fileName: `${dir}/checkpoint_ema_best.pt`,
});
const v1 = (size: string, params: number, madds: number, top1: number): VariantInfo => ({
  description: `MobileViT-${size.toUpperCase()} (v1 baseline)`,
  paper: { params, madds, top1 },
  url: `${CVNETS_ASSETS}/classification/mobilevit_${size}.pt`,
  fileName: `mobilevit_${size}.pt`,
});

/** Published facts per variant, in listing order. */
const RELEASES: Record<string, VariantInfo> = {
  mobilevitv3_xxs: mv3('MobileViTv3-XXS', 1.2, 289, 70.98, 'mobilevitv3_XXS_e300_7098'),
  mobilevitv3_xs: mv3('MobileViTv3-XS', 2.5, 927, 76.7, 'mobilevitv3_XS_e300_7671'),
  mobilevitv3_s: mv3('MobileViTv3-S', 5.8, 1841, 79.3, 'mobilevitv3_S_e300_7930'),
  mobilevitv3_xxs_l2: mv3('MobileViTv3-XXS-L2', 1.1, 256, 70.23, 'mobilevitv3_XXS_L2_e300_7023'),
  mobilevitv3_xs_l2: mv3('MobileViTv3-XS-L2', 2.3, 853, 76.1, 'mobilevitv3_XS_L2_e300_7610'),
  mobilevitv3_s_l2: mv3('MobileViTv3-S-L2', 5.2, 1651, 79.06, 'mobilevitv3_S_L2_e300_7906'),
  mobilevit_xxs: v1('xxs', 1.3, 364, 69.0),
  mobilevit_xs: v1('xs', 2.3, 986, 74.8),
  mobilevit_s: v1('s', 5.6, 2010, 78.4),
};

/** The registry entries of MobileViT v1 and the v1-based MobileViTv3. */
export const MOBILEVIT_SPECS: ModelSpec[] = Object.entries(RELEASES).map(([name, info]) =>
  cvnetsSpec(name, name.startsWith('mobilevitv3') ? 'mobilevitv3' : 'mobilevit', info, { channelOrder: 'BGR', interpolation: 'bilinear' }, 'classifier.fc.weight', (n) => new MobileViT(MOBILEVIT_CFGS[name], n)),
);
