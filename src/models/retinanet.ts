/**
 * RetinaNet with a Mobile-Former body, defined as torchvision 0.14's `retinanet_resnet50_fpn` (v1)
 * with the ResNet-50 replaced (Mobile-Former's authors released no detection code; see
 * ../shared/golden/retinanet_mf/README.md):
 *
 *   image ─► backbone.body (Mobile-Former tokens/stem/features; tokens run alongside) ─► C3 C4 C5
 *         ─► backbone.fpn (FPN, 256 ch, top-down nearest ×2; P6 = p6(P5), P7 = p7(relu(P6))) ─► P3…P7
 *         ─► head (shared over levels: 4 × (conv3x3 + ReLU) then cls_logits / bbox_reg, no norm)
 *         ─► cls_logits [B, A, C], bbox_regression [B, A, 4], rows level-major, then (y, x, anchor)
 *
 * C3/C4/C5 are the outputs of the last block at output stride 8/16/32. Keys are
 * `backbone.body.<official Mobile-Former key>`, `backbone.fpn.*`, `head.*` as torchvision names them,
 * so weights move to and from a torchvision RetinaNet built around the official Mobile-Former code.
 * Anchors, box decoding and post-processing run on the host (src/detect/retinanet.ts).
 */
import type { Value } from '../graph/ir.js';
import { add, relu } from '../graph/ops/elementwise.js';
import { resizeNearest } from '../graph/ops/resize.js';
import { concat, reshape, transpose } from '../graph/ops/shape.js';
import { Conv2d } from '../nn/layers.js';
import { constant, Module, normal, uniform } from '../nn/module.js';
import { COCO_91 } from '../data/coco_classes.js';
import { HybridVisionError } from '../tensor.js';
import { MOBILE_FORMER_CFGS, MobileFormer, type MobileFormerConfig } from './mobile_former.js';
import type { ModelSpec, Network, NetworkOutput, PretrainedCfg } from './types.js';

// ---------------------------------------------------------------------------------------------------
// Variants (data)
// ---------------------------------------------------------------------------------------------------

/** torchvision's RetinaNet settings every variant shares. */
export const RETINANET_COMMON = {
  /** FPN and head width. */
  fpnChannels: 256,
  /** Anchors per cell: 3 sizes × 3 aspect ratios. */
  anchorsPerCell: 9,
  /** conv3x3 + ReLU layers before each head's last conv. */
  headConvs: 4,
  /** cls_logits bias = −log((1 − p) / p). */
  priorProbability: 0.01,
  /** Output strides of C3, C4, C5. */
  tapStrides: [8, 16, 32],
};

export interface RetinaNetConfig {
  /** The Mobile-Former classifier variant whose tokens/stem/features form the body. */
  body: string;
}

/** One row per variant, smallest first. */
export const RETINANET_CFGS: Record<string, RetinaNetConfig> = Object.fromEntries(
  Object.keys(MOBILE_FORMER_CFGS).map((mf) => [`retinanet_${mf}`, { body: mf }]),
);

/** Block index of the last block at each output stride (C3, C4, C5). */
export function featureTaps(outStrides: readonly number[], strides: readonly number[] = RETINANET_COMMON.tapStrides): number[] {
  return strides.map((s) => {
    const i = outStrides.lastIndexOf(s);
    if (i < 0) throw new HybridVisionError(`no block runs at output stride ${s}`);
    return i;
  });
}

// ---------------------------------------------------------------------------------------------------
// Blocks (code)
// ---------------------------------------------------------------------------------------------------

/** torchvision FPN init: kaiming_uniform_(a=1) = U(±sqrt(3/fan_in)), bias 0. */
const fpnConv = (cin: number, cout: number, k: number, stride = 1) => new Conv2d(cin, cout, k, { bias: true, stride, init: uniform(Math.sqrt(3 / (cin * k * k))) });

/**
 * FeaturePyramidNetwork([C3c, C4c, C5c], 256, LastLevelP6P7(256, 256)): 1x1 laterals (`inner_blocks.i.0`),
 * top-down sums with nearest upsampling to the lateral's size, 3x3 outputs (`layer_blocks.i.0`); then
 * P6 = p6(P5) and P7 = p7(relu(P6)), both 3x3 stride 2 (P6 from P5: in == out channels).
 */
