/**
 * A compiled training step: forward in train mode (BatchNorm on batch statistics with running-stat
 * updates) → loss → backward over the trainable, unfrozen parameters → optional global-norm
 * clipping → optimizer update, lowered to ONE ONNX graph of standard ops and run by the engine.
 *
 * The graph is built once per input shape. Learning rate and bias corrections are scalar graph
 * inputs, so schedules never rebuild it. Parameters, optimizer state and BatchNorm statistics live
 * in host buffers that pass from step to step: each step feeds the current buffers (no copy) and
 * the engine writes the new values into a second, pre-allocated set (ping-pong, passed to
 * onnxruntime-node as pre-allocated outputs), so no step allocates state buffers. Parameters and
 * optimizer moments travel as one flat vector per parameter group, so the optimizer is ~14
 * elementwise ops per group rather than per tensor. (onnxruntime-node 1.30 writes the
 * pre-allocated buffers but still returns its own copy of each output, in a new ArrayBuffer;
 * bench/train_step.ts measures what the outputs cost per step: 2–7 ms with pre-allocated buffers
 * and 4–9 ms with fresh ones, for 8–25 MB of state at batch 32.)
 */
import { grad } from '../graph/autodiff.js';
import type { Graph, Value } from '../graph/ir.js';
import { add, clip, div, mul, sqrt } from '../graph/ops/elementwise.js';
import { reduceSum } from '../graph/ops/reduce.js';
import { concat, reshape } from '../graph/ops/shape.js';
import type { DropoutConfig, GraphOptionsInit } from '../graph/options.js';
import { lowerToOnnx } from '../onnx/lower.js';
import { getEngine, type Session } from '../runtime/engine.js';
import type { HybridModel } from '../models/model.js';
import { HybridVisionError, numel, shapeStr, type HostTensor } from '../tensor.js';
import { crossEntropy, labelTensor, softTargetCrossEntropy } from './loss.js';
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

export interface StepResult {
  loss: number;
  /** [N, numClasses], a fresh copy. */
  logits: HostTensor;
  /** Global gradient L2 norm before clipping (when clipping or `gradNorm` is on). */
  gradNorm?: number;
  /** Optimizer steps taken so far (after this one). */
  step: number;
  /** Learning rate used by this step. */
  lr: number;
}

export interface OptimizerState {
  /** Number of optimizer updates taken. */
  step: number;
  /** slot name (e.g. exp_avg) -> parameter key -> tensor */
  slots: Map<string, Map<string, HostTensor>>;
}

/** Resolves a freeze spec to a predicate on parameter keys. */
export function frozenPredicate(model: HybridModel, spec: FreezeSpec | undefined): (key: string) => boolean {
  if (spec === undefined || spec === 'none') return () => false;
  if (spec === 'backbone') return (k) => !model.spec.headPrefixes.some((p) => k.startsWith(p));
  if (typeof spec === 'function') return spec;
  const prefixes = [...spec];
  return (k) => prefixes.some((p) => k === p || k.startsWith(p.endsWith('.') ? p : `${p}.`));
}

const f32 = (shape: number[], data?: Float32Array): HostTensor => ({ dtype: 'float32', shape: [...shape], data: data ?? new Float32Array(numel(shape)) });
const scalarT = (x: number): HostTensor => ({ dtype: 'float32', shape: [], data: new Float32Array([x]) });

