/**
 * Optimizer update rules built as graph ops, so that a whole training step (forward, loss,
 * backward, clipping, update) lowers to one ONNX graph. Everything that changes from step to step
 * (learning rate, bias corrections) enters as scalar graph inputs: the graph is never rebuilt.
 *
 * AdamW follows torch.optim.AdamW (torch 1.13, single-tensor path): decoupled decay scaled by lr,
 * applied first; ε added after √v is divided by √(1−β2^t). SGD follows torch.optim.SGD: L2 decay
 * added to the gradient, momentum buffer (first step: buf = g), optional Nesterov and dampening.
 */
import { HybridVisionError } from '../tensor.js';
import type { Value } from '../graph/ir.js';
import { add, div, mul, sqrt, sub } from '../graph/ops/elementwise.js';

/**
 * Which parameters get weight decay, given the state-dict key, the shape and the module's own
 * declaration (`declared`: the decay flag its constructor set; absent for tensors no module declares).
 */
export type DecayMask = (key: string, shape: readonly number[], declared?: boolean) => boolean;

/** Every parameter decays (torch's default single parameter group; what the golden cases use). */
export const decayAll: DecayMask = () => true;
/**
 * The usual exclusion, as the modules declare it: no decay for norm weights, biases and
 * Mobile-Former's tokens. A tensor without a declaration decays when it has more than one axis.
 */
export const noDecayNormsAndBiases: DecayMask = (_key, shape, declared) => declared ?? shape.length > 1;

export interface Optimizer {
  readonly kind: 'adamw' | 'sgd';
  /** Per-parameter state slots (torch names), each the shape of the parameter. */
  readonly slots: readonly string[];
  /** Names of the scalar graph inputs the update reads. */
  readonly scalarNames: readonly string[];
  /** Host side: the scalar inputs at step t (1-based: the step being taken) with learning rate lr. */
  scalars(t: number, lr: number): Record<string, number>;
  /** Builds the update of one parameter from its gradient and state. */
  update(p: Value, g: Value, state: readonly Value[], s: Readonly<Record<string, Value>>, decay: boolean): { param: Value; state: Value[] };
  /** Whether `key` gets weight decay (`declared`: the module's decay flag for it). */
  decays(key: string, shape: readonly number[], declared?: boolean): boolean;
  /** The same rule on the host in float64 (reference for tests; returns new param and state). */
  updateHost(p: Float32Array, g: Float32Array, state: Float32Array[], t: number, lr: number, decay: boolean): { param: Float32Array; state: Float32Array[] };
  readonly config: Readonly<Record<string, unknown>>;
}

export interface AdamWOptions {
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** Which parameters decay (default: all, as torch with one parameter group). */
  decayMask?: DecayMask;
}

export function adamw(opts: AdamWOptions = {}): Optimizer {
  const [b1, b2] = opts.betas ?? [0.9, 0.999];
  const eps = opts.eps ?? 1e-8;
  const wd = opts.weightDecay ?? 0.01;
  const mask = opts.decayMask ?? decayAll;
  if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) throw new HybridVisionError(`AdamW betas must be in [0, 1), got ${b1}, ${b2}`);
  if (!(eps > 0) || !(wd >= 0)) throw new HybridVisionError('AdamW eps must be > 0 and weight decay >= 0');
  return {
    kind: 'adamw',
    slots: ['exp_avg', 'exp_avg_sq'],
    scalarNames: ['opt.decay', 'opt.step_size', 'opt.bc2_sqrt'],
    config: { betas: [b1, b2], eps, weightDecay: wd },
    scalars: (t, lr) => ({
      'opt.decay': 1 - lr * wd,
      'opt.step_size': lr / (1 - b1 ** t),
      'opt.bc2_sqrt': Math.sqrt(1 - b2 ** t),
    }),
    update: (p, g, [m, v], s, decay) => {
      const p1 = decay && wd !== 0 ? mul(p, s['opt.decay']) : p;
      const m1 = add(mul(m, b1), mul(g, 1 - b1));
      const v1 = add(mul(v, b2), mul(mul(g, g), 1 - b2));
      const denom = add(div(sqrt(v1), s['opt.bc2_sqrt']), eps);
      return { param: sub(p1, mul(div(m1, denom), s['opt.step_size'])), state: [m1, v1] };
    },
    decays: (k, shape, declared) => wd !== 0 && mask(k, shape, declared),
    updateHost: (p, g, [m, v], t, lr, decay) => {
      const n = p.length;
      const P = new Float32Array(n);
      const M = new Float32Array(n);
      const V = new Float32Array(n);
      const stepSize = lr / (1 - b1 ** t);
      const bc2 = Math.sqrt(1 - b2 ** t);
      for (let i = 0; i < n; i++) {
        const th = decay ? p[i] * (1 - lr * wd) : p[i];
        const mi = b1 * m[i] + (1 - b1) * g[i];
        const vi = b2 * v[i] + (1 - b2) * g[i] * g[i];
        M[i] = mi;
        V[i] = vi;
        P[i] = th - (stepSize * mi) / (Math.sqrt(vi) / bc2 + eps);
      }
      return { param: P, state: [M, V] };
    },
  };
}

export interface SGDOptions {
  momentum?: number;
  dampening?: number;
  nesterov?: boolean;
  /** L2 weight decay added to the gradient (torch SGD semantics). */
  weightDecay?: number;
  decayMask?: DecayMask;
}

export function sgd(opts: SGDOptions = {}): Optimizer {
  const mom = opts.momentum ?? 0;
  const damp = opts.dampening ?? 0;
  const nesterov = opts.nesterov ?? false;
  const wd = opts.weightDecay ?? 0;
  const mask = opts.decayMask ?? decayAll;
  if (nesterov && (mom <= 0 || damp !== 0)) throw new HybridVisionError('Nesterov momentum requires a momentum and zero dampening');
  return {
    kind: 'sgd',
    slots: mom !== 0 ? ['momentum_buffer'] : [],
    // opt.buf_scale: 1 at the first step (torch initialises the buffer to the gradient), else 1 - dampening.
    scalarNames: mom !== 0 ? ['opt.lr', 'opt.buf_scale'] : ['opt.lr'],
    config: { momentum: mom, dampening: damp, nesterov, weightDecay: wd },
    scalars: (t, lr): Record<string, number> => (mom !== 0 ? { 'opt.lr': lr, 'opt.buf_scale': t <= 1 ? 1 : 1 - damp } : { 'opt.lr': lr }),
    update: (p, g, state, s, decay) => {
      let d = decay && wd !== 0 ? add(g, mul(p, wd)) : g;
      const out: Value[] = [];
      if (mom !== 0) {
        const buf = add(mul(state[0], mom), mul(d, s['opt.buf_scale']));
        out.push(buf);
        d = nesterov ? add(d, mul(buf, mom)) : buf;
      }
      return { param: sub(p, mul(d, s['opt.lr'])), state: out };
    },
    decays: (k, shape, declared) => wd !== 0 && mask(k, shape, declared),
    updateHost: (p, g, state, t, lr, decay) => {
      const n = p.length;
      const P = new Float32Array(n);
      const B = new Float32Array(n);
      const scale = t <= 1 ? 1 : 1 - damp;
      for (let i = 0; i < n; i++) {
        let d = decay ? g[i] + wd * p[i] : g[i];
        if (mom !== 0) {
          const b = mom * state[0][i] + scale * d;
          B[i] = b;
          d = nesterov ? d + mom * b : b;
        }
        P[i] = p[i] - lr * d;
      }
      return { param: P, state: mom !== 0 ? [B] : [] };
    },
  };
}
