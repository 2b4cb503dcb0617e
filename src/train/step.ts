/**
 * A compiled training step: the one-graph step of ./train_graph.ts lowered to ONNX and run by the
 * engine, with its state in host buffers that pass from step to step (./state_buffers.ts).
 *
 * The graph is built once per input shape. Learning rate and bias corrections are scalar graph
 * inputs, so schedules never rebuild it. (onnxruntime-node 1.30 writes the pre-allocated buffers
 * but still returns its own copy of each output, in a new ArrayBuffer; bench/train_step.ts measures
 * what the outputs cost per step.)
 */
import { Program } from '../runtime/program.js';
import type { HybridModel } from '../models/model.js';
import { HybridVisionError, numel, shapeStr, type HostTensor } from '../tensor.js';
import type { Objective, TargetsInput } from './objective.js';
import type { Optimizer } from './optim.js';
import type { Schedule } from './schedule.js';
import { PingPong } from './state_buffers.js';
import { buildTrainGraph, defaultOptimizer, objectiveOf, type BuiltTrainStep, type TrainGraphIO, type TrainStepOptions } from './train_graph.js';

export { buildTrainGraph, frozenPredicate, type BuiltTrainStep, type FlatLayout, type FreezeSpec, type ParamGroup, type TrainGraphIO, type TrainStepOptions } from './train_graph.js';

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

const f32 = (shape: number[], data?: Float32Array): HostTensor => ({ dtype: 'float32', shape: [...shape], data: data ?? new Float32Array(numel(shape)) });
const scalarT = (x: number): HostTensor => ({ dtype: 'float32', shape: [], data: new Float32Array([x]) });

/** The feeds and output buffers of one step (what `run` passes to the program). */
export interface StepBinding {
  feeds: Record<string, HostTensor>;
  into: Record<string, HostTensor>;
}

export class TrainStep {
  /** Optimizer updates taken so far. */
  step = 0;
  readonly numClasses: number;
  readonly trainable: readonly string[];
  readonly frozen: readonly string[];
  readonly optimizer: Optimizer | null;
  /** ONNX node count of the lowered step (for reports). */
  readonly nodeCount: number;
  /** Serialized ONNX size in bytes. */
  readonly modelBytes: number;
  /** Bytes the engine writes to host outputs per step (parameters, optimizer state, statistics, ...). */
  readonly outputBytes: number;
  /** Which of the two buffer sets holds the current state. */
  private parity = 0;
  private params = new Map<string, PingPong>();
  /** Optimizer slots: slot name -> group name -> buffers. */
  private slots = new Map<string, Map<string, PingPong>>();
  private stats: PingPong | null = null;
  private grads = new Map<string, PingPong>();
  private frozenW = new Map<string, HostTensor>();
  private nbt = new Map<string, HostTensor>();
  private lossBuf = scalarT(0);
  private normBuf: HostTensor | null = null;
  private logitsBuf: HostTensor;
  private lr: number | Schedule;
  /** The step graph's inputs and outputs. */
  readonly io: TrainGraphIO;
  private readonly objective: Objective;