class FeaturePyramid extends Module {
  inner: Conv2d[];
  layer: Conv2d[];
  p6: Conv2d;
  p7: Conv2d;
  constructor(inChannels: number[], c: number) {
    super();
    this.inner = inChannels.map((ci, i) => this.add(`inner_blocks.${i}.0`, fpnConv(ci, c, 1)));
    this.layer = inChannels.map((_, i) => this.add(`layer_blocks.${i}.0`, fpnConv(c, c, 3)));
    this.p6 = this.add('extra_blocks.p6', fpnConv(c, c, 3, 2));
    this.p7 = this.add('extra_blocks.p7', fpnConv(c, c, 3, 2));
  }
  /** [C3, C4, C5] → [P3, P4, P5, P6, P7]. */
  forward(cs: Value[]): Value[] {
    const last = cs.length - 1;
    let t = this.inner[last].call(cs[last]);
    const ps = [this.layer[last].call(t)];
    for (let i = last - 1; i >= 0; i--) {
      const [, , h, w] = cs[i].shape;
      t = add(this.inner[i].call(cs[i]), resizeNearest(t, h, w));
      ps.unshift(this.layer[i].call(t));
    }
    const p6 = this.p6.call(ps[last]);
    return [...ps, p6, this.p7.call(relu(p6))];
  }
}

/** torchvision RetinaNet head convs: N(0, 0.01²), bias 0 (or the given bias init). */
const headConv = (cin: number, cout: number, biasInit = constant(0)) => new Conv2d(cin, cout, 3, { bias: true, init: normal(0.01), biasInit });

/**
 * One RetinaNet head branch (`conv.k.0` + ReLU, k = 0..3, then the predictor): per level a raw map
 * [B, A·K, h, w] (channel a·K + k), and the level's rows [B, h·w·A, K].
 */
class HeadBranch extends Module {
  convs: Conv2d[];
  out: Conv2d;
  constructor(
    c: number,
    readonly a: number,
    readonly k: number,
    outName: string,
    biasInit = constant(0),
  ) {
    super();
    this.convs = Array.from({ length: RETINANET_COMMON.headConvs }, (_, i) => this.add(`conv.${i}.0`, headConv(c, c)));
    this.out = this.add(outName, headConv(c, a * k, biasInit));
  }
  forward(p: Value): { raw: Value; rows: Value } {
    let h = p;
    for (const conv of this.convs) h = relu(conv.call(h));
    const raw = this.out.call(h);
    const [b, , hh, ww] = raw.shape;
    const rows = reshape(transpose(reshape(raw, [b, this.a, this.k, hh, ww]), [0, 3, 4, 1, 2]), [b, hh * ww * this.a, this.k]);
    return { raw, rows };
  }
}

/** RetinaNetHead(256, 9, C), v1 (no norm): `classification_head.*` and `regression_head.*`. */
class RetinaHead extends Module {
  cls: HeadBranch;
  reg: HeadBranch;
  constructor(c: number, a: number, numClasses: number) {
    super();
    const p = RETINANET_COMMON.priorProbability;
    this.cls = this.add('classification_head', new HeadBranch(c, a, numClasses, 'cls_logits', constant(-Math.log((1 - p) / p))));
    this.reg = this.add('regression_head', new HeadBranch(c, a, 4, 'bbox_reg'));
  }
  forward(ps: Value[]): { cls: { raw: Value; rows: Value }[]; reg: { raw: Value; rows: Value }[] } {
    return { cls: ps.map((p) => this.cls.call(p)), reg: ps.map((p) => this.reg.call(p)) };
  }
}

/** `backbone`: `body` (headless Mobile-Former) and `fpn`. */
class BackboneWithFpn extends Module {
  body: MobileFormer;
  fpn: FeaturePyramid;
  readonly taps: number[];
  constructor(cfg: MobileFormerConfig) {
    super();
    this.body = this.add('body', new MobileFormer(cfg, null));
    this.taps = featureTaps(this.body.outStrides);
    this.fpn = this.add('fpn', new FeaturePyramid(this.taps.map((i) => this.body.outChannels[i]), RETINANET_COMMON.fpnChannels));
  }
  forward(x: Value): { cs: Value[]; ps: Value[] } {
    const { maps } = x.graph.atScope(this.body.path, () => this.body.runBlocks(x));
    const cs = this.taps.map((i) => maps[i]);
    return { cs, ps: this.fpn.call(cs) };
  }
}

