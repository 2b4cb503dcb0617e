/**
 * The optimizer alone as one compiled graph: applies given gradients to given parameters (the
 * same update rule the fused train step uses). For gradient accumulation over micro-batches
 * (TrainStep with `update: false`, sum the gradients, then apply) and for checks against stored
 * gradients. `declaredDecay` (key -> the module's decay flag, HybridModel.stateEntries) feeds the
 * optimizer's decay mask as the train step does.
 */
import { Graph, type Value } from '../graph/ir.js';
import { Program } from '../runtime/program.js';
import { HybridVisionError, numel, type HostTensor } from '../tensor.js';
import type { Optimizer } from './optim.js';
import type { OptimizerState } from './step.js';

export class OptimizerStep {
  private constructor(
    readonly optimizer: Optimizer,
    readonly shapes: ReadonlyMap<string, readonly number[]>,
    private program: Program,
  ) {}

  /** Compiles the update for parameters of the given shapes (official keys). */
  static async create(optimizer: Optimizer, shapes: ReadonlyMap<string, readonly number[]>, threads = 2, declaredDecay?: ReadonlyMap<string, boolean>): Promise<OptimizerStep> {
    const g = new Graph();
    const scalars: Record<string, Value> = {};
    for (const s of optimizer.scalarNames) scalars[s] = g.input(s, []);
    const outputs: { name: string; value: Value }[] = [];
    for (const [k, shape] of shapes) {
      const p = g.input(k, [...shape]);
      const gr = g.input(`grad:${k}`, [...shape]);
      const st = optimizer.slots.map((slot) => g.input(`${slot}:${k}`, [...shape]));
      const r = optimizer.update(p, gr, st, scalars, optimizer.decays(k, shape, declaredDecay?.get(k)));
      outputs.push({ name: `new:${k}`, value: r.param });
      optimizer.slots.forEach((slot, i) => outputs.push({ name: `new:${slot}:${k}`, value: r.state[i] }));
    }
    return new OptimizerStep(optimizer, shapes, await Program.compile({ graph: g, outputs, params: 'input', threads }));
  }

  /**
   * One update: returns new parameters and the new optimizer state (fresh tensors). `state` may be
   * null at the first step (zeros). The step count used for bias corrections is state.step + 1.
   */
  async apply(
    params: ReadonlyMap<string, HostTensor>,
    grads: ReadonlyMap<string, HostTensor>,
    state: OptimizerState | null,
    lr: number,
  ): Promise<{ params: Map<string, HostTensor>; state: OptimizerState }> {
    const t = (state?.step ?? 0) + 1;
    const feeds: Record<string, HostTensor> = {};
    for (const [k, v] of Object.entries(this.optimizer.scalars(t, lr))) feeds[k] = { dtype: 'float32', shape: [], data: new Float32Array([v]) };
    for (const [k, shape] of this.shapes) {
      const p = params.get(k);
      const g = grads.get(k);
      if (!p || !g) throw new HybridVisionError(`OptimizerStep: missing ${!p ? 'parameter' : 'gradient'} ${k}`);
      if (p.data.length !== numel(shape) || g.data.length !== numel(shape)) throw new HybridVisionError(`OptimizerStep: ${k} has the wrong size`);
      feeds[k] = { dtype: 'float32', shape: [...shape], data: p.data };
      feeds[`grad:${k}`] = { dtype: 'float32', shape: [...shape], data: g.data };
      for (const slot of this.optimizer.slots) {
        const s = state?.slots.get(slot)?.get(k);
        feeds[`${slot}:${k}`] = { dtype: 'float32', shape: [...shape], data: s ? s.data : new Float32Array(numel(shape)) };
      }
    }
    const out = await this.program.run(feeds);
    const np = new Map<string, HostTensor>();
    const slots = new Map<string, Map<string, HostTensor>>(this.optimizer.slots.map((s) => [s, new Map()]));
    for (const k of this.shapes.keys()) {
      np.set(k, out[`new:${k}`]);
      for (const slot of this.optimizer.slots) slots.get(slot)!.set(k, out[`new:${slot}:${k}`]);
    }
    return { params: np, state: { step: t, slots } };
  }

  async release(): Promise<void> {
    await this.program.release();
  }
}
