/**
 * PyTorch-like modules over the graph IR. Each module declares its parameters and buffers in its
 * constructor and registers its children under their attribute names, so the module tree IS the
 * state dict: keys are module paths (the official state_dict keys), in torch's order (a module's
 * own parameters, then its buffers, then its children in registration order). Initialisation, the
 * weight-decay mask, parameter counts and checkpoint checks all read the declarations; `forward`
 * only binds declared tensors into a graph.
 */
import type { Graph, VDType, Value } from '../graph/ir.js';
import { numel } from '../tensor.js';

/** How a tensor starts out before weights are loaded (see models/init.ts). */
export type InitRule =
  | { kind: 'zeros' }
  | { kind: 'ones' }
  /** N(0, std²); `truncate`: redraw samples beyond ±truncate standard deviations. */
  | { kind: 'normal'; std: number; truncate?: number }
  /** U(−bound, bound). */
  | { kind: 'uniform'; bound: number }
  /** Every element `value` (e.g. a detector's prior-probability bias). */
  | { kind: 'constant'; value: number };

export const zeros: InitRule = { kind: 'zeros' };
export const ones: InitRule = { kind: 'ones' };
export const normal = (std: number, truncate?: number): InitRule => ({ kind: 'normal', std, truncate });
export const uniform = (bound: number): InitRule => ({ kind: 'uniform', bound });
export const constant = (value: number): InitRule => ({ kind: 'constant', value });

export interface TensorDecl {
  shape: number[];
  dtype: VDType;
  init: InitRule;
  /** Weight decay applies (when the optimizer's mask follows the declarations). */
  decay: boolean;
  /** State, not trained (BatchNorm running statistics and counter). */
  buffer: boolean;
}

/** One state-dict entry: its key and declaration. */
export interface StateEntry extends TensorDecl {
  key: string;
}

export abstract class Module {
  /** The attribute name under the parent module ('' for the root). May hold dots ('block.conv'). */
  localName = '';
  private parent: Module | null = null;
  private readonly own: [string, TensorDecl][] = [];
  private readonly kids: Module[] = [];

  /** Registers a child module under `name`; its state-dict keys start with this module's path + name. */
  protected add<M extends Module>(name: string | number, m: M): M {
    m.localName = String(name);
    m.parent = this;
    this.kids.push(m);
    return m;
  }

  /** Declares a trainable parameter (decays unless told otherwise). */
  protected declareParam(name: string, shape: number[], init: InitRule, opts: { decay?: boolean } = {}): void {
    this.own.push([name, { shape, dtype: 'float32', init, decay: opts.decay ?? true, buffer: false }]);
  }

  /** Declares a buffer: state kept in the state dict but not trained. */
  protected declareBuffer(name: string, shape: number[], init: InitRule, dtype: VDType = 'float32'): void {
    this.own.push([name, { shape, dtype, init, decay: false, buffer: true }]);
  }

  /** The module path: the prefix of its state-dict keys ('' for the root). */
  get path(): string {
    if (!this.parent) return '';
    const p = this.parent.path;
    return p ? `${p}.${this.localName}` : this.localName;
  }

  /** Binds a declared parameter or buffer of this module into graph `g` (a graph input or initializer named by its key). */
  protected bind(g: Graph, name: string): Value {
    const d = this.own.find(([n]) => n === name)?.[1];
    if (!d) throw new Error(`${this.constructor.name} at '${this.path}' declares no tensor '${name}'`);
    const key = this.path ? `${this.path}.${name}` : name;
    return d.buffer ? g.buffer(key, d.shape, d.dtype) : g.param(key, d.shape, d.dtype);
  }

  /** Every declared tensor of the tree, in state_dict order. */
  stateEntries(): StateEntry[] {
    const out: StateEntry[] = [];
    const walk = (m: Module, prefix: string) => {
      const key = (n: string) => (prefix ? `${prefix}.${n}` : n);
      for (const buffers of [false, true]) for (const [n, d] of m.own) if (d.buffer === buffers) out.push({ key: key(n), ...d, shape: [...d.shape] });
      for (const c of m.kids) walk(c, key(c.localName));
    };
    walk(this, this.path);
    return out;
  }

  /** Number of trainable parameters in the tree. */
  numParams(): number {
    return this.stateEntries().reduce((n, e) => n + (e.buffer ? 0 : numel(e.shape)), 0);
  }

  abstract forward(...args: any[]): any;

  /** Runs forward with the graph's scope set to this module's path (per-layer summaries read it). */
  call(...args: Parameters<this['forward']>): ReturnType<this['forward']> {
    return graphOf(args).atScope(this.path, () => this.forward(...args));
  }
}

function graphOf(args: unknown[]): Graph {
  for (const a of args) {
    if (a && typeof a === 'object' && 'graph' in a) return (a as Value).graph;
    if (Array.isArray(a)) for (const b of a) if (b && typeof b === 'object' && 'graph' in b) return (b as Value).graph;
  }
  throw new Error('module called without a graph value');
}
