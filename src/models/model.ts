/** A model instance: architecture + weights, compiled to ONNX per input shape and run by the engine. */
import { Graph, type Value } from '../graph/ir.js';
import type { GraphOptionsInit } from '../graph/options.js';
import { lowerToOnnx } from '../onnx/lower.js';
import { Program, type ProgramSpec } from '../runtime/program.js';
import { HybridVisionError, numel, shapeStr, type HostTensor, type InputTensor } from '../tensor.js';
import { checkStateDict } from '../io/state_dict.js';
import { f16ToF32 } from '../half.js';
import { initState } from './init.js';
import type { StateEntry } from '../nn/module.js';
import type { ModelSpec, Network, NetworkOutput, PretrainedCfg } from './types.js';
import type { PretrainedOptions } from '../hub/hooks.js';

export interface Built {
  graph: Graph;
  input: Value;
  out: NetworkOutput;
  net: Network;
}

export interface CreateOptions extends PretrainedOptions {
  /** Fetch, check, convert and cache the official ImageNet weights (createModel then returns a Promise). */
  pretrained?: boolean;
  numClasses?: number;
  /** A state dict with official keys (e.g. from readCheckpoint / readSafetensors). */
  weights?: Map<string, HostTensor>;
  /** Seed for random initialisation when no weights are given. */
  seed?: number;
  /** Intra-op threads for the engine (default 2). */
  threads?: number;
  /** Class names, one per output (default: ImageNet names for 1000 classes). */
  labels?: string[];
  /** Overrides of the pretrained config (e.g. input size and normalisation of a model trained here). */
  cfg?: Partial<PretrainedCfg>;
}

export class HybridModel {
  readonly weights = new Map<string, HostTensor>();
  private sessions = new Map<string, Promise<Program>>();
  /** The module tree: its declarations are the state dict (keys, shapes, init, decay, buffers). */
  net: Network;
  private entries: StateEntry[];
  numClasses: number;
  threads: number;
  labels: string[] | null;
  /** This instance's preprocessing config: the family's pretrained config with any overrides. */
  cfg: PretrainedCfg;

  constructor(
    readonly spec: ModelSpec,
    opts: CreateOptions = {},
  ) {
    const rows = opts.weights?.get(spec.classifierKey)?.shape[0];
    const fromWeights =
      opts.weights && spec.numClassesFromWeights ? spec.numClassesFromWeights(opts.weights) : rows === undefined ? undefined : rows / (spec.classifierRowsPerClass ?? 1);
    this.numClasses = opts.numClasses ?? fromWeights ?? spec.cfg.numClasses;
    this.labels = opts.labels ?? (spec.cfg.labels && spec.cfg.labels.length === this.numClasses ? [...spec.cfg.labels] : null);
    if (this.labels && this.labels.length !== this.numClasses) {
      throw new HybridVisionError(`${this.labels.length} labels given for ${this.numClasses} classes`);
    }
    if (!Number.isInteger(this.numClasses) || this.numClasses < 1) throw new HybridVisionError(`numClasses must be a positive integer, got ${opts.numClasses}`);
    this.threads = opts.threads ?? 2;
    this.cfg = { ...spec.cfg, ...opts.cfg, numClasses: this.numClasses };
    this.net = spec.build(this.numClasses);
    this.entries = this.net.stateEntries();
    // given weights replace every declared tensor (loadStateDict is strict), so only the rest is drawn
    const given = opts.weights;
    this.initWeights(opts.seed ?? 0, given ? (k) => !given.has(k) : undefined);
    if (given) this.loadStateDict(given);
  }

  get name(): string {
    return this.spec.name;
  }

  /**
   * Builds the graph for one input shape [N, 3, H, W] with the given graph options (mode, lowering
   * choices, dropout); `training: true` is shorthand for mode 'train'.
   */
  build(inputShape: number[], opts: GraphOptionsInit & { training?: boolean } = {}): Built {
    if (inputShape.length !== 4 || inputShape[1] !== 3) {
      throw new HybridVisionError(`${this.name} expects input [N, 3, H, W], got ${shapeStr(inputShape)}`);
    }
    if (inputShape.some((d) => !Number.isInteger(d) || d < 1)) throw new HybridVisionError(`invalid input shape ${shapeStr(inputShape)}`);
    const { training, ...init } = opts;
    const graph = new Graph({ ...init, mode: init.mode ?? (training ? 'train' : 'eval') });
    const input = graph.input('input', inputShape);
    const out = this.net.forward(input);
    return { graph, input, out, net: this.net };
  }

  /** Every state-dict entry as the modules declare it, in state_dict order. */
  stateEntries(): readonly StateEntry[] {
    return this.entries;
  }

  /** key -> shape/dtype of every state-dict entry (parameters and buffers). */
  stateShapes(): Map<string, { shape: number[]; dtype: string }> {
    return new Map(this.entries.map((e) => [e.key, { shape: [...e.shape], dtype: e.dtype }]));
  }

  /** Number of trainable parameters (state dict minus buffers). */
  numParams(): number {
    return this.net.numParams();
  }

