/** Basic layers with PyTorch parameter names. */
import type { Value } from '../graph/ir.js';
import { HybridVisionError } from '../tensor.js';
import { conv2d } from '../graph/ops/conv.js';
import { add } from '../graph/ops/elementwise.js';
import { matmul } from '../graph/ops/matmul.js';
import { reshape, transpose } from '../graph/ops/shape.js';
import { batchNormEval, layerNorm } from '../graph/ops/norm.js';
import { batchNormTrain, linear } from './functional.js';
import { Module } from './module.js';

export class Conv2d extends Module {
  constructor(
    readonly cin: number,
    readonly cout: number,
    readonly k: number,
    readonly opts: { stride?: number; groups?: number; bias?: boolean; padding?: number } = {},
  ) {
    super();
  }
  /**
   * x: [N, C, H, W]; or, with `tokensHW` = [H, W], tokens [N, H·W, C] (a 1x1 conv only), read by one
   * matrix product that yields [N, C', H, W] without a Transpose of the tokens' channel axis.
   */
  forward(x: Value, tokensHW?: [number, number]): Value {
    const g = x.graph;
    const groups = this.opts.groups ?? 1;
    const s = this.opts.stride ?? 1;
    const p = this.opts.padding ?? (this.k - 1) >> 1;
    const w = this.param(g, 'weight', [this.cout, this.cin / groups, this.k, this.k]);
    const b = this.opts.bias ? this.param(g, 'bias', [this.cout]) : null;
    if (tokensHW) {
      if (this.k !== 1 || s !== 1 || groups !== 1 || x.rank !== 3 || x.shape[2] !== this.cin) throw new HybridVisionError(`conv on tokens [${x.shape}] needs a 1x1 conv over ${this.cin} channels`);
      const y = matmul(reshape(w, [this.cout, this.cin]), transpose(x, [0, 2, 1]));
      return reshape(b ? add(y, reshape(b, [this.cout, 1])) : y, [x.shape[0], this.cout, ...tokensHW]);
    }
    return conv2d(x, w, b, { stride: [s, s], pads: [p, p, p, p], groups });
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
  }
  forward(x: Value): Value {
    const g = x.graph;
    const weight = this.param(g, 'weight', [this.c]);
    const bias = this.param(g, 'bias', [this.c]);
    const runningMean = this.buffer(g, 'running_mean', [this.c]);
    const runningVar = this.buffer(g, 'running_var', [this.c]);
    this.buffer(g, 'num_batches_tracked', [], 'int64');
    if (!g.training) return batchNormEval(x, weight, bias, runningMean, runningVar, this.eps);
    const r = batchNormTrain(x, { weight, bias, runningMean, runningVar }, this.eps, this.momentum);
    g.stateUpdates.set(runningMean.name, r.mean);
    g.stateUpdates.set(runningVar.name, r.var);
    return r.y;
  }
}

export class Linear extends Module {
  constructor(
    readonly fin: number,
    readonly fout: number,
    readonly bias = true,
  ) {
    super();
  }
  forward(x: Value): Value {
    const g = x.graph;
    return linear(x, this.param(g, 'weight', [this.fout, this.fin]), this.bias ? this.param(g, 'bias', [this.fout]) : null);
  }
}

/** LayerNorm over the last dimension. */
export class LayerNorm extends Module {
  constructor(
    readonly d: number,
    readonly eps = 1e-5,
  ) {
    super();
  }
  forward(x: Value): Value {
    const g = x.graph;
    return layerNorm(x, this.param(g, 'weight', [this.d]), this.param(g, 'bias', [this.d]), -1, this.eps);
  }
}
