/**
 * The training-step graph: forward in train mode (BatchNorm on batch statistics with running-stat
 * updates) → loss → backward over the trainable, unfrozen parameters → optional global-norm
 * clipping → optimizer update, as ONE graph, described by a typed record of its inputs and outputs
 * (TrainGraphIO) so nothing downstream composes or parses tensor names.
 *
 * Parameters and optimizer moments travel as one flat vector per parameter group (torch's groups:
 * decay / no decay), so the optimizer is ~14 elementwise ops per group rather than per tensor.
 */
import { grad } from '../graph/autodiff.js';
import type { Graph, Value } from '../graph/ir.js';
import type { DropoutConfig, GraphOptionsInit } from '../graph/options.js';
import { add, clip, div, mul, sqrt } from '../graph/ops/elementwise.js';
import { reduceSum } from '../graph/ops/reduce.js';
import { concat, reshape } from '../graph/ops/shape.js';
import type { HybridModel } from '../models/model.js';
import { HybridVisionError } from '../tensor.js';
import { classification, type Objective } from './objective.js';
import { adamw, type Optimizer } from './optim.js';
import type { Schedule } from './schedule.js';

/** Which parameters are frozen: 'backbone' (everything but the classification head), key prefixes, or a predicate. */
export type FreezeSpec = 'backbone' | 'none' | readonly string[] | ((key: string) => boolean);

export interface TrainStepOptions {
  /** Default: AdamW(betas 0.9/0.999, eps 1e-8, weight decay 0.05, decay on every parameter). */
  optimizer?: Optimizer;
  /** 'labels': int class indices [N] (cross-entropy with `labelSmoothing`); 'soft': float targets [N, C] (mixup/cutmix). */
  targets?: 'labels' | 'soft';
  labelSmoothing?: number;
  /** What the step minimises (default: classification with `targets` and `labelSmoothing`); other tasks bring their own. */
  objective?: Objective;
  /** Clip the gradient by its global L2 norm (torch clip_grad_norm_: coef = max/(norm + 1e-6), capped at 1). */
  clipGradNorm?: number | null;
  /** Frozen parameters get no gradient and no update (BatchNorm statistics still update in train mode). */
  freeze?: FreezeSpec;
  /** Also output each parameter's gradient (before clipping), readable via `gradients()`. */
  outputGradients?: boolean;
  /** Output the global gradient norm (always on when clipping). */
  gradNorm?: boolean;
  /** Learning rate, or a schedule of the step index (0-based); `run(..., { lr })` overrides it. Default 1e-3. */
  lr?: number | Schedule;
  /** false: no optimizer in the graph; the step only computes loss, logits, gradients and BN statistics. */
  update?: boolean;
  /** Engine intra-op threads (default: the model's). */
  threads?: number;
  /** Profile every engine node to files with this prefix (tools/profile.ts reads them). */
  profilePrefix?: string;
  /**
   * Dropout / drop-path from ONNX Runtime's seeded generator at the sites the model marks with
   * graph/ops/dropout.ts (rates: the model's × scale, or per-site overrides). Default: off (rate 0,
   * the golden cases' setting).
   */
  dropout?: DropoutConfig | null;
  /** Lowering choices over the training defaults (graph/options.ts; benchmarks and tests compare them). */
  lowering?: GraphOptionsInit['lowering'];
  /**
   * true (default): the optimizer runs on one flat vector per parameter group (decay / no decay);
   * false: one update per parameter tensor (~14 small ops each; kept for comparison).
   */
  flatOptimizer?: boolean;
}

/** The objective of a train step: the given one, or classification as `targets` / `labelSmoothing` say. */
export const objectiveOf = (o: TrainStepOptions): Objective => o.objective ?? classification(o.targets ?? 'labels', o.labelSmoothing ?? 0);

/** The default optimizer of a train step. */
export const defaultOptimizer = (o: TrainStepOptions): Optimizer => o.optimizer ?? adamw({ weightDecay: 0.05 });

/** Tensors laid out back to back in one flat float32 vector. */
export interface FlatLayout {
  keys: string[];
  shapes: number[][];
  offsets: number[];
  total: number;
}

