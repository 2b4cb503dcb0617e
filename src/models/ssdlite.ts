/**
 * SSDLite on the MobileViT encoders (output stride 32), as the MobileViTv3 release trained it on COCO
 * (cvnets v0.1 SingleShotDetector for the v1-based XXS/XS/S, v0.2 SingleShotMaskDetector for the
 * v2-based 0.5/0.75/1.0; the networks are the same). Keys: encoder.*, extra_layers.os_{64,128,256,-1},
 * ssd_heads.<i>.{proj_layer, loc_cls_layer}.
 *
 * Outputs (docs/dense_machinery.md): every level's last conv [B, A·(4+K), h, w] (channel a·(4+K)+k)
 * laid out as rows [B, h·w·A, 4+K] (level-major, then y, x, anchor slot), concatenated over the
 * levels and split into box_regressions [B, N, 4] (tx, ty, tw, th) and cls_logits [B, N, K] (class
 * 0 = background). Anchors, decoding and post-processing are src/detect (ssdAnchors of the actual
 * feature-map sizes, ssdPostprocess with SSD_POSTPROCESS_V1 / _V2).
 */
import type { Value } from '../graph/ir.js';
import { reduceMean } from '../graph/ops/reduce.js';
import { concat, reshape, slice, transpose } from '../graph/ops/shape.js';
import { Module } from '../nn/module.js';
import { ssdAnchors, ssdAnchorsPerLocation, SSD_ANCHOR_DEFAULTS, type SsdAnchorConfig, SSD_POSTPROCESS_V1, SSD_POSTPROCESS_V2, type SsdPostprocessOptions } from '../detect/ssd.js';
import { ConvLayer, MV3_RELEASE } from './cvnets_layers.js';
import { cvnetsTree, denseEncoder, type DenseEncoder } from './dense_encoder.js';
import type { ModelSpec, Network, NetworkOutput, PretrainedCfg } from './types.js';
import { COCO_81 } from '../data/coco_classes.js';

export interface SsdLiteConfig {
  backbone: string;
  /** Per level: output stride (−1 = global) and projection channels (official yaml). */
  outputStrides: number[];
  projChannels: number[];
  aspectRatios: number[][];
}

/** cvnets SeparableConv: depthwise k×k + BN (no activation), then pointwise 1x1 (BN + ReLU in the extra layers; bias only in the heads). */
class SeparableConv extends Module {
  dw: ConvLayer;
  pw: ConvLayer;
  constructor(cin: number, cout: number, stride: number, pointwise: 'bn_relu' | 'bias') {
    super();
    this.dw = this.add('dw_conv', new ConvLayer(cin, cin, 3, { stride, groups: cin, act: false }));
    this.pw = this.add('pw_conv', pointwise === 'bias' ? new ConvLayer(cin, cout, 1, { bias: true, norm: false, act: false }) : new ConvLayer(cin, cout, 1, { act: 'relu' }));
  }
  forward(x: Value): Value {
    return this.pw.call(this.dw.call(x));
  }
}

/** The global level: AdaptiveAvgPool(1) → 1x1 conv (no bias, no BN) + ReLU; keys `os_-1.1.block.conv`. */
class GlobalLevel extends Module {
  conv: ConvLayer;
  constructor(cin: number, cout: number) {
    super();
    this.conv = this.add('1', new ConvLayer(cin, cout, 1, { norm: false, act: 'relu' }));
  }
  forward(x: Value): Value {
    return this.conv.call(reduceMean(x, [2, 3], true));
  }
}

/** One level's head: optional projection (1x1 + BN + ReLU), then separable 3x3 (or a plain 1x1 at the global level) to A·(4+K). */
class SsdHead extends Module {
  proj: ConvLayer | null;
  locCls: SeparableConv | ConvLayer;
  constructor(cin: number, proj: number, out: number, kernel: 1 | 3) {
    super();
    // cvnets SSDHead: a projection only where the channels differ and the kernel is larger than 1
    this.proj = cin !== proj && kernel > 1 ? this.add('proj_layer', new ConvLayer(cin, proj, 1, { act: 'relu' })) : null;
    const c = this.proj ? proj : cin;
    this.locCls = this.add('loc_cls_layer', kernel === 1 ? new ConvLayer(c, out, 1, { bias: true, norm: false, act: false }) : new SeparableConv(c, out, 1, 'bias'));
  }
  forward(x: Value): Value {
    return this.locCls.call(this.proj ? this.proj.call(x) : x);
  }
}

