/** Basic layers with PyTorch parameter names, each declaring its tensors (shape, init, decay) up front. */
import type { Graph, Value } from '../graph/ir.js';
import { HybridVisionError } from '../tensor.js';
import { conv2d } from '../graph/ops/conv.js';
import { add } from '../graph/ops/elementwise.js';
import { matmul } from '../graph/ops/matmul.js';
import { reshape, transpose } from '../graph/ops/shape.js';
import { batchNormEval, layerNorm } from '../graph/ops/norm.js';
import { batchNormTrain, linear } from './functional.js';
import { Module, normal, ones, zeros, type InitRule } from './module.js';

export class Conv2d extends Module {
  constructor(
    readonly cin: number,
    readonly cout: number,
    readonly k: number,
    readonly opts: { stride?: number; groups?: number; bias?: boolean; padding?: number; dilation?: number; init?: InitRule; biasInit?: InitRule } = {},
  ) {
    super();
    // default: kaiming normal, fan_out (torch: out_channels·k·k whatever the groups), as CVNets and Mobile-Former init
    this.declareParam('weight', [cout, cin / (opts.groups ?? 1), k, k], opts.init ?? normal(Math.sqrt(2 / (cout * k * k))));
    if (opts.bias) this.declareParam('bias', [cout], opts.biasInit ?? zeros, { decay: false });
  }
  /** The weight [out, in/groups, k, k] and bias (or null) bound into g. */
  weights(g: Graph): [Value, Value | null] {
    return [this.bind(g, 'weight'), this.opts.bias ? this.bind(g, 'bias') : null];
  }
  /**
   * x: [N, C, H, W]; or, with `tokensHW` = [H, W], tokens [N, H·W, C] (a 1x1 conv only), read by one
   * matrix product that yields [N, C', H, W] without a Transpose of the tokens' channel axis.
   */
  forward(x: Value, tokensHW?: [number, number]): Value {
    const g = x.graph;
    const groups = this.opts.groups ?? 1;
    const s = this.opts.stride ?? 1;
    const d = this.opts.dilation ?? 1;
    const p = this.opts.padding ?? d * ((this.k - 1) >> 1);
    const [w, b] = this.weights(g);
    if (tokensHW) {
      if (this.k !== 1 || s !== 1 || groups !== 1 || x.rank !== 3 || x.shape[2] !== this.cin) throw new HybridVisionError(`conv on tokens [${x.shape}] needs a 1x1 conv over ${this.cin} channels`);
      const y = matmul(reshape(w, [this.cout, this.cin]), transpose(x, [0, 2, 1]));
      return reshape(b ? add(y, reshape(b, [this.cout, 1])) : y, [x.shape[0], this.cout, ...tokensHW]);
    }
    return conv2d(x, w, b, { stride: [s, s], pads: [p, p, p, p], groups, ...(d !== 1 ? { dilation: [d, d] as [number, number] } : {}) });
  }
}

/** BatchNorm1d/2d: running statistics in eval mode, batch statistics (and running updates) in training. */
export class BatchNorm extends Module {
  constructor(
    readonly c: number,
    readonly eps = 1e-5,
    readonly momentum = 0.1,
  ) {
    super();
    this.declareParam('weight', [c], ones, { decay: false });
    this.declareParam('bias', [c], zeros, { decay: false });
    this.declareBuffer('running_mean', [c], zeros);
    this.declareBuffer('running_var', [c], ones);
    this.declareBuffer('num_batches_tracked', [], zeros, 'int64');
  }
  forward(x: Value): Value {
    const g = x.graph;
    const [weight, bias, runningMean, runningVar] = ['weight', 'bias', 'running_mean', 'running_var'].map((n) => this.bind(g, n));
    if (!g.training) return batchNormEval(x, weight, bias, runningMean, runningVar, this.eps);
    const r = batchNormTrain(x, { weight, bias, runningMean, runningVar }, this.eps, this.momentum);
    g.stateUpdates.set(runningMean.name, r.mean);
    g.stateUpdates.set(runningVar.name, r.var);
    return r.y;
  }
}

/** CVNets' (and timm's) Linear init: truncated N(0, 0.02²) at ±2σ. */
export const TRUNC_NORMAL_002 = normal(0.02, 2);

export class Linear extends Module {
  constructor(
    readonly fin: number,
    readonly fout: number,
    readonly opts: { bias?: boolean; init?: InitRule } = {},
  ) {
    super();
    this.declareParam('weight', [fout, fin], opts.init ?? TRUNC_NORMAL_002);
    if (opts.bias !== false) this.declareParam('bias', [fout], zeros, { decay: false });
  }
  /** The weight [out, in] and bias (or null) bound into g. */
  weights(g: Graph): [Value, Value | null] {
    return [this.bind(g, 'weight'), this.opts.bias !== false ? this.bind(g, 'bias') : null];
  }
  forward(x: Value): Value {
    return linear(x, ...this.weights(x.graph));
  }
}

/** LayerNorm over the last dimension. */
export class LayerNorm extends Module {
  constructor(
    readonly d: number,
    readonly eps = 1e-5,
  ) {
    super();
    this.declareParam('weight', [d], ones, { decay: false });
    this.declareParam('bias', [d], zeros, { decay: false });
  }
  forward(x: Value): Value {
    const g = x.graph;
    return layerNorm(x, this.bind(g, 'weight'), this.bind(g, 'bias'), -1, this.eps);
  }
}