/** One flat vector the graph reads (`input`) and/or writes (`output`), by ONNX name; null where it does not. */
export interface FlatIO {
  input: string | null;
  output: string | null;
}

/** Parameters updated together, as one flat vector (torch's parameter group; decay on or off). */
export interface ParamGroup extends FlatLayout {
  name: string;
  decay: boolean;
  /** The group's parameters: read per tensor (inputs named by their keys), written flat when the step updates. */
  params: { output: string | null };
  /** Optimizer slots (torch names, e.g. exp_avg), each read and written flat. */
  slots: { slot: string; input: string; output: string }[];
  /** The group's gradient (flat, before clipping) when output. */
  grad: string | null;
}

/** Every input and output of a train-step graph, typed. */
export interface TrainGraphIO {
  /** Images [N, 3, H, W]. */
  images: string;
  /** The objective's target input (e.g. int64 labels [N] or soft targets [N, C]). */
  targets: { name: string; shape: number[]; dtype: string };
  /** Optimizer scalars (learning rate, bias corrections): name per scalar of `Optimizer.scalarNames`. */
  scalars: Record<string, string>;
  groups: ParamGroup[];
  /** Frozen parameters: inputs named by their keys, never written. */
  frozen: string[];
  /** BatchNorm running statistics: read per tensor (by key), written flat. */
  stats: FlatLayout & { output: string | null };
  loss: string;
  logits: { name: string; shape: number[] };
  gradNorm: string | null;
}

/** A train step's graph before lowering (exposed for tests, benchmarks and custom lowerings). */
export interface BuiltTrainStep {
  graph: Graph;
  outputs: { name: string; value: Value }[];
  io: TrainGraphIO;
  /** Trainable, unfrozen parameter keys (state_dict order). */
  trainable: string[];
  frozen: string[];
  groups: ParamGroup[];
  stats: TrainGraphIO['stats'];
  update: boolean;
}

/** Resolves a freeze spec to a predicate on parameter keys. */
export function frozenPredicate(model: HybridModel, spec: FreezeSpec | undefined): (key: string) => boolean {
  if (spec === undefined || spec === 'none') return () => false;
  if (spec === 'backbone') {
    const bb = model.spec.backbonePrefixes;
    if (bb) return (k) => bb.some((p) => k.startsWith(p));
    return (k) => !model.spec.headPrefixes.some((p) => k.startsWith(p));
  }
  if (typeof spec === 'function') return spec;
  const prefixes = [...spec];
  return (k) => prefixes.some((p) => k === p || k.startsWith(p.endsWith('.') ? p : `${p}.`));
}

function layoutOf(values: readonly Value[]): FlatLayout {
  const offsets: number[] = [];
  let total = 0;
  for (const v of values) {
    offsets.push(total);
    total += v.size;
  }
  return { keys: values.map((v) => v.name), shapes: values.map((v) => [...v.shape]), offsets, total };
}

const flat = (vs: Value[]): Value => concat(vs.map((v) => reshape(v, [v.size])), 0);

