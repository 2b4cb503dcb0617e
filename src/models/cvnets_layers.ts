/** CVNets building blocks shared by the MobileViT families (keys `*.block.conv`, `*.block.norm`). */
import type { Value } from '../graph/ir.js';
import { reduceMean } from '../graph/ops/reduce.js';
import { dropout } from '../graph/ops/dropout.js';
import { reshape } from '../graph/ops/shape.js';
import type { Linear } from '../nn/layers.js';
import type { Family, MapBlock, ModelSpec, Network, NetworkOutput, VariantInfo } from './types.js';
import { add } from '../graph/ops/elementwise.js';
import { silu } from '../nn/functional.js';
import { relu } from '../graph/ops/elementwise.js';
import { BatchNorm, Conv2d } from '../nn/layers.js';
import { Module } from '../nn/module.js';

/** CVNets make_divisible: round to a multiple of `divisor`, never more than 10% down. */
export function makeDivisible(v: number, divisor = 8, minValue?: number): number {
  const min = minValue ?? divisor;
  let nv = Math.max(min, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (nv < 0.9 * v) nv += divisor;
  return nv;
}

/** ConvLayer: conv -> optional BN -> optional activation (SiLU, or ReLU in the dense heads), stored under `block`. */
export class ConvLayer extends Module {
  conv: Conv2d;
  norm: BatchNorm | null;
  constructor(
    cin: number,
    cout: number,
    k: number,
    opts: { stride?: number; groups?: number; bias?: boolean; norm?: boolean; act?: boolean | 'relu'; dilation?: number } = {},
  ) {
    super();
    this.conv = this.add('block.conv', new Conv2d(cin, cout, k, { stride: opts.stride, groups: opts.groups, bias: opts.bias, dilation: opts.dilation }));
    this.norm = opts.norm === false ? null : this.add('block.norm', new BatchNorm(cout));
    this.act = opts.act === undefined || opts.act === true ? 'silu' : opts.act === 'relu' ? 'relu' : null;
  }
  private act: 'silu' | 'relu' | null;
  /** x: [N, C, H, W], or tokens [N, H·W, C] with `tokensHW` (1x1 convs; see Conv2d). */
  forward(x: Value, tokensHW?: [number, number]): Value {
    let y = this.conv.call(x, tokensHW);
    if (this.norm) y = this.norm.call(y);
    return this.act === 'silu' ? silu(y) : this.act === 'relu' ? relu(y) : y;
  }
}

/** MobileNetV2 inverted residual: 1x1 expand, 3x3 depthwise, 1x1 linear reduce. */
export class InvertedResidual extends Module {
  exp: ConvLayer | null;
  dw: ConvLayer;
  red: ConvLayer;
  residual: boolean;
  constructor(cin: number, cout: number, stride: number, expand: number, dilation = 1) {
    super();
    const hidden = makeDivisible(Math.round(cin * expand), 8);
    this.exp = expand === 1 ? null : this.add('block.exp_1x1', new ConvLayer(cin, hidden, 1));
    this.dw = this.add('block.conv_3x3', new ConvLayer(hidden, hidden, 3, { stride, groups: hidden, dilation }));
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

  /** The stem's and every layer's output: [conv_1, layer_1, …, layer_5] (cvnets' out_l0 … out_l5). */
  forwardLevels(x: Value): Value[] {
    const levels = [this.stem.call(x)];
    for (const blocks of this.layers) levels.push(blocks.reduce((h, m) => m.call(h), levels[levels.length - 1]));
    return levels;
  }

  forward(x: Value): NetworkOutput {
    const levels = this.forwardLevels(x);
    const features: NetworkOutput['features'] = levels.map((value, i) => ({ name: `out_stage${i}`, value }));
    let y = levels[levels.length - 1];
    if (this.exp) y = this.exp.call(y);
    features.push({ name: 'out_stage6', value: y });
    const pooled = reshape(reduceMean(y, [2, 3], true), [y.shape[0], y.shape[1]]);
    const logits = this.fc.call(dropout(pooled, this.classifierDropout, 'classifier'));
    return { logits, features, preLogits: pooled };
  }
}

/**
 * Output stride of a dense-prediction encoder: 32 (classification layout), 16 (layer_5 dilated) or 8
 * (layers 4 and 5 dilated).
 */
export type OutputStride = 8 | 16 | 32;

/**
 * cvnets `_make_mit_layer` for MobileViT layers 3..5 (index 3, 4, 5): a dilated layer's first MV2
 * gets stride 1 and the dilation *before* the layer doubles it; the layer's MobileViT block sees the
 * doubled value (v2-based blocks use it, v1-based blocks do not).
 */
export function mitLayerDilations(outputStride: OutputStride): { stride: number; mv2Dilation: number; blockDilation: number }[] {
  let dilation = 1;
  return [3, 4, 5].map((i) => {
    const dilate = (outputStride === 16 && i === 5) || (outputStride === 8 && i >= 4);
    if (!dilate) return { stride: 2, mv2Dilation: 1, blockDilation: dilation };
    const mv2Dilation = dilation;
    dilation *= 2;
    return { stride: 1, mv2Dilation, blockDilation: dilation };
  });
}

/** Options of a CVNets backbone built as a dense-prediction encoder (no conv_1x1_exp, no classifier). */
export interface EncoderOptions {
  outputStride?: OutputStride;
  /** Leave out conv_1x1_exp and the classifier (the segmentation / detection `encoder`). */
  headless?: boolean;
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