  private constructor(
    readonly model: HybridModel,
    readonly inputShape: readonly number[],
    readonly options: TrainStepOptions,
    /** The compiled step. */
    readonly program: Program,
    built: Omit<BuiltTrainStep, 'graph' | 'outputs'>,
  ) {
    const io = (this.io = built.io);
    this.optimizer = built.update ? defaultOptimizer(options) : null;
    this.numClasses = model.numClasses;
    this.trainable = built.trainable;
    this.frozen = built.frozen;
    this.lr = options.lr ?? 1e-3;
    this.nodeCount = program.nodeCount;
    this.modelBytes = program.modelBytes;
    this.logitsBuf = f32(io.logits.shape);
    this.objective = objectiveOf(options);
    const w = model.weights;
    const fill = (pp: PingPong) => {
      const bad = pp.fill(w);
      if (bad.length) throw new HybridVisionError(`model weight ${bad[0]} is missing or has the wrong size`);
    };
    for (const k of io.frozen) {
      const t = w.get(k)!;
      this.frozenW.set(k, f32(t.shape, (t.data as Float32Array).slice()));
    }
    for (const gr of io.groups) {
      const pp = new PingPong(gr, gr.params.output !== null);
      fill(pp);
      this.params.set(gr.name, pp);
      for (const s of gr.slots) {
        if (!this.slots.has(s.slot)) this.slots.set(s.slot, new Map());
        this.slots.get(s.slot)!.set(gr.name, new PingPong(gr, true));
      }
      if (gr.grad) this.grads.set(gr.name, new PingPong(gr, false));
    }
    if (io.stats.keys.length) {
      this.stats = new PingPong(io.stats, true);
      fill(this.stats);
      // The integer counters (num_batches_tracked) of the modules whose statistics the step updates.
      const prefix = (k: string) => k.slice(0, k.lastIndexOf('.') + 1);
      const updated = new Set(io.stats.keys.map(prefix));
      for (const e of model.stateEntries()) {
        if (!e.buffer || e.dtype !== 'int64' || !updated.has(prefix(e.key))) continue;
        const t = w.get(e.key);
        this.nbt.set(e.key, { dtype: 'int64', shape: [], data: t && t.dtype === 'int64' ? (t.data as BigInt64Array).slice() : new BigInt64Array(1) });
      }
    }
    if (io.gradNorm) this.normBuf = scalarT(0);
    let bytes = 4 + this.logitsBuf.data.byteLength + (this.normBuf ? 4 : 0);
    for (const gr of io.groups) bytes += 4 * gr.total * ((gr.params.output ? 1 : 0) + gr.slots.length + (gr.grad ? 1 : 0));
    bytes += 4 * io.stats.total;
    this.outputBytes = bytes;
  }

  /** Compiles the step for `model` at input shape [N, 3, H, W]. */
  static async create(model: HybridModel, inputShape: number[], options: TrainStepOptions = {}): Promise<TrainStep> {
    const built: BuiltTrainStep = buildTrainGraph(model, inputShape, options);
    const program = await Program.compile({
      graph: built.graph,
      outputs: built.outputs,
      params: 'input',
      metadata: { model: model.name, kind: 'train_step' },
      threads: options.threads ?? model.threads,
      profilePrefix: options.profilePrefix,
      // With the memory pattern, onnxruntime keeps the first run's arena chunks beside the planned
      // block, so the step's peak RSS held its activations twice: batch 32 at 64², MobileViTv3-XXS
      // 535 / 368 MB, 0.5 709 / 478, MF-26M 461 / 382 with / without; step time within noise
      // (tools/ab_session_options.js, docs/baselines.md).
      memoryPattern: false,
    });
    const { graph: _g, outputs: _o, ...rest } = built;
    return new TrainStep(model, inputShape, options, program, rest);
  }

  /** The learning rate the next step would use. */
  currentLr(): number {
    return typeof this.lr === 'function' ? this.lr(this.step) : this.lr;
  }

  setLr(lr: number | Schedule): void {
    this.lr = lr;
  }

  private feedCache: [Record<string, HostTensor> | null, Record<string, HostTensor> | null] = [null, null];
  /** Feeds of the state (parameters, statistics, optimizer slots) for one buffer set; the views never change. */
  private stateFeeds(parity: number): Record<string, HostTensor> {
    let c = this.feedCache[parity];
    if (!c) {
      c = {};
      for (const pp of this.params.values()) for (const [k, v] of pp.views[parity]) c[k] = v;
      if (this.stats) for (const [k, v] of this.stats.views[parity]) c[k] = v;
      for (const [k, v] of this.frozenW) c[k] = v;
      for (const gr of this.io.groups) for (const s of gr.slots) c[s.input] = this.slots.get(s.slot)!.get(gr.name)!.flat(parity);
      this.feedCache[parity] = c;
    }
    return c;
  }

