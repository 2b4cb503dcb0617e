/**
 * What a training step minimises: the objective adds its target input to the step graph, turns the
 * network's output into the scalar loss, and on the host turns what `TrainStep.run` is given into
 * the target tensor. A new task (segmentation, detection) brings its own objective; the step graph,
 * its state and the optimizer do not change.
 */
import type { Graph, Value } from '../graph/ir.js';
import type { NetworkOutput } from '../models/types.js';
import { HybridVisionError, type HostTensor } from '../tensor.js';
import { crossEntropy, labelTensor, softTargetCrossEntropy } from './loss.js';

/** What TrainStep.run accepts as targets. */
export type TargetsInput = HostTensor | ArrayLike<number> | BigInt64Array;

export interface Objective {
  /** Adds the target input (named by `target.name`) to g and returns it with the loss of `out`. */
  build(g: Graph, out: NetworkOutput): { target: Value; loss: Value };
  /** Host: the target tensor for the graph's target input (validated against its shape and the logits'). */
  feed(targets: TargetsInput, shapes: { target: readonly number[]; logits: readonly number[] }): HostTensor;
}

/**
 * Classification: cross-entropy of the logits [N, C] against int64 labels [N] with label smoothing
 * (input `labels`), or against soft targets [N, C] (input `targets`, for mixup / cutmix).
 */
export function classification(kind: 'labels' | 'soft' = 'labels', labelSmoothing = 0): Objective {
  if (kind === 'soft' && labelSmoothing) throw new HybridVisionError('label smoothing applies to integer labels; smooth soft targets on the host (smoothTargets / mixTargets)');
  return {
    build(g, { logits }) {
      const [n, c] = logits.shape;
      if (kind === 'soft') {
        const target = g.input('targets', [n, c]);
        return { target, loss: softTargetCrossEntropy(logits, target) };
      }
      const target = g.input('labels', [n], 'int64');
      return { target, loss: crossEntropy(logits, target, labelSmoothing) };
    },
    feed(t, shapes) {
      const [n, c] = shapes.logits;
      if (kind === 'soft') {
        const h = t as HostTensor;
        if (!h || h.dtype !== 'float32' || h.shape.length !== 2 || h.shape[0] !== n || h.shape[1] !== c) throw new HybridVisionError(`soft targets must be float32 [${n}, ${c}]`);
        return h;
      }
      const arr = 'dtype' in (t as object) && 'shape' in (t as object) ? ((t as HostTensor).data as ArrayLike<number> | BigInt64Array) : (t as ArrayLike<number> | BigInt64Array);
      if (arr.length !== n) throw new HybridVisionError(`expected ${n} labels, got ${arr.length}`);
      return labelTensor(arr, c);
    },
  };
}