export class SsdLite extends Module implements Network {
  encoder: DenseEncoder;
  extras: (SeparableConv | GlobalLevel)[] = [];
  heads: SsdHead[];
  readonly anchorsPerLocation: number[];
  readonly tree: 'v0.1' | 'v0.2';
  constructor(
    readonly cfg: SsdLiteConfig,
    readonly numClasses: number,
  ) {
    super();
    this.tree = cvnetsTree(cfg.backbone);
    this.encoder = this.add('encoder', denseEncoder(cfg.backbone, 32));
    const ch = this.encoder.levelChannels;
    const inChannels = [ch[4], ch[5]];
    cfg.outputStrides.forEach((os, i) => {
      if (os === 16 || os === 32) return;
      const cin = inChannels[inChannels.length - 1];
      const cout = cfg.projChannels[i];
      this.extras.push(this.add(`extra_layers.os_${os}`, os === -1 ? new GlobalLevel(cin, cout) : new SeparableConv(cin, cout, 2, 'bn_relu')));
      inChannels.push(cout);
    });
    this.anchorsPerLocation = ssdAnchorsPerLocation({ ...SSD_ANCHOR_DEFAULTS, aspectRatios: cfg.aspectRatios });
    const K = 4 + numClasses;
    this.heads = cfg.outputStrides.map((os, i) => this.add(`ssd_heads.${i}`, new SsdHead(inChannels[i], cfg.projChannels[i], this.anchorsPerLocation[i] * K, os === -1 ? 1 : 3)));
  }

  /** The inputs of the six heads: out_l4 (OS16), out_l5 (OS32), then the extra layers. */
  levelFeatures(x: Value): Value[] {
    const levels = this.encoder.forwardLevels(x);
    const feats = [levels[4], levels[5]];
    for (const e of this.extras) feats.push(e.call(feats[feats.length - 1]));
    return feats;
  }

  forward(x: Value): NetworkOutput {
    const feats = this.levelFeatures(x);
    const K = 4 + this.numClasses;
    const features: NetworkOutput['features'] = feats.map((value, i) => ({ name: `feat_l${i}`, value }));
    const rows = feats.map((f, i) => {
      const raw = this.heads[i].call(f);
      features.push({ name: `head_raw_l${i}`, value: raw });
      const [b, , h, w] = raw.shape;
      const A = this.anchorsPerLocation[i];
      return reshape(transpose(reshape(raw, [b, A, K, h, w]), [0, 3, 4, 1, 2]), [b, h * w * A, K]);
    });
    const all = rows.length === 1 ? rows[0] : concat(rows, 1);
    const boxes = slice(all, [0], [4], [2]);
    const cls = slice(all, [4], [K], [2]);
    features.push({ name: 'box_regressions', value: boxes });
    return { logits: cls, features, preLogits: feats[feats.length - 1], extraOutputs: [{ name: 'box_regressions', value: boxes }] };
  }

  /** The official post-processing defaults of this model's tree (v0.1 per-class, v0.2 batched). */
  get postprocess(): SsdPostprocessOptions {
    return this.tree === 'v0.1' ? SSD_POSTPROCESS_V1 : SSD_POSTPROCESS_V2;
  }
}

/** The prior-box scales a model may record (cfg.anchorScales): 0 < min < max <= 2, fractions of the image side. */
export const ANCHOR_SCALES_RULE = '0 < min < max <= 2';
export const validAnchorScales = (min: number, max: number): boolean => min > 0 && min < max && max <= 2;

/** An SSD model's prior-box configuration: its levels' aspect ratios, with the scales its cfg records (default: official). */
export function ssdAnchorConfig(net: SsdLite, cfg: Pick<PretrainedCfg, 'anchorScales'>): SsdAnchorConfig {
  const [minScaleRatio, maxScaleRatio] = cfg.anchorScales ?? [SSD_ANCHOR_DEFAULTS.minScaleRatio, SSD_ANCHOR_DEFAULTS.maxScaleRatio];
  return { ...SSD_ANCHOR_DEFAULTS, outputStrides: net.cfg.outputStrides, aspectRatios: net.cfg.aspectRatios, minScaleRatio, maxScaleRatio };
}