/** Builds (does not lower) the training-step graph for `model` at input shape [N, 3, H, W]. */
export function buildTrainGraph(model: HybridModel, inputShape: number[], o: TrainStepOptions = {}): BuiltTrainStep {
  const update = o.update ?? true;
  const opt = defaultOptimizer(o);
  const b = model.build(inputShape, { mode: 'train', dropout: o.dropout ?? null, lowering: o.lowering });
  const g = b.graph;
  const logits = b.out.logits;
  const { target, loss } = objectiveOf(o).build(g, b.out);

  const isFrozen = frozenPredicate(model, o.freeze);
  // In state_dict order (the declarations'), whatever order the forward pass bound them in.
  const all = model.stateEntries().flatMap((e) => (e.buffer ? [] : [g.params.get(e.key)].filter((v): v is Value => v !== undefined)));
  const params = all.filter((v) => !isFrozen(v.name));
  const frozen = all.filter((v) => isFrozen(v.name)).map((v) => v.name);
  if (params.length === 0) throw new HybridVisionError('every parameter is frozen: nothing to train');
  const outputs: { name: string; value: Value }[] = [
    { name: 'loss', value: loss },
    { name: 'logits', value: logits },
  ];
  const grads = g.withScope('backward', () => grad([loss], [g.scalar(1)], params));
  const gradOf = new Map<string, Value>();
  // A parameter the loss does not reach has a zero gradient (its decay and moments still apply).
  params.forEach((p, i) => gradOf.set(p.name, grads[i] ?? mul(p, 0)));

  const declared = new Map(model.stateEntries().map((e) => [e.key, e.decay]));
  const split = update ? [true, false].map((d) => params.filter((p) => opt.decays(p.name, p.shape, declared.get(p.name)) === d)) : [params];
  const groups: ParamGroup[] = [];
  const gflat: Value[] = [];
  const members: Value[][] = [];
  const perTensor = o.flatOptimizer === false;
  const parts = perTensor ? split.flatMap((ps, i) => ps.map((p) => ({ ps: [p], i, name: p.name }))) : split.map((ps, i) => ({ ps, i, name: update ? (i === 0 ? 'decay' : 'no_decay') : 'all' }));
  const gradsOut = Boolean(o.outputGradients) || !update;
  parts.forEach(({ ps, i, name }) => {
    if (ps.length === 0) return;
    const gr: ParamGroup = { name, decay: update && i === 0, ...layoutOf(ps), params: { output: null }, slots: [], grad: gradsOut ? `grad@${name}` : null };
    groups.push(gr);
    members.push(ps);
    gflat.push(g.withScope('backward', () => flat(ps.map((p) => gradOf.get(p.name)!))));
  });
  groups.forEach((gr, i) => gr.grad && outputs.push({ name: gr.grad, value: gflat[i] }));

  let clipped = gflat;
  let gradNorm: string | null = null;
  if (o.clipGradNorm != null || o.gradNorm) {
    const norm = g.withScope('clip', () => {
      let total: Value | null = null;
      for (const gv of gflat) {
        const s = reduceSum(mul(gv, gv), [0]);
        total = total ? add(total, s) : s;
      }
      return sqrt(total!);
    });
    gradNorm = 'grad_norm';
    outputs.push({ name: gradNorm, value: norm });
    if (o.clipGradNorm != null) {
      if (!(o.clipGradNorm > 0)) throw new HybridVisionError(`clipGradNorm must be > 0, got ${o.clipGradNorm}`);
      const coef = clip(div(o.clipGradNorm, add(norm, 1e-6)), 0, 1);
      clipped = gflat.map((gv) => mul(gv, coef));
    }
  }

  const scalarNames: Record<string, string> = {};
  if (update) {
    const scalars: Record<string, Value> = {};
    for (const s of opt.scalarNames) scalars[s] = g.input((scalarNames[s] = s), []);
    g.withScope('optimizer', () => {
      groups.forEach((gr, i) => {
        const p = flat(members[i]);
        gr.slots = opt.slots.map((slot) => ({ slot, input: `${slot}@${gr.name}`, output: `new:${slot}@${gr.name}` }));
        const state = gr.slots.map((s) => g.input(s.input, [gr.total]));
        const r = opt.update(p, clipped[i], state, scalars, gr.decay);
        gr.params.output = `new:params@${gr.name}`;
        outputs.push({ name: gr.params.output, value: r.param });
        gr.slots.forEach((s, k) => outputs.push({ name: s.output, value: r.state[k] }));
      });
    });
  }
  const statKeys = [...g.stateUpdates.keys()];
  const stats = { ...layoutOf(statKeys.map((k) => g.params.get(k)!)), output: statKeys.length ? 'new:stats' : null };
  if (stats.output) outputs.push({ name: stats.output, value: flat(statKeys.map((k) => g.stateUpdates.get(k)!)) });
  const io: TrainGraphIO = {
    images: b.input.name,
    targets: { name: target.name, shape: [...target.shape], dtype: target.dtype },
    scalars: scalarNames,
    groups,
    frozen,
    stats,
    loss: 'loss',
    logits: { name: 'logits', shape: [...logits.shape] },
    gradNorm,
  };
  return { graph: g, outputs, io, trainable: params.map((p) => p.name), frozen, groups, stats, update };
}
