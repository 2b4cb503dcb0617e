/**
 * A compiled training step: forward in train mode (BatchNorm on batch statistics with running-stat
 * updates) → loss → backward over the trainable, unfrozen parameters → optional global-norm
 * clipping → optimizer update, lowered to ONE ONNX graph of standard ops and run by the engine.
 *
 * The graph is built once per input shape. Learning rate and bias corrections are scalar graph
 * inputs, so schedules never rebuild it. Parameters, optimizer state and BatchNorm statistics live
 * in host buffers that pass from step to step: each step feeds the current buffers (no copy) and
 * the engine writes the new values into a second, pre-allocated set (ping-pong), so no step
 * allocates state buffers.
 */
import { grad } from '../graph/autodiff.js';
import type { Graph, Value } from '../graph/ir.js';
import { add, clip, div, mul, sqrt } from '../graph/ops/elementwise.js';
import { reduceSum } from '../graph/ops/reduce.js';
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