/** Tensors laid out back to back in one flat float32 vector. */
export interface FlatLayout {
  keys: string[];
  shapes: number[][];
  offsets: number[];
  total: number;
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

/** Parameters updated together, as one flat vector (torch's parameter group; decay on or off). */
export interface ParamGroup extends FlatLayout {
  name: string;
  decay: boolean;
}

/** A train step's graph before lowering (exposed for tests, benchmarks and custom lowerings). */
export interface BuiltTrainStep {
  graph: Graph;
  outputs: { name: string; value: Value }[];
  trainable: string[];
  frozen: string[];
  groups: ParamGroup[];
  /** running_mean / running_var keys updated by the step, flat in output `new:stats`. */
  stats: FlatLayout;
  update: boolean;
}

const flat = (vs: Value[]): Value => concat(vs.map((v) => reshape(v, [v.size])), 0);

/**
 * Builds (does not lower) the training-step graph.
 *
 * Graph inputs: `input`, `labels` (int64 [N]) or `targets` ([N, C]), each parameter and running
 * statistic by its key, the optimizer scalars (`opt.*`), and per parameter group the flat optimizer
 * slots `<slot>@<group>`. Outputs: `loss`, `logits`, `new:params@<group>` and `new:<slot>@<group>`
 * (flat), `new:stats` (all running statistics, flat), optional `grad@<group>` and `grad_norm`.
 * The optimizer runs on the flat group vectors: ~14 elementwise ops per group instead of per tensor.
 */
export function buildTrainGraph(model: HybridModel, inputShape: number[], o: TrainStepOptions = {}): BuiltTrainStep {
  const update = o.update ?? true;
  const opt = o.optimizer ?? adamw({ weightDecay: 0.05 });
  const b = model.build(inputShape, { mode: 'train', dropout: o.dropout ?? null, lowering: o.lowering });
  const g = b.graph;
  const logits = b.out.logits;
  const [n, c] = logits.shape;
  const soft = o.targets === 'soft';
  if (soft && o.labelSmoothing) throw new HybridVisionError('label smoothing applies to integer labels; smooth soft targets on the host (smoothTargets / mixTargets)');
  const target = soft ? g.input('targets', [n, c]) : g.input('labels', [n], 'int64');
  const loss = soft ? softTargetCrossEntropy(logits, target) : crossEntropy(logits, target, o.labelSmoothing ?? 0);

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
  parts.forEach(({ ps, i, name }) => {
    if (ps.length === 0) return;
    groups.push({ name, decay: update && i === 0, ...layoutOf(ps) });
    members.push(ps);
    gflat.push(g.withScope('backward', () => flat(ps.map((p) => gradOf.get(p.name)!))));
  });
  if (o.outputGradients || !update) groups.forEach((gr, i) => outputs.push({ name: `grad@${gr.name}`, value: gflat[i] }));

  let clipped = gflat;
  if (o.clipGradNorm != null || o.gradNorm) {
    const norm = g.withScope('clip', () => {
      let total: Value | null = null;
      for (const gv of gflat) {
        const s = reduceSum(mul(gv, gv), [0]);
        total = total ? add(total, s) : s;
      }
      return sqrt(total!);
    });
    outputs.push({ name: 'grad_norm', value: norm });
    if (o.clipGradNorm != null) {
      if (!(o.clipGradNorm > 0)) throw new HybridVisionError(`clipGradNorm must be > 0, got ${o.clipGradNorm}`);
      const coef = clip(div(o.clipGradNorm, add(norm, 1e-6)), 0, 1);
      clipped = gflat.map((gv) => mul(gv, coef));
    }
  }

  if (update) {
    const scalars: Record<string, Value> = {};
    for (const s of opt.scalarNames) scalars[s] = g.input(s, []);
    g.withScope('optimizer', () => {
      groups.forEach((gr, i) => {
        const p = flat(members[i]);
        const state = opt.slots.map((slot) => g.input(`${slot}@${gr.name}`, [gr.total]));
        const r = opt.update(p, clipped[i], state, scalars, gr.decay);
        outputs.push({ name: `new:params@${gr.name}`, value: r.param });
        opt.slots.forEach((slot, k) => outputs.push({ name: `new:${slot}@${gr.name}`, value: r.state[k] }));
      });
    });
  }
  const statKeys = [...g.stateUpdates.keys()];
  const stats = layoutOf(statKeys.map((k) => g.params.get(k)!));
  if (statKeys.length) outputs.push({ name: 'new:stats', value: flat(statKeys.map((k) => g.stateUpdates.get(k)!)) });
  return { graph: g, outputs, trainable: params.map((p) => p.name), frozen, groups, stats, update };
}

/** Two flat buffers (current / next) with per-tensor views into each. */
class PingPong {
  readonly bufs: [Float32Array, Float32Array];
  readonly views: [Map<string, HostTensor>, Map<string, HostTensor>];
  constructor(
    readonly layout: FlatLayout,
    rotating: boolean,
  ) {
    const a = new Float32Array(layout.total);
    this.bufs = [a, rotating ? new Float32Array(layout.total) : a];
    this.views = [new Map(), new Map()];
    for (let p = 0; p < 2; p++) {
      layout.keys.forEach((k, i) => {
        const off = layout.offsets[i];
        this.views[p].set(k, { dtype: 'float32', shape: layout.shapes[i], data: this.bufs[p].subarray(off, off + numel(layout.shapes[i])) });
      });
    }
  }
  flat(parity: number): HostTensor {
    return { dtype: 'float32', shape: [this.layout.total], data: this.bufs[parity] };
  }
}

export class TrainStep {
  /** Optimizer updates taken so far. */
  step = 0;
  readonly numClasses: number;
  readonly trainable: readonly string[];
  readonly frozen: readonly string[];
  readonly optimizer: Optimizer | null;
  /** ONNX node count of the lowered step (for reports). */
  nodeCount = 0;
  /** Serialized ONNX size in bytes. */
  modelBytes = 0;
  /** Bytes the engine writes to host outputs per step (parameters, optimizer state, statistics, ...). */
  readonly outputBytes: number;
  /** Which of the two buffer sets holds the current state. */
  private parity = 0;
  private feedNames: string[];
  private params = new Map<string, PingPong>();
  private slots = new Map<string, PingPong>();
  private stats: PingPong | null = null;
  private grads = new Map<string, PingPong>();
  private frozenW = new Map<string, HostTensor>();
  private nbt = new Map<string, HostTensor>();
  private lossBuf = scalarT(0);
  private normBuf: HostTensor | null = null;
  private logitsBuf: HostTensor;
  private lr: number | Schedule;

