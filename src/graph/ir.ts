/**
 * The typed graph IR. A Graph records ops applied to symbolic Values with static shapes; each op
 * (see ./op.ts) carries its shape rule, its ONNX lowering and its gradient rule.
 */
import { HybridVisionError, numel, type HostTensor } from '../tensor.js';
import type { OpDef } from './op.js';
import { resolveGraphOptions, type GraphOptions, type GraphOptionsInit } from './options.js';
import type { Tap } from './taps.js';

export type VDType = 'float32' | 'int64' | 'bool';

export type ValueKind = 'input' | 'param' | 'const' | 'op';

export class Value {
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly shape: readonly number[],
    readonly dtype: VDType,
    readonly kind: ValueKind,
    /** The producing node for kind 'op'. */
    readonly node: Node | null,
    /** Input name, parameter key, or '' for op outputs and constants. */
    readonly name: string,
  ) {}
  get rank(): number {
    return this.shape.length;
  }
  get size(): number {
    return numel(this.shape);
  }
}

export interface Node<A = any> {
  readonly id: number;
  readonly op: OpDef<any>;
  readonly inputs: readonly Value[];
  readonly attrs: A;
  readonly outputs: Value[];
  /** Module path active when the node was created (for per-layer summaries). */
  readonly scope: string;
}

export class Graph {
  private nextId = 0;
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  readonly params = new Map<string, Value>();
  /** Parameter keys that are state, not trained (BatchNorm running statistics and counters). */
  readonly buffers = new Set<string>();
  readonly consts = new Map<number, HostTensor>();
  private scopeStack: string[] = [];
  /** How this graph is built (mode, lowering choices, dropout), fixed at creation. */
  readonly options: GraphOptions;
  private seededSites = 0;
  /** The values tapped during the build (only when options.taps). */
  readonly taps: Tap[] = [];

  constructor(options: GraphOptionsInit = {}) {
    this.options = resolveGraphOptions(options);
  }

  /** Whether ops run in training mode (BatchNorm batch statistics, dropout). */
  get training(): boolean {
    return this.options.mode === 'train';
  }

  /** 1, 2, 3, … for the seeded random sites of this graph in creation order (dropout seeds derive from it). */
  nextSeededSite(): number {
    return ++this.seededSites;
  }
  /** Extra outputs produced as side effects of the forward pass (e.g. BN running stats in training). */
  readonly stateUpdates = new Map<string, Value>();

  input(name: string, shape: number[], dtype: VDType = 'float32'): Value {
    const v = new Value(this, this.nextId++, [...shape], dtype, 'input', null, name);
    this.inputs.push(v);
    return v;
  }

  param(key: string, shape: number[], dtype: VDType = 'float32'): Value {
    const existing = this.params.get(key);
    if (existing) {
      if (existing.shape.join(',') !== shape.join(',')) throw new Error(`parameter ${key} declared twice with different shapes`);
      return existing;
    }
    const v = new Value(this, this.nextId++, [...shape], dtype, 'param', null, key);
    this.params.set(key, v);
    return v;
  }

  buffer(key: string, shape: number[], dtype: VDType = 'float32'): Value {
    this.buffers.add(key);
    return this.param(key, shape, dtype);
  }

  /** Trainable parameters in declaration order. */
  trainable(): Value[] {
    return [...this.params.values()].filter((v) => !this.buffers.has(v.name));
  }

  constant(t: HostTensor): Value {
    const dtype: VDType = t.dtype === 'int64' ? 'int64' : t.dtype === 'bool' ? 'bool' : 'float32';
    if (t.dtype !== dtype) throw new Error(`unsupported constant dtype ${t.dtype}`);
    const v = new Value(this, this.nextId++, [...t.shape], dtype, 'const', null, '');
    this.consts.set(v.id, t);
    return v;
  }

  private readonly keyedConsts = new Map<string, Value>();
  /** One constant per key in this graph: `make` runs only the first time (shared helper tensors). */
  cachedConstant(key: string, make: () => HostTensor): Value {
    let v = this.keyedConsts.get(key);
    if (!v) this.keyedConsts.set(key, (v = this.constant(make())));
    return v;
  }

  scalar(x: number): Value {
    return this.constant({ dtype: 'float32', shape: [], data: new Float32Array([x]) });
  }

  apply<A>(op: OpDef<A>, inputs: Value[], attrs: A): Value[] {
    for (const v of inputs) if (v.graph !== this) throw new Error(`op ${op.name}: value from another graph`);
    const outs = op.shape(inputs, attrs);
    const node: Node = { id: this.nodes.length, op, inputs, attrs, outputs: [], scope: this.scopeStack.join('.') };
    for (let i = 0; i < outs.length; i++) {
      for (const d of outs[i].shape) {
        if (!Number.isInteger(d) || d < 0) throw new Error(`op ${op.name}: invalid output shape [${outs[i].shape.join(', ')}]`);
      }
      node.outputs.push(new Value(this, this.nextId++, outs[i].shape, outs[i].dtype, 'op', node, ''));
    }
    this.nodes.push(node);
    return node.outputs;
  }

  apply1<A>(op: OpDef<A>, inputs: Value[], attrs: A): Value {
    return this.apply(op, inputs, attrs)[0];
  }

  withScope<T>(name: string, f: () => T): T {
    if (name === '') return f();
    this.scopeStack.push(name);
    try {
      return f();
    } finally {
      this.scopeStack.pop();
    }
  }

  /** Runs f with the scope set to an absolute module path (restored afterwards). */
  atScope<T>(path: string, f: () => T): T {
    const saved = this.scopeStack;
    this.scopeStack = path ? [path] : [];
    try {
      return f();
    } finally {
      this.scopeStack = saved;
    }
  }

  get currentScope(): string {
    return this.scopeStack.join('.');
  }
}

export function shapeError(op: string, msg: string): never {
  throw new HybridVisionError(`${op}: ${msg}`);
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Numpy broadcasting of two shapes. */
export function broadcastShapes(op: string, a: readonly number[], b: readonly number[]): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) shapeError(op, `cannot broadcast [${a.join(', ')}] with [${b.join(', ')}]`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

export function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} out of range for rank ${rank}`);
  return a;
}
