/**
 * PyTorch-like modules over the graph IR. A module's parameters are named by the module path, so
 * the graph's parameter keys are exactly the official state_dict keys.
 */
import type { Graph, VDType, Value } from '../graph/ir.js';

export abstract class Module {
  /** The attribute name under the parent module ('' for the root). */
  localName = '';

  protected add<M extends Module>(name: string | number, m: M): M {
    m.localName = String(name);
    return m;
  }

  abstract forward(...args: any[]): any;

  /** Runs forward with this module's name pushed on the parameter path. */
  call(...args: Parameters<this['forward']>): ReturnType<this['forward']> {
    const g = graphOf(args);
    return g.withScope(this.localName, () => this.forward(...args));
  }

  protected param(g: Graph, name: string, shape: number[]): Value {
    return g.param(qualify(g, name), shape);
  }

  protected buffer(g: Graph, name: string, shape: number[], dtype: VDType = 'float32'): Value {
    return g.buffer(qualify(g, name), shape, dtype);
  }
}

function qualify(g: Graph, name: string): string {
  return g.currentScope ? `${g.currentScope}.${name}` : name;
}

function graphOf(args: unknown[]): Graph {
  for (const a of args) {
    if (a && typeof a === 'object' && 'graph' in a) return (a as Value).graph;
    if (Array.isArray(a)) for (const b of a) if (b && typeof b === 'object' && 'graph' in b) return (b as Value).graph;
  }
  throw new Error('module called without a graph value');
}