  private constructor(
    readonly model: HybridModel,
    readonly inputShape: readonly number[],
    readonly options: TrainStepOptions,
    private session: Session,
    readonly built: Omit<BuiltTrainStep, 'graph' | 'outputs'>,
  ) {
    const update = built.update;
    this.optimizer = update ? options.optimizer ?? adamw({ weightDecay: 0.05 }) : null;
    this.numClasses = model.numClasses;
    this.trainable = built.trainable;
    this.frozen = built.frozen;
    this.lr = options.lr ?? 1e-3;
    this.logitsBuf = f32([inputShape[0], this.numClasses]);
    this.feedNames = [...session.inputNames];
    const w = model.weights;
    const fill = (pp: PingPong) => {
      for (const [k, view] of pp.views[0]) {
        const t = w.get(k);
        if (!t || t.data.length !== view.data.length) throw new HybridVisionError(`model weight ${k} is missing or has the wrong size`);
        (view.data as Float32Array).set(t.data as Float32Array);
      }
    };
    for (const k of built.frozen) {
      const t = w.get(k)!;
      this.frozenW.set(k, f32(t.shape, (t.data as Float32Array).slice()));
    }
    for (const gr of built.groups) {
      const pp = new PingPong(gr, update);
      fill(pp);
      this.params.set(gr.name, pp);
      for (const slot of this.optimizer?.slots ?? []) this.slots.set(`${slot}@${gr.name}`, new PingPong(gr, true));
      if (options.outputGradients || !update) this.grads.set(gr.name, new PingPong(gr, false));
    }
    if (built.stats.keys.length) {
      this.stats = new PingPong(built.stats, true);
      fill(this.stats);
      for (const k of built.stats.keys) {
        const nk = k.replace(/running_(mean|var)$/, 'num_batches_tracked');
        if (nk !== k && model.stateShapes().has(nk) && !this.nbt.has(nk)) {
          const t = w.get(nk);
          this.nbt.set(nk, { dtype: 'int64', shape: [], data: t && t.dtype === 'int64' ? (t.data as BigInt64Array).slice() : new BigInt64Array(1) });
        }
      }
    }
    if (options.clipGradNorm != null || options.gradNorm) this.normBuf = scalarT(0);
    let bytes = 4 + this.logitsBuf.data.byteLength + (this.normBuf ? 4 : 0);
    for (const gr of built.groups) bytes += 4 * gr.total * ((update ? 1 + (this.optimizer?.slots.length ?? 0) : 0) + (this.grads.size ? 1 : 0));
    bytes += 4 * built.stats.total;
    this.outputBytes = bytes;
  }