export const LEVELS = ['P3', 'P4', 'P5', 'P6', 'P7'];

/**
 * The detector network. Output: `logits` = cls_logits [B, A, C]; `features` = C3…C5, P3…P7,
 * bbox_regression [B, A, 4] and the raw per-level head maps `cls_logits_raw.P*` /
 * `bbox_regression_raw.P*`; `preLogits` = C5 (the body's last map).
 */
export class RetinaNetMobileFormer extends Module implements Network {
  backbone: BackboneWithFpn;
  head: RetinaHead;
  constructor(
    readonly cfg: RetinaNetConfig,
    readonly numClasses: number,
  ) {
    super();
    const body = MOBILE_FORMER_CFGS[cfg.body];
    if (!body) throw new HybridVisionError(`unknown Mobile-Former body '${cfg.body}'`);
    this.backbone = this.add('backbone', new BackboneWithFpn(body));
    this.head = this.add('head', new RetinaHead(RETINANET_COMMON.fpnChannels, RETINANET_COMMON.anchorsPerCell, numClasses));
  }
  forward(x: Value): NetworkOutput {
    const { cs, ps } = this.backbone.call(x);
    const { cls, reg } = this.head.call(ps);
    const clsLogits = concat(cls.map((l) => l.rows), 1);
    const bboxRegression = concat(reg.map((l) => l.rows), 1);
    const features: NetworkOutput['features'] = [
      ...cs.map((value, i) => ({ name: `C${i + 3}`, value })),
      ...ps.map((value, i) => ({ name: LEVELS[i], value })),
      { name: 'bbox_regression', value: bboxRegression },
      ...cls.map((l, i) => ({ name: `cls_logits_raw.${LEVELS[i]}`, value: l.raw })),
      ...reg.map((l, i) => ({ name: `bbox_regression_raw.${LEVELS[i]}`, value: l.raw })),
    ];
    // bbox_regression is a program output of its own (as SSDLite's box_regressions): the latency
    // benches and `export --raw` time and write both heads
    return { logits: clsLogits, features, preLogits: cs[cs.length - 1], extraOutputs: [{ name: 'bbox_regression', value: bboxRegression }] };
  }
}

/**
 * torchvision's deployment transform (GeneralizedRCNNTransform defaults: short side 800, long side
 * ≤ 1333, ImageNet mean/std, pad to 32) is the preprocessing; `inputSize` is the square size the zoo
 * counts MAdds at.
 */
function retinaPretrainedCfg(body: string): PretrainedCfg {
  return {
    inputSize: [800, 800],
    cropPct: 1,
    interpolation: 'bilinear',
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    channelOrder: 'RGB',
    numClasses: 91,
    labels: COCO_91,
    paper: { params: 0, madds: 0, top1: 0, resolution: 800, maddsConvention: `RetinaNet (torchvision 0.14 v1) around ${body}; no released weights` },
  };
}

/** The registry entries, smallest first. */
export const RETINANET_SPECS: ModelSpec[] = Object.entries(RETINANET_CFGS).map(([name, cfg]) => ({
  name,
  family: 'retinanet',
  description: `RetinaNet (torchvision 0.14, FPN P3-P7) on Mobile-Former-${cfg.body.slice('mobile_former_'.length).toUpperCase()}`,
  cfg: retinaPretrainedCfg(cfg.body),
  build: (numClasses: number) => new RetinaNetMobileFormer(cfg, numClasses),
  // resetClassifier re-initialises the class predictor only (the box branch is class-agnostic)
  headPrefixes: ['head.classification_head.cls_logits.'],
  backbonePrefixes: ['backbone.body.'],
  classifierKey: 'head.classification_head.cls_logits.weight',
  classifierRowsPerClass: RETINANET_COMMON.anchorsPerCell,
}));