/** An SSD model's prior boxes for its levels' feature-map sizes. */
export function ssdModelAnchors(net: SsdLite, cfg: Pick<PretrainedCfg, 'anchorScales'>, grids: readonly (readonly [number, number])[]): Float32Array {
  return ssdAnchors(grids, ssdAnchorConfig(net, cfg));
}

/** The official COCO config (both trees: the same strides, ratios and projection channels). */
export function ssdliteConfig(backbone: string): SsdLiteConfig {
  cvnetsTree(backbone);
  return {
    backbone,
    outputStrides: [16, 32, 64, 128, 256, -1],
    projChannels: [512, 256, 256, 128, 128, 64],
    aspectRatios: [[2, 3], [2, 3], [2, 3], [2, 3], [2, 3], [2]],
  };
}

/** Published whole-model parameter counts (M; MobileViTv3 README). */
const VARIANTS: { backbone: string; paramsM: number; label: string }[] = [
  { backbone: 'mobilevitv3_xxs', paramsM: 1.5, label: 'MobileViTv3-XXS' },
  { backbone: 'mobilevitv3_xs', paramsM: 2.7, label: 'MobileViTv3-XS' },
  { backbone: 'mobilevitv3_s', paramsM: 5.5, label: 'MobileViTv3-S' },
  { backbone: 'mobilevitv3_0.5', paramsM: 2.0, label: 'MobileViTv3-0.5' },
  { backbone: 'mobilevitv3_0.75', paramsM: 3.7, label: 'MobileViTv3-0.75' },
  { backbone: 'mobilevitv3_1.0', paramsM: 5.8, label: 'MobileViTv3-1.0' },
  // MobileViTv2 baselines: the same cvnets v0.2 detector code (no golden case; no paper figure listed here)
  ...['0.5', '0.75', '1.0'].map((w) => ({ backbone: `mobilevitv2_${w}`, paramsM: 0, label: `MobileViTv2-${w}` })),
];

/** The class count of an SSD checkpoint: the global level's conv has A·(4+K) rows. */
function ssdClasses(cfg: SsdLiteConfig, sd: Map<string, { shape: number[] }>): number | undefined {
  const last = cfg.outputStrides.length - 1;
  const rows = sd.get(`ssd_heads.${last}.loc_cls_layer.block.conv.weight`)?.shape[0];
  const A = ssdAnchorsPerLocation({ ...SSD_ANCHOR_DEFAULTS, aspectRatios: cfg.aspectRatios })[last];
  return rows === undefined || rows % A !== 0 ? undefined : rows / A - 4;
}

/** The registry entries `ssdlite_<backbone>_coco`. */
export const SSDLITE_SPECS: ModelSpec[] = VARIANTS.map(({ backbone, paramsM, label }) => {
  const cfg = ssdliteConfig(backbone);
  const v1 = cvnetsTree(backbone) === 'v0.1';
  return {
    name: `ssdlite_${backbone}_coco`,
    family: 'ssdlite',
    description: `SSDLite-${label} (COCO, 80 categories + background)`,
    cfg: {
      inputSize: [320, 320],
      cropPct: 1,
      interpolation: v1 ? 'bilinear' : 'bicubic',
      mean: [0, 0, 0],
      std: [1, 1, 1],
      channelOrder: v1 ? 'BGR' : 'RGB',
      numClasses: 81,
      labels: COCO_81,
      url: backbone.startsWith('mobilevitv3') ? MV3_RELEASE : undefined,
      paper: { params: paramsM, madds: 0, top1: 0, resolution: 320, maddsConvention: 'cvnets profiler' },
    },
    build: (n: number) => new SsdLite(cfg, n),
    // the class-dependent convs only: projections and depthwise convs keep their weights
    headPrefixes: [0, 1, 2, 3, 4].map((i) => `ssd_heads.${i}.loc_cls_layer.pw_conv.`).concat('ssd_heads.5.loc_cls_layer.'),
    backbonePrefixes: ['encoder.'],
    classifierKey: 'ssd_heads.5.loc_cls_layer.block.conv.weight',
    numClassesFromWeights: (sd) => ssdClasses(cfg, sd),
  };
});