  /** Compiles the step for `model` at input shape [N, 3, H, W]. */
  static async create(model: HybridModel, inputShape: number[], options: TrainStepOptions = {}): Promise<TrainStep> {
    const built = buildTrainGraph(model, inputShape, options);
    const lowered = lowerToOnnx(built.graph, { outputs: built.outputs, params: 'input', metadata: { model: model.name, kind: 'train_step' } });
    const session = await getEngine().createSession(lowered.bytes, { threads: options.threads ?? model.threads, profilePrefix: options.profilePrefix });
    const { graph: _g, outputs: _o, ...rest } = built;
    const ts = new TrainStep(model, inputShape, options, session, rest);
    ts.nodeCount = lowered.nodeCount;
    ts.modelBytes = lowered.bytes.length;
    return ts;
  }

  /** The learning rate the next step would use. */
  currentLr(): number {
    return typeof this.lr === 'function' ? this.lr(this.step) : this.lr;
  }

  setLr(lr: number | Schedule): void {
    this.lr = lr;
  }

  private targetsTensor(t: HostTensor | ArrayLike<number> | BigInt64Array): HostTensor {
    const n = this.inputShape[0];
    if (this.options.targets === 'soft') {
      const h = t as HostTensor;
      if (!h || h.dtype !== 'float32' || h.shape.length !== 2 || h.shape[0] !== n || h.shape[1] !== this.numClasses) {
        throw new HybridVisionError(`soft targets must be float32 [${n}, ${this.numClasses}]`);
      }
      return h;
    }
    const arr = 'dtype' in (t as object) && 'shape' in (t as object) ? ((t as HostTensor).data as ArrayLike<number> | BigInt64Array) : (t as ArrayLike<number> | BigInt64Array);
    if (arr.length !== n) throw new HybridVisionError(`expected ${n} labels, got ${arr.length}`);
    return labelTensor(arr, this.numClasses);
  }

  private feeds(images: HostTensor, targets: HostTensor | ArrayLike<number> | BigInt64Array, lr: number): Record<string, HostTensor> {
    if (images.dtype !== 'float32' || images.shape.join(',') !== this.inputShape.join(',')) {
      throw new HybridVisionError(`train step compiled for float32 ${shapeStr([...this.inputShape])}, got ${images.dtype} ${shapeStr(images.shape)}`);
    }
    if (!Number.isFinite(lr) || lr < 0) throw new HybridVisionError(`learning rate must be finite and >= 0, got ${lr}`);
    const extra: Record<string, HostTensor> = { input: images };
    extra[this.options.targets === 'soft' ? 'targets' : 'labels'] = this.targetsTensor(targets);
    if (this.optimizer) for (const [k, v] of Object.entries(this.optimizer.scalars(this.step + 1, lr))) extra[k] = scalarT(v);
    const feeds: Record<string, HostTensor> = { ...this.stateFeeds(this.parity) };
    for (const [k, t] of Object.entries(extra)) if (k in feeds || this.feedNames.includes(k)) feeds[k] = t;
    for (const name of this.feedNames) if (!feeds[name]) throw new HybridVisionError(`train step: no value for graph input ${name}`);
    return feeds;
  }

