/**
 * MobileViTv2 and the v2-based MobileViTv3 (0.5 / 0.75 / 1.0), as in CVNets v0.2 with the
 * MobileViTv3 block files. Widths follow from the width multiplier. Keys: conv_1, layer_1..5,
 * classifier.1.
 */
import type { Value } from '../graph/ir.js';
import { add, mul, relu } from '../graph/ops/elementwise.js';
import { reduceMean, reduceSum } from '../graph/ops/reduce.js';
import { concat, reshape, slice, transpose } from '../graph/ops/shape.js';
import { softmax } from '../graph/ops/softmax.js';
import { resizeBilinear, silu } from '../nn/functional.js';
import { GroupNorm1, Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { ConvLayer, InvertedResidual, makeDivisible } from './cvnets_layers.js';
import type { MapBlock, Network, NetworkOutput } from './types.js';

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

/** 1x1 conv with bias, keys `<name>.block.conv.*`. */
const pw = (cin: number, cout: number) => new ConvLayer(cin, cout, 1, { bias: true, norm: false, act: false });

/** Separable self-attention: softmax over patches of a 1-channel query weights the keys into one context vector. */
class LinearSelfAttention extends Module {
  qkv: ConvLayer;
  out: ConvLayer;
  constructor(readonly d: number) {
    super();
    this.qkv = this.add('qkv_proj', pw(d, 1 + 2 * d));
    this.out = this.add('out_proj', pw(d, d));
  }
  forward(x: Value): Value {
    const d = this.d;
    const qkv = this.qkv.call(x); // [B, 1+2d, P, N]
    const scores = softmax(slice(qkv, [0], [1], [1]), -1);
    const k = slice(qkv, [1], [1 + d], [1]);
    const v = slice(qkv, [1 + d], [1 + 2 * d], [1]);
    const ctx = reduceSum(mul(k, scores), [3], true); // [B, d, P, 1]
    return this.out.call(mul(relu(v), ctx));
  }
}

/** LinearAttnFFN: x += attn(GN(x)); x += FFN(GN(x)). Keys pre_norm_attn.{0,1}, pre_norm_ffn.{0,1,3}. */
class LinearAttnFFN extends Module {
  n1: GroupNorm1;
  attn: LinearSelfAttention;
  n2: GroupNorm1;
  fc1: ConvLayer;
  fc2: ConvLayer;
  constructor(d: number, ffn: number) {
    super();
    this.n1 = this.add(0, new GroupNorm1(d));
    this.attn = this.add(1, new LinearSelfAttention(d));
    this.n2 = this.add(0, new GroupNorm1(d));
    this.fc1 = this.add(1, pw(d, ffn));
    this.fc2 = this.add(3, pw(ffn, d));
  }
  forward(x: Value): Value {
    const g = x.graph;
    x = add(x, g.withScope('pre_norm_attn', () => this.attn.call(this.n1.call(x))));
    return add(x, g.withScope('pre_norm_ffn', () => this.fc2.call(silu(this.fc1.call(this.n2.call(x))))));
  }
}

/** MobileViTv2 block (v2) and v2-based MobileViTv3 block (v3: global||local fusion plus input residual). */
class MobileViTv2Block extends Module {
  dw: ConvLayer;
  proj1x1: ConvLayer;
  layers: LinearAttnFFN[];
  finalNorm: GroupNorm1;
  convProj: ConvLayer;
  constructor(
    readonly kind: 'v2' | 'v3',
    c: number,
    st: { d: number; ffn: number; depth: number },
  ) {
    super();
    this.dw = this.add(0, new ConvLayer(c, c, 3, { groups: c }));
    this.proj1x1 = this.add(1, new ConvLayer(c, st.d, 1, { norm: false, act: false }));
    this.layers = Array.from({ length: st.depth }, (_, i) => this.add(i, new LinearAttnFFN(st.d, st.ffn)));
    this.finalNorm = this.add(st.depth, new GroupNorm1(st.d));
    this.convProj = this.add('conv_proj', new ConvLayer(kind === 'v3' ? 2 * st.d : st.d, c, 1, { act: false }));
  }
  forward(x: Value): Value {
    const g = x.graph;
    const [b, , h0, w0] = x.shape;
    const h = Math.ceil(h0 / 2) * 2;
    const w = Math.ceil(w0 / 2) * 2;
    if (h !== h0 || w !== w0) x = resizeBilinear(x, h, w, true);
    const local = g.withScope('local_rep', () => this.proj1x1.call(this.dw.call(x)));
    const d = local.shape[1];
    // unfold: [B, d, H, W] -> [B, d, P=4 (kh*2+kw), N (row-major patches)]
    let p = reshape(transpose(reshape(local, [b, d, h / 2, 2, w / 2, 2]), [0, 1, 3, 5, 2, 4]), [b, d, 4, (h / 2) * (w / 2)]);
    p = g.withScope('global_rep', () => {
      for (const l of this.layers) p = l.call(p);
      return this.finalNorm.call(p);
    });
    const fm = reshape(transpose(reshape(p, [b, d, 2, 2, h / 2, w / 2]), [0, 1, 4, 2, 5, 3]), [b, d, h, w]);
    if (this.kind === 'v2') return this.convProj.call(fm);
    return add(this.convProj.call(concat([fm, local], 1)), x);
  }
}

export class MobileViTv2 extends Module implements Network {
  stem: ConvLayer;
  layers: MapBlock[][];
  fc: Linear;
  readonly outChannels: number;
  constructor(
    readonly cfg: MobileViTv2Config,
    readonly numClasses: number,
  ) {
    super();
    const W = mobilevitV2Widths(cfg.width);
    this.stem = this.add('conv_1', new ConvLayer(3, W.stem, 3, { stride: 2 }));
    const l1 = [this.add(0, new InvertedResidual(W.stem, W.layer1, 1, 2))];
    const l2 = [0, 1].map((i) => this.add(i, new InvertedResidual(i === 0 ? W.layer1 : W.layer2, W.layer2, i === 0 ? 2 : 1, 2)));
    let cin = W.layer2;
    const deep = W.stages.map((st) => {
      const blocks: MapBlock[] = [this.add(0, new InvertedResidual(cin, st.c, 2, 2)), this.add(1, new MobileViTv2Block(cfg.block, st.c, st))];
      cin = st.c;
      return blocks;
    });
    this.layers = [l1, l2, ...deep];
    this.outChannels = cin;
    this.fc = this.add(1, new Linear(cin, numClasses));
  }
  forward(x: Value): NetworkOutput {
    const g = x.graph;
    const features: NetworkOutput['features'] = [];
    let y = this.stem.call(x);
    features.push({ name: 'out_stage0', value: y });
    this.layers.forEach((blocks, i) => {
      y = g.withScope(`layer_${i + 1}`, () => blocks.reduce((h, m) => m.call(h), y));
      features.push({ name: `out_stage${i + 1}`, value: y });
    });
    features.push({ name: 'out_stage6', value: y });
    const pooled = reshape(reduceMean(y, [2, 3], true), [y.shape[0], this.outChannels]);
    const logits = g.withScope('classifier', () => this.fc.call(pooled));
    return { logits, features, preLogits: pooled };
  }
}
