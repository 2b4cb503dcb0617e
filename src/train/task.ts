/**
 * What a task brings to the one training loop (`fit`): its objective, the batches (images and their
 * targets, with the task's own augmentation) and its evaluation. Classification uses the loop's
 * built-in path (a plain `Dataset`); dense tasks (./dense_tasks.ts) supply a `TrainTask`.
 */
import type { HybridModel } from '../models/model.js';
import type { Objective, TargetsInput } from './objective.js';

export interface TaskEval {
  /** The headline metric (mIoU, COCO AP, ...) under `primary`, and the others. */
  primary: string;
  metrics: Record<string, number>;
}

export interface TrainTask {
  readonly kind: string;
  /** Training images. */
  readonly count: number;
  /** Square input size S of every batch. */
  readonly size: number;
  readonly objective: Objective;
  /**
   * Renders images `indices` into x ([B, 3, S, S], normalised) with the task's augmentation drawn
   * from `rand`, and returns their targets for the objective.
   */
  batch(indices: ArrayLike<number>, rand: () => number, x: Float32Array): TargetsInput;
  /** Evaluates the model (its current weights) on the task's validation set; null when it has none. */
  evaluate(model: HybridModel): Promise<TaskEval | null>;
}

export function isTrainTask(x: unknown): x is TrainTask {
  return typeof x === 'object' && x !== null && 'objective' in x && typeof (x as TrainTask).batch === 'function';
}