  private feedCache: [Record<string, HostTensor> | null, Record<string, HostTensor> | null] = [null, null];
  /** Feeds of the state (parameters, statistics, optimizer slots) for one buffer set; the views never change. */
  private stateFeeds(parity: number): Record<string, HostTensor> {
    let c = this.feedCache[parity];
    if (!c) {
      c = {};
      for (const name of this.feedNames) {
        const t = this.slots.get(name)?.flat(parity) ?? this.lookup(name, parity);
        if (t) c[name] = t;
      }
      this.feedCache[parity] = c;
    }
    return c;
  }

  private lookup(key: string, parity: number): HostTensor | undefined {
    for (const pp of this.params.values()) {
      const v = pp.views[parity].get(key);
      if (v) return v;
    }
    return this.stats?.views[parity].get(key) ?? this.frozenW.get(key);
  }

  private outputsInto(): Record<string, HostTensor> {
    const next = 1 - this.parity;
    const into: Record<string, HostTensor> = { loss: this.lossBuf, logits: this.logitsBuf };
    if (this.normBuf) into['grad_norm'] = this.normBuf;
    if (this.optimizer) for (const [g, pp] of this.params) into[`new:params@${g}`] = pp.flat(next);
    for (const [k, pp] of this.slots) into[`new:${k}`] = pp.flat(next);
    if (this.stats) into['new:stats'] = this.stats.flat(next);
    for (const [g, pp] of this.grads) into[`grad@${g}`] = pp.flat(0);
    return into;
  }

  /**
   * One training step on a batch: images [N, 3, H, W] float32; labels (int class indices) or soft
   * targets [N, C] depending on the `targets` option. The engine writes the new state into the
   * second buffer set, which then becomes current.
   */
  async run(images: HostTensor, targets: HostTensor | ArrayLike<number> | BigInt64Array, opts: { lr?: number } = {}): Promise<StepResult> {
    const lr = opts.lr ?? this.currentLr();
    const feeds = this.feeds(images, targets, lr);
    const into = this.outputsInto();
    if (this.session.runInto) await this.session.runInto(feeds, into);
    else {
      const out = await this.session.run(feeds);
      for (const [k, t] of Object.entries(into)) (t.data as Float32Array).set(out[k].data as Float32Array);
    }
    this.parity = 1 - this.parity;
    for (const t of this.nbt.values()) (t.data as BigInt64Array)[0] += 1n;
    if (this.optimizer) this.step++;
    return {
      loss: (this.lossBuf.data as Float32Array)[0],
      logits: f32(this.logitsBuf.shape, (this.logitsBuf.data as Float32Array).slice()),
      gradNorm: this.normBuf ? (this.normBuf.data as Float32Array)[0] : undefined,
      step: this.step,
      lr,
    };
  }

  /**
   * Times the step's session three ways without changing the state: writing into the pre-allocated
   * buffers (what `run` does), returning fresh engine-allocated outputs, and fetching only the loss
   * (no output copies at all). Medians in ms.
   */
  async timeOutputModes(images: HostTensor, targets: HostTensor | ArrayLike<number> | BigInt64Array, runs = 5): Promise<{ prealloc: number; fresh: number; lossOnly: number }> {
    const feeds = this.feeds(images, targets, this.currentLr());
    const into = this.outputsInto();
    const t = { prealloc: [] as number[], fresh: [] as number[], lossOnly: [] as number[] };
    for (let i = 0; i < runs; i++) {
      let t0 = performance.now();
      if (this.session.runInto) await this.session.runInto(feeds, into);
      t.prealloc.push(performance.now() - t0);
      t0 = performance.now();
      await this.session.run(feeds);
      t.fresh.push(performance.now() - t0);
      t0 = performance.now();
      await this.session.run(feeds, ['loss']);
      t.lossOnly.push(performance.now() - t0);
    }
    const med = (a: number[]) => a.sort((x, y) => x - y)[a.length >> 1];
    return { prealloc: med(t.prealloc), fresh: med(t.fresh), lossOnly: med(t.lossOnly) };
  }