  private initWeights(seed: number, only?: (key: string) => boolean): void {
    for (const [k, t] of initState(only ? this.entries.filter((e) => only(e.key)) : this.entries, seed)) this.weights.set(k, t);
  }

  /** Loads a state dict, checking every key and shape; float16 tensors are widened. */
  loadStateDict(sd: Map<string, HostTensor>): void {
    const expected = new Map(this.entries.map((e) => [e.key, e.shape]));
    const counters = new Set(this.entries.filter((e) => e.dtype === 'int64').map((e) => e.key));
    checkStateDict(expected, sd);
    for (const [k, t] of sd) {
      if (!expected.has(k)) continue;
      if (counters.has(k)) {
        // an integer counter (num_batches_tracked): kept as a 0-d int64 whatever the file stored
        this.weights.set(k, { dtype: 'int64', shape: [], data: t.dtype === 'int64' ? (t.data as BigInt64Array).slice() : new BigInt64Array(1) });
        continue;
      }
      this.weights.set(k, toF32(k, t));
    }
    this.invalidate();
  }

  /** A copy of the state dict (official keys). */
  stateDict(): Map<string, HostTensor> {
    return new Map(this.weights);
  }

  /** Replaces the classification head with a freshly initialised one for `numClasses` classes. */
  resetClassifier(numClasses: number, seed = 0, labels?: string[]): void {
    this.numClasses = numClasses;
    this.cfg = { ...this.cfg, numClasses };
    this.labels = labels ?? null;
    this.net = this.spec.build(numClasses);
    this.entries = this.net.stateEntries();
    const isHead = (k: string) => this.spec.headPrefixes.some((p) => k.startsWith(p));
    for (const k of [...this.weights.keys()]) if (isHead(k)) this.weights.delete(k);
    this.initWeights(seed, (k) => isHead(k) || !this.weights.has(k));
    this.invalidate();
  }

  /** The inference program for an input shape: logits (and the feature maps), weights baked in as initializers. */
  programSpec(inputShape: number[], opts: { features?: boolean } = {}): ProgramSpec {
    const b = this.build(inputShape);
    const outputs = [{ name: 'logits', value: b.out.logits }, ...(b.out.extraOutputs ?? [])];
    if (opts.features) for (const f of b.out.features) if (!outputs.some((o) => o.name === f.name)) outputs.push({ name: f.name, value: f.value });
    return {
      graph: b.graph,
      outputs,
      params: 'initializer',
      weights: this.weights,
      metadata: { model: this.name, num_classes: String(this.numClasses) },
      threads: this.threads,
    };
  }

  /** The ONNX model for an input shape: weights baked in as initializers. */
  toOnnx(inputShape: number[], opts: { features?: boolean } = {}): { bytes: Uint8Array; outputs: string[] } {
    const spec = this.programSpec(inputShape, opts);
    const m = lowerToOnnx(spec.graph, spec);
    return { bytes: m.bytes, outputs: m.outputs };
  }

  /** The compiled inference program for an input shape (cached until the weights change). */
  program(inputShape: number[], opts: { features?: boolean } = {}): Promise<Program> {
    const key = `${inputShape.join('x')}${opts.features ? ':f' : ''}`;
    let s = this.sessions.get(key);
    if (!s) {
      s = Program.compile(this.programSpec(inputShape, opts));
      this.sessions.set(key, s);
    }
    return s;
  }

  private checkInput(x: HostTensor | InputTensor): HostTensor {
    if (x.dtype !== 'float32') throw new HybridVisionError(`input must be float32, got ${x.dtype}`);
    if (x.shape.length !== 4 || x.shape[1] !== 3) throw new HybridVisionError(`${this.name} expects input [N, 3, H, W], got ${shapeStr(x.shape)}`);
    if (numel(x.shape) !== x.data.length) throw new HybridVisionError('input data length does not match its shape');
    return { dtype: 'float32', shape: [...x.shape], data: x.data };
  }

  /** Logits [N, numClasses]. */
  async forward(input: HostTensor | InputTensor): Promise<HostTensor> {
    const x = this.checkInput(input);
    const s = await this.program(x.shape);
    return (await s.run({ input: x }))['logits'];
  }

  /** Logits plus every stage's feature map (NCHW). */
  async forwardFeatures(input: HostTensor | InputTensor): Promise<Record<string, HostTensor>> {
    const x = this.checkInput(input);
    const s = await this.program(x.shape, { features: true });
    return s.run({ input: x });
  }

  private invalidate(): void {
    const old = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of old) s.then((x) => x.release()).catch(() => {});
  }

  async dispose(): Promise<void> {
    this.invalidate();
  }
}

function toF32(key: string, t: HostTensor): HostTensor {
  if (t.dtype === 'float32') return { dtype: 'float32', shape: [...t.shape], data: (t.data as Float32Array).slice() };
  if (t.dtype === 'float16') {
    return { dtype: 'float32', shape: [...t.shape], data: f16ToF32(t.data as Uint16Array) };
  }
  throw new HybridVisionError(`weight ${key} has dtype ${t.dtype}; float32 or float16 expected`);
}
