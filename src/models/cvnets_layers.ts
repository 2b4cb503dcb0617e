/** CVNets building blocks shared by the MobileViT families (keys `*.block.conv`, `*.block.norm`). */
import type { Value } from '../graph/ir.js';
import { reduceMean } from '../graph/ops/reduce.js';
import { dropout } from '../graph/ops/dropout.js';
import { reshape } from '../graph/ops/shape.js';
import type { Linear } from '../nn/layers.js';
import type { Family, MapBlock, ModelSpec, Network, NetworkOutput, VariantInfo } from './types.js';
import { add } from '../graph/ops/elementwise.js';
import { silu } from '../nn/functional.js';
import { BatchNorm, Conv2d } from '../nn/layers.js';
import { Module } from '../nn/module.js';

/** CVNets make_divisible: round to a multiple of `divisor`, never more than 10% down. */
export function makeDivisible(v: number, divisor = 8, minValue?: number): number {
  const min = minValue ?? divisor;
  let nv = Math.max(min, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (nv < 0.9 * v) nv += divisor;
  return nv;
}

/** ConvLayer: conv -> optional BN -> optional SiLU, stored under `block`. */
export class ConvLayer extends Module {
  conv: Conv2d;
  norm: BatchNorm | null;
  constructor(
    cin: number,
    cout: number,
    k: number,
    opts: { stride?: number; groups?: number; bias?: boolean; norm?: boolean; act?: boolean } = {},
  ) {
    super();
    this.conv = this.add('block.conv', new Conv2d(cin, cout, k, { stride: opts.stride, groups: opts.groups, bias: opts.bias }));
    this.norm = opts.norm === false ? null : this.add('block.norm', new BatchNorm(cout));
    this.act = opts.act !== false;
  }
  private act: boolean;
  /** x: [N, C, H, W], or tokens [N, H·W, C] with `tokensHW` (1x1 convs; see Conv2d). */
  forward(x: Value, tokensHW?: [number, number]): Value {
    let y = this.conv.call(x, tokensHW);
    if (this.norm) y = this.norm.call(y);
    return this.act ? silu(y) : y;
  }
}

/** MobileNetV2 inverted residual: 1x1 expand, 3x3 depthwise, 1x1 linear reduce. */
export class InvertedResidual extends Module {
  exp: ConvLayer | null;
  dw: ConvLayer;
  red: ConvLayer;
  residual: boolean;
  constructor(cin: number, cout: number, stride: number, expand: number) {
    super();
    const hidden = makeDivisible(Math.round(cin * expand), 8);
    this.exp = expand === 1 ? null : this.add('block.exp_1x1', new ConvLayer(cin, hidden, 1));
    this.dw = this.add('block.conv_3x3', new ConvLayer(hidden, hidden, 3, { stride, groups: hidden }));
    this.red = this.add('block.red_1x1', new ConvLayer(hidden, cout, 1, { act: false }));
    this.residual = stride === 1 && cin === cout;
  }
  forward(x: Value): Value {
    const y = this.red.call(this.dw.call(this.exp ? this.exp.call(x) : x));
    return this.residual ? add(x, y) : y;
  }
}

/**
 * The CVNets classification network: conv_1, layer_1..5, conv_1x1_exp (absent in v2-based models),
 * global average pool, `classifier.<fc>`. Subclasses register the blocks through `stage` and `head`;
 * stage maps are named as in the golden intermediates.
 */
export abstract class CvnetsClassifier extends Module implements Network {
  protected stem!: ConvLayer;
  protected readonly layers: MapBlock[][] = [];
  protected exp: ConvLayer | null = null;
  protected fc!: Linear;
  protected classifierDropout = 0;

  /** Registers layer_<i> (1-based, in order) with its blocks `layer_<i>.0`, `layer_<i>.1`, … */
  protected stage(blocks: MapBlock[]): void {
    const i = this.layers.length + 1;
    this.layers.push(blocks.map((b, j) => this.add(`layer_${i}.${j}`, b)));
  }

  forward(x: Value): NetworkOutput {
    const features: NetworkOutput['features'] = [];
    let y = this.stem.call(x);
    features.push({ name: 'out_stage0', value: y });
    this.layers.forEach((blocks, i) => {
      y = blocks.reduce((h, m) => m.call(h), y);
      features.push({ name: `out_stage${i + 1}`, value: y });
    });
    if (this.exp) y = this.exp.call(y);
    features.push({ name: 'out_stage6', value: y });
    const pooled = reshape(reduceMean(y, [2, 3], true), [y.shape[0], y.shape[1]]);
    const logits = this.fc.call(dropout(pooled, this.classifierDropout, 'classifier'));
    return { logits, features, preLogits: pooled };
  }
}

export const MV3_RELEASE = 'https://github.com/micronDLA/MobileViTv3/releases/tag/v1.0.0';
export const CVNETS_ASSETS = 'https://docs-assets.developer.apple.com/ml-research/models/cvnets';

/**
 * The registry entry of a CVNets classification variant. Preprocessing is CVNets eval: resize short
 * side 288, center crop 256, [0,1], no normalisation; v1-based models read BGR with bilinear
 * resizing, v2-based ones RGB with bicubic.
 */
export function cvnetsSpec(
  name: string,
  family: Family,
  info: VariantInfo,
  input: { channelOrder: 'RGB' | 'BGR'; interpolation: 'bilinear' | 'bicubic' },
  classifierKey: string,
  build: (numClasses: number) => Network,
): ModelSpec {
  return {
    name,
    family,
    description: info.description,
    cfg: {
      inputSize: [256, 256],
      cropPct: 0.888,
      interpolation: input.interpolation,
      mean: [0, 0, 0],
      std: [1, 1, 1],
      channelOrder: input.channelOrder,
      numClasses: 1000,
      url: info.url,
      fileName: info.fileName,
      paper: { ...info.paper, resolution: 256, maddsConvention: 'cvnets profiler' },
    },
    build,
    headPrefixes: ['classifier.'],
    classifierKey,
  };
}