  /** The gradients of the last step (views valid until the next run), when `outputGradients` is on. */
  gradients(): Map<string, HostTensor> {
    if (this.grads.size === 0) throw new HybridVisionError('this train step does not output gradients (option outputGradients)');
    const m = new Map<string, HostTensor>();
    for (const pp of this.grads.values()) for (const [k, v] of pp.views[0]) m.set(k, v);
    return m;
  }

  /**
   * Current value of a parameter, running statistic, num_batches_tracked or optimizer slot
   * (`exp_avg:<key>`); a view, valid until the next run.
   */
  get(name: string): HostTensor | undefined {
    const colon = name.indexOf(':');
    if (colon > 0) {
      const slot = name.slice(0, colon);
      const key = name.slice(colon + 1);
      for (const [k, pp] of this.slots) if (k.startsWith(`${slot}@`) && pp.views[this.parity].has(key)) return pp.views[this.parity].get(key);
      return undefined;
    }
    return this.lookup(name, this.parity) ?? this.nbt.get(name);
  }

  /** Current parameters and buffers (official keys; views valid until the next run). */
  state(): Map<string, HostTensor> {
    const m = new Map<string, HostTensor>();
    for (const k of this.model.stateShapes().keys()) {
      const t = this.lookup(k, this.parity) ?? this.nbt.get(k);
      if (t) m.set(k, t);
    }
    return m;
  }

  /** A copy of the full state dict: the model's weights with the step's parameters and buffers. */
  stateDict(): Map<string, HostTensor> {
    const m = new Map<string, HostTensor>();
    for (const [k, t] of this.model.weights) m.set(k, t);
    for (const [k, t] of this.state()) m.set(k, { dtype: t.dtype, shape: [...t.shape], data: t.data.slice() as HostTensor['data'] });
    return m;
  }

  /** Copies the step's parameters and BatchNorm buffers back into model.weights. */
  sync(): void {
    this.model.loadStateDict(this.stateDict());
  }

  /** Overwrites parameters / buffers (official keys) in the step's state. */
  setWeights(weights: ReadonlyMap<string, HostTensor>): void {
    for (const [k, t] of weights) {
      const dst = this.lookup(k, this.parity) ?? this.nbt.get(k);
      if (!dst) continue;
      if (t.data.length !== dst.data.length) throw new HybridVisionError(`${k}: shape ${shapeStr(t.shape)}, expected ${shapeStr(dst.shape)}`);
      if (dst.dtype === 'int64') (dst.data as BigInt64Array)[0] = t.dtype === 'int64' ? (t.data as BigInt64Array)[0] : BigInt(Math.round(Number(t.data[0])));
      else (dst.data as Float32Array).set(t.data as Float32Array);
    }
  }

  /** A copy of the optimizer state (per parameter key). */
  optimizerState(): OptimizerState {
    const slots = new Map<string, Map<string, HostTensor>>();
    for (const slot of this.optimizer?.slots ?? []) {
      const m = new Map<string, HostTensor>();
      for (const k of this.trainable) {
        const t = this.get(`${slot}:${k}`)!;
        m.set(k, f32(t.shape, (t.data as Float32Array).slice()));
      }
      slots.set(slot, m);
    }
    return { step: this.step, slots };
  }

  /** Loads optimizer state (e.g. from a checkpoint); missing entries stay as they are. */
  loadOptimizerState(st: OptimizerState): void {
    this.step = st.step;
    for (const [slot, m] of st.slots) {
      for (const [k, t] of m) {
        const dst = this.get(`${slot}:${k}`);
        if (!dst) continue;
        if (t.data.length !== dst.data.length) throw new HybridVisionError(`optimizer state ${slot}:${k}: size mismatch`);
        (dst.data as Float32Array).set(t.data as Float32Array);
      }
    }
  }

  /** Ends engine profiling (when created with `profilePrefix`). */
  async endProfiling(): Promise<void> {
    await this.session.endProfiling?.();
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