  /** The feeds and output buffers of a step on this batch at learning rate `lr` (does not run it). */
  bind(images: HostTensor, targets: TargetsInput, lr = this.currentLr()): StepBinding {
    if (images.dtype !== 'float32' || images.shape.join(',') !== this.inputShape.join(',')) {
      throw new HybridVisionError(`train step compiled for float32 ${shapeStr([...this.inputShape])}, got ${images.dtype} ${shapeStr(images.shape)}`);
    }
    if (!Number.isFinite(lr) || lr < 0) throw new HybridVisionError(`learning rate must be finite and >= 0, got ${lr}`);
    const feeds: Record<string, HostTensor> = { ...this.stateFeeds(this.parity) };
    feeds[this.io.images] = images;
    feeds[this.io.targets.name] = this.objective.feed(targets, { target: this.io.targets.shape, logits: this.io.logits.shape });
    if (this.optimizer) for (const [k, v] of Object.entries(this.optimizer.scalars(this.step + 1, lr))) feeds[this.io.scalars[k]] = scalarT(v);
    for (const name of this.program.inputNames) if (!feeds[name]) throw new HybridVisionError(`train step: no value for graph input ${name}`);
    const next = 1 - this.parity;
    const into: Record<string, HostTensor> = { [this.io.loss]: this.lossBuf, [this.io.logits.name]: this.logitsBuf };
    if (this.normBuf && this.io.gradNorm) into[this.io.gradNorm] = this.normBuf;
    for (const gr of this.io.groups) {
      if (gr.params.output) into[gr.params.output] = this.params.get(gr.name)!.flat(next);
      for (const s of gr.slots) into[s.output] = this.slots.get(s.slot)!.get(gr.name)!.flat(next);
      if (gr.grad) into[gr.grad] = this.grads.get(gr.name)!.flat(0);
    }
    if (this.stats && this.io.stats.output) into[this.io.stats.output] = this.stats.flat(next);
    return { feeds, into };
  }

  /**
   * One training step on a batch: images [N, 3, H, W] float32; labels (int class indices) or soft
   * targets [N, C] depending on the `targets` option. The engine writes the new state into the
   * second buffer set, which then becomes current.
   */
  async run(images: HostTensor, targets: TargetsInput, opts: { lr?: number } = {}): Promise<StepResult> {
    const lr = opts.lr ?? this.currentLr();
    const { feeds, into } = this.bind(images, targets, lr);
    await this.program.runInto(feeds, into);
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

  /** The gradients of the last step (views valid until the next run), when `outputGradients` is on. */
  gradients(): Map<string, HostTensor> {
    if (this.grads.size === 0) throw new HybridVisionError('this train step does not output gradients (option outputGradients)');
    const m = new Map<string, HostTensor>();
    for (const pp of this.grads.values()) for (const [k, v] of pp.views[0]) m.set(k, v);
    return m;
  }

  private lookup(key: string, parity: number): HostTensor | undefined {
    for (const pp of this.params.values()) {
      const v = pp.views[parity].get(key);
      if (v) return v;
    }
    return this.stats?.views[parity].get(key) ?? this.frozenW.get(key);
  }

  /** An optimizer slot (e.g. exp_avg) of a parameter: a view, valid until the next run. */
  slot(slot: string, key: string): HostTensor | undefined {
    for (const pp of this.slots.get(slot)?.values() ?? []) {
      const v = pp.views[this.parity].get(key);
      if (v) return v;
    }
    return undefined;
  }

  /**
   * Current value of a parameter, running statistic, num_batches_tracked or optimizer slot
   * (`exp_avg:<key>`, as `slot('exp_avg', key)`); a view, valid until the next run.
   */
  get(name: string): HostTensor | undefined {
    const colon = name.indexOf(':');
    if (colon > 0) return this.slot(name.slice(0, colon), name.slice(colon + 1));
    return this.lookup(name, this.parity) ?? this.nbt.get(name);
  }

  /** Current parameters and buffers (official keys; views valid until the next run). */
  state(): Map<string, HostTensor> {
    const m = new Map<string, HostTensor>();
    for (const e of this.model.stateEntries()) {
      const t = this.lookup(e.key, this.parity) ?? this.nbt.get(e.key);
      if (t) m.set(e.key, t);
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
        const t = this.slot(slot, k)!;
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
        const dst = this.slot(slot, k);
        if (!dst) continue;
        if (t.data.length !== dst.data.length) throw new HybridVisionError(`optimizer state ${slot}:${k}: size mismatch`);
        (dst.data as Float32Array).set(t.data as Float32Array);
      }
    }
  }

  /** Ends engine profiling (when created with `profilePrefix`). */
  async endProfiling(): Promise<void> {
    await this.program.endProfiling();
  }

  async release(): Promise<void> {
    await this.program.release();
  }
}
