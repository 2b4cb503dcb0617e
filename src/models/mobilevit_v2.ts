/**
 * MobileViTv2 and the v2-based MobileViTv3 (0.5 / 0.75 / 1.0), as in CVNets v0.2 with the
 * MobileViTv3 block files. Widths follow from the width multiplier. Keys: conv_1, layer_1..5,
 * classifier.1.
 */
import type { Graph, Value } from '../graph/ir.js';
import { add, mul, relu } from '../graph/ops/elementwise.js';
import { reduceSum } from '../graph/ops/reduce.js';
import { concat, reshape, slice } from '../graph/ops/shape.js';
import { softmax } from '../graph/ops/softmax.js';
import { linear, resizeBilinear, silu } from '../nn/functional.js';
import { layerNorm } from '../graph/ops/norm.js';
import { fold, unfold } from './mobilevit.js';
import { Linear } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { ConvLayer, InvertedResidual, cvnetsForward, makeDivisible } from './cvnets_layers.js';
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

/**
 * A 1x1 conv with bias (keys `<name>.block.conv.{weight [out, in, 1, 1], bias}`) applied to tokens
 * [M, in] as one Gemm: the transformer part runs channels-last.
 */
class Pointwise extends Module {
  constructor(
    readonly cin: number,
    readonly cout: number,
  ) {
    super();
  }
  /** The weight as [out, in] and the bias, optionally restricted to output rows [from, to). */
  weights(g: Graph, from = 0, to = this.cout): [Value, Value] {
    return g.withScope(this.localName, () =>
      g.withScope('block', () =>
        g.withScope('conv', () => {
          const w = reshape(this.param(g, 'weight', [this.cout, this.cin, 1, 1]), [this.cout, this.cin]);
          const b = this.param(g, 'bias', [this.cout]);
          return [slice(w, [from], [to], [0]), slice(b, [from], [to], [0])];
        }),
      ),
    );
  }
  forward(x: Value): Value {
    const [w, b] = this.weights(x.graph);
    return linear(x, w, b);
  }
  /** Bypasses `call`'s scope push: `weights` pushes the name itself. */
  apply(x: Value, from?: number, to?: number): Value {
    const [w, b] = this.weights(x.graph, from, to);
    return linear(x, w, b);
  }
}

/** GroupNorm(1, d) over a sample's tokens [B*P*N, d]: statistics over all of P, N and d jointly. */
class TokenGroupNorm extends Module {
  constructor(
    readonly d: number,
    readonly batch: () => number,
  ) {
    super();
  }
  forward(x: Value): Value {
    const g = x.graph;
    const b = this.batch();
    const y = reshape(layerNorm(reshape(x, [b, -1]), null, null, 1, 1e-5), [...x.shape]);
    return add(mul(y, this.param(g, 'weight', [this.d])), this.param(g, 'bias', [this.d]));
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
  /** x: tokens [B*P*N, d] laid out as [B, P, N]. */
  forward(x: Value, b: number): Value {
    const d = this.d;
    const n = x.shape[0] / (b * 4);
    const scores = softmax(reshape(this.qkv.apply(x, 0, 1), [b, 4, n, 1]), 2);
    const k = reshape(this.qkv.apply(x, 1, 1 + d), [b, 4, n, d]);
    const v = reshape(this.qkv.apply(x, 1 + d, 1 + 2 * d), [b, 4, n, d]);
    const ctx = reduceSum(mul(k, scores), [2], true); // [B, P, 1, d]
    return this.out.apply(reshape(mul(relu(v), ctx), [b * 4 * n, d]));
  }
}

/** LinearAttnFFN: x += attn(GN(x)); x += FFN(GN(x)). Keys pre_norm_attn.{0,1}, pre_norm_ffn.{0,1,3}. */
class LinearAttnFFN extends Module {
  n1: TokenGroupNorm;
  attn: LinearSelfAttention;
  n2: TokenGroupNorm;
  fc1: Pointwise;
  fc2: Pointwise;
  private b = 1;
  constructor(d: number, ffn: number) {
    super();
    this.n1 = this.add(0, new TokenGroupNorm(d, () => this.b));
    this.attn = this.add(1, new LinearSelfAttention(d));
    this.n2 = this.add(0, new TokenGroupNorm(d, () => this.b));
    this.fc1 = this.add(1, new Pointwise(d, ffn));
    this.fc2 = this.add(3, new Pointwise(ffn, d));
  }
  forward(x: Value, b: number): Value {
    const g = x.graph;
    this.b = b;
    x = add(x, g.withScope('pre_norm_attn', () => this.attn.call(this.n1.call(x), b)));
    return add(x, g.withScope('pre_norm_ffn', () => this.fc2.apply(silu(this.fc1.apply(this.n2.call(x))))));
  }
}

/** MobileViTv2 block (v2) and v2-based MobileViTv3 block (v3: global||local fusion plus input residual). */
class MobileViTv2Block extends Module {
  dw: ConvLayer;
  proj1x1: ConvLayer;
  layers: LinearAttnFFN[];
  finalNorm: TokenGroupNorm;
  convProj: ConvLayer;
  private batch = 1;
  constructor(
    readonly kind: 'v2' | 'v3',
    c: number,
    st: { d: number; ffn: number; depth: number },
  ) {
    super();
    this.dw = this.add(0, new ConvLayer(c, c, 3, { groups: c }));
    this.proj1x1 = this.add(1, new ConvLayer(c, st.d, 1, { norm: false, act: false }));
    this.layers = Array.from({ length: st.depth }, (_, i) => this.add(i, new LinearAttnFFN(st.d, st.ffn)));
    this.finalNorm = this.add(st.depth, new TokenGroupNorm(st.d, () => this.batch));
    this.convProj = this.add('conv_proj', new ConvLayer(kind === 'v3' ? 2 * st.d : st.d, c, 1, { act: false }));
  }
  forward(x: Value): Value {
    const g = x.graph;
    const [b, , h0, w0] = x.shape;
    const h = Math.ceil(h0 / 2) * 2;
    const w = Math.ceil(w0 / 2) * 2;
    if (h !== h0 || w !== w0) x = resizeBilinear(x, h, w, true);
    const local = g.withScope('local_rep', () => this.proj1x1.call(this.dw.call(x)));
    this.batch = b;
    let p = unfold(local);
    p = g.withScope('global_rep', () => {
      for (const l of this.layers) p = l.call(p, b);
      return this.finalNorm.call(p);
    });
    const fm = fold(p, b, h, w);
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
    return cvnetsForward(x, this.stem, this.layers, null, this.fc);
  }
}
