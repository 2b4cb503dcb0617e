/** Reverse-mode differentiation over the IR: each node's VJP rule emits more nodes into the graph. */
import { HybridVisionError } from '../tensor.js';
import type { Node, Value } from './ir.js';
import { add } from './ops/elementwise.js';

/**
 * Gradients of sum_i <outputs[i], seeds[i]> with respect to `wrt`. Entries are null where no
 * gradient flows.
 */
export function grad(outputs: Value[], seeds: Value[], wrt: Value[]): (Value | null)[] {
  const g = outputs[0].graph;
  const depends = new Set<number>(wrt.map((v) => v.id));
  const nodes = g.nodes.slice(); // vjp rules append nodes; only the forward ones are visited
  for (const n of nodes) if (n.inputs.some((v) => depends.has(v.id))) for (const o of n.outputs) depends.add(o.id);

  const acc = new Map<number, Value>();
  const push = (v: Value, gv: Value) => {
    const prev = acc.get(v.id);
    acc.set(v.id, prev ? add(prev, gv) : gv);
  };
  outputs.forEach((o, i) => push(o, seeds[i]));

  for (let i = nodes.length - 1; i >= 0; i--) {
    const n: Node = nodes[i];
    if (!n.outputs.some((o) => acc.has(o.id))) continue;
    if (!n.inputs.some((v) => depends.has(v.id))) continue;
    if (!n.op.vjp) throw new HybridVisionError(`op ${n.op.name} has no gradient rule`);
    const gys = n.outputs.map((o) => acc.get(o.id) ?? null);
    const gxs = g.withScope(`grad(${n.scope})`, () => n.op.vjp!(n, gys));
    n.inputs.forEach((v, k) => {
      const gx = gxs[k];
      if (gx && depends.has(v.id)) push(v, gx);
    });
  }
  return wrt.map((v) => acc.get(v.id) ?? null);
}
