/**
 * The training loop: seeded per-epoch shuffling and augmentation (so a resumed run repeats an
 * uninterrupted one exactly), warmup+cosine schedule, optional mixup/cutmix and EMA, validation
 * after each epoch, and a checkpoint hook called only at epoch ends (the last good state on NaN).
 */
import { mixBatch, renderView, trainView, type AugmentKind, type Normalize } from '../data/augment.js';
import { permutation, type Dataset } from '../data/dataset.js';
import type { HybridModel } from '../models/model.js';
import { rng } from '../random.js';
import { HybridVisionError, type HostTensor } from '../tensor.js';
import { WeightEma } from './ema.js';
import { evaluate, type EvalResult } from './evaluate.js';
import { smoothTargets } from './loss.js';
import { adamw, noDecayNormsAndBiases, sgd, decayAll } from './optim.js';
import { stepDecay, warmupCosine } from './schedule.js';
import { TrainStep, type FreezeSpec, type OptimizerState } from './step.js';
import { isTrainTask, type TaskEval, type TrainTask } from './task.js';

export interface FitOptions {
  epochs: number;
  batchSize: number;
  /** Model input size S (square). */
  size: number;
  lr: number;
  minLr?: number;
  warmupEpochs?: number;
  weightDecay?: number;
  optimizer?: 'adamw' | 'sgd';
  /** SGD momentum (default 0.9) and Nesterov (default true). */
  momentum?: number;
  nesterov?: boolean;
  /**
   * 'cosine' (default): linear warm-up then cosine to minLr. 'step': warm-up then the lr times
   * `gamma` every `stepEpochs` epochs (torch StepLR).
   */
  schedule?: 'cosine' | 'step';
  stepEpochs?: number;
  gamma?: number;
  /** Exclude norms, biases and tokens from weight decay. */
  noDecayNormBias?: boolean;
  labelSmoothing?: number;
  clipGrad?: number | null;
  /**
   * 'pad-crop': canvas padding + random shift + flip (small images); 'flip': the padded canvas,
   * flipped at random; 'rrc': random resized crop + flip; 'none'.
   */
  augment?: AugmentKind;
  /** 'pad-crop': the largest shift in pixels (default max(1, pad)). */
  shift?: number;
  /** Canvas padding around the source image for views, in source pixels. */
  pad?: number;
  flip?: boolean;
  mix?: { kind: 'mixup' | 'cutmix'; alpha: number; prob: number } | null;
  emaDecay?: number | null;
  /** Enable the model's dropout rates (in-graph masks, seeded per epoch: a resumed run draws the same ones). */
  dropout?: boolean;
  freeze?: FreezeSpec;
  seed?: number;
  norm: Normalize;
}

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  trainAcc: number;
  val: { top1: number; top5: number; loss: number } | null;
  /** A task's validation metrics (dense tasks: mIoU, COCO AP, ...), with the headline one named. */
  metrics?: TaskEval | null;
  lr: number;
  seconds: number;
  imgPerSec: number;
}

export interface FitState {
  /** Epochs completed. */
  epoch: number;
  weights: Map<string, HostTensor>;
  optimizer: OptimizerState;
  ema: Map<string, HostTensor> | null;
  history: EpochRecord[];
}

export interface StepInfo {
  epoch: number;
  step: number;
  stepsPerEpoch: number;
  loss: number;
  acc: number;
  imgPerSec: number;
  lr: number;
}

export interface FitHooks {
  onStep?(s: StepInfo): void;
  onEpoch?(r: EpochRecord, val: EvalResult | null, metrics?: TaskEval | null): void;
  /** Called after every completed epoch with the full resumable state. */
  checkpoint?(s: FitState): Promise<void>;
  /** Resume from this state (epochs already done are skipped). */
  resume?: FitState | null;
}

/** The first float tensor of a training state holding NaN or ±Inf, described (null when all are finite). */
export function nonFiniteIn(s: Pick<FitState, 'weights' | 'optimizer' | 'ema'>): string | null {
  const scan = (m: ReadonlyMap<string, HostTensor>, what: string): string | null => {
    for (const [k, t] of m) {
      if (t.dtype !== 'float32') continue;
      const d = t.data as Float32Array;
      for (let i = 0; i < d.length; i++) if (!Number.isFinite(d[i]!)) return `${what} '${k}' (${d[i]})`;
    }
    return null;
  };
  let bad = scan(s.weights, 'weight');
  for (const [slot, m] of s.optimizer.slots) bad ??= scan(m, `optimizer ${slot}`);
  if (s.ema) bad ??= scan(s.ema, 'EMA weight');
  return bad;
}

/**
 * Trains `model` on a classification `Dataset` (top-1 on `val`) or on a `TrainTask`, which brings its
 * objective, batches and evaluation (dense tasks; `val` is then unused: the task holds its own).
 */
export async function fit(model: HybridModel, train: Dataset | TrainTask, val: Dataset | null, o: FitOptions, hooks: FitHooks = {}): Promise<{ history: EpochRecord[]; last: EvalResult | null; metrics: TaskEval | null }> {
  const task = isTrainTask(train) ? train : null;
  const B = o.batchSize;
  const S = o.size;
  if (task && task.size !== S) throw new HybridVisionError(`the ${task.kind} data is ${task.size}x${task.size}, the run's size ${S}`);
  const stepsPerEpoch = Math.floor(train.count / B);
  if (stepsPerEpoch < 1) throw new HybridVisionError(`batch size ${B} is larger than the training set (${train.count} images)`);
  const seed = o.seed ?? 0;
  const decayMask = o.noDecayNormBias ? noDecayNormsAndBiases : decayAll;
  const optimizer =
    o.optimizer === 'sgd'
      ? sgd({ momentum: o.momentum ?? 0.9, nesterov: o.nesterov ?? true, weightDecay: o.weightDecay ?? 5e-4, decayMask })
      : adamw({ weightDecay: o.weightDecay ?? 0.05, decayMask });
  const warmupSteps = Math.min(Math.round(stepsPerEpoch * (o.warmupEpochs ?? 1)), stepsPerEpoch * o.epochs);
  const schedule =
    o.schedule === 'step'
      ? stepDecay({ baseLr: o.lr, stepSize: stepsPerEpoch * (o.stepEpochs ?? Math.max(1, Math.round(o.epochs / 3))), gamma: o.gamma ?? 0.1, warmupSteps })
      : warmupCosine({ baseLr: o.lr, totalSteps: stepsPerEpoch * o.epochs, warmupSteps, minLr: o.minLr ?? o.lr * 0.01 });
  // Dropout masks come from onnxruntime's generator, seeded per session: a session per epoch, seeded
  // by the epoch, draws the same masks whether the run was resumed at that epoch or not.
  const createStep = (epoch: number) =>
    TrainStep.create(model, [B, 3, S, S], {
      optimizer,
      ...(task ? { objective: task.objective } : { targets: o.mix ? 'soft' : 'labels' }),
      labelSmoothing: o.labelSmoothing ?? 0.1,
      clipGradNorm: o.clipGrad ?? null,
      freeze: o.freeze,
      lr: schedule,
      dropout: o.dropout ? { seed: (seed * 7919 + 1 + epoch * 104729) >>> 0 } : null,
    });
  let history: EpochRecord[] = [];
  const startEpoch = hooks.resume?.epoch ?? 0;
  let step = await createStep(startEpoch);
  let ema: WeightEma | null = null;
  if (hooks.resume) {
    const r = hooks.resume;
    if (!Number.isInteger(r.epoch) || r.epoch < 0 || r.epoch > o.epochs) {
      throw new HybridVisionError(`the checkpoint to resume says ${r.epoch} epochs are done, but this run has ${o.epochs}`);
    }
    step.setWeights(r.weights);
    step.loadOptimizerState(r.optimizer);
    // The model holds the checkpoint's weights from here on, also when no epoch is left to run
    // (a run killed between its last checkpoint and writing the final model).
    step.sync();
    history = [...r.history];
  }
  if (o.emaDecay) {
    ema = new WeightEma(hooks.resume?.ema ?? step.state(), { decay: o.emaDecay, warmup: true });
    if (hooks.resume) ema.updates = step.step;
  }
  const per = 3 * S * S;
  const x = new Float32Array(B * per);
  const labels = new Int32Array(B);
  const view = { size: S, pad: o.pad ?? 0, norm: o.norm };
  let last: EvalResult | null = null;
  let lastMetrics: TaskEval | null = null;
  try {
    for (let epoch = startEpoch; epoch < o.epochs; epoch++) {
      if (o.dropout && epoch > startEpoch) {
        const next = await createStep(epoch);
        next.setWeights(step.stateDict());
        next.loadOptimizerState(step.optimizerState());
        await step.release();
        step = next;
      }
      const rand = rng((seed * 1000003 + epoch * 7919 + 17) >>> 0);
      const order = permutation(train.count, rand);
      const t0 = performance.now();
      let lossSum = 0;
      let correct = 0;
      for (let s = 0; s < stepsPerEpoch; s++) {
        if (task) {
          const r = await step.run({ dtype: 'float32', shape: [B, 3, S, S], data: x }, task.batch(order.subarray(s * B, (s + 1) * B), rand, x));
          if (!Number.isFinite(r.loss)) {
            throw new HybridVisionError(`loss became ${r.loss} at epoch ${epoch + 1}, step ${s + 1}; stopped (the last good checkpoint, after epoch ${epoch}, is kept)`);
          }
          ema?.update(step.state());
          lossSum += r.loss;
          const seconds = (performance.now() - t0) / 1000;
          hooks.onStep?.({ epoch, step: s + 1, stepsPerEpoch, loss: lossSum / (s + 1), acc: NaN, imgPerSec: ((s + 1) * B) / seconds, lr: r.lr });
          continue;
        }
        const ds = train as Dataset;
        for (let b = 0; b < B; b++) {
          const i = order[s * B + b];
          const v = trainView(o.augment ?? 'pad-crop', ds.width, ds.height, view.pad, o.flip ?? true, rand, o.shift);
          renderView(ds, i, v.box, v.flip, S, x, b * per, o.norm);
          labels[b] = ds.labels[i];
        }
        let targets: HostTensor | Int32Array = labels;
        if (o.mix && rand() < o.mix.prob) {
          targets = { dtype: 'float32', shape: [B, model.numClasses], data: mixBatch(x, labels, model.numClasses, S, o.mix.kind, o.mix.alpha, o.labelSmoothing ?? 0.1, rand) };
        } else if (o.mix) {
          targets = smoothTargets(labels, model.numClasses, o.labelSmoothing ?? 0.1);
        }
        const r = await step.run({ dtype: 'float32', shape: [B, 3, S, S], data: x }, targets);
        if (!Number.isFinite(r.loss)) {
          throw new HybridVisionError(
            `loss became ${r.loss} at epoch ${epoch + 1}, step ${s + 1}; stopped (the last good checkpoint, after epoch ${epoch}, is kept)`,
          );
        }
        ema?.update(step.state());
        lossSum += r.loss;
        const lg = r.logits.data as Float32Array;
        const C = model.numClasses;
        for (let b = 0; b < B; b++) {
          let arg = 0;
          for (let c = 1; c < C; c++) if (lg[b * C + c] > lg[b * C + arg]) arg = c;
          if (arg === labels[b]) correct++;
        }
        const seconds = (performance.now() - t0) / 1000;
        hooks.onStep?.({ epoch, step: s + 1, stepsPerEpoch, loss: lossSum / (s + 1), acc: correct / ((s + 1) * B), imgPerSec: ((s + 1) * B) / seconds, lr: r.lr });
      }
      const seconds = (performance.now() - t0) / 1000;
      step.sync();
      const evalWeights = ema ? ema.stateDict() : null;
      if (evalWeights) model.loadStateDict(evalWeights);
      if (task) lastMetrics = await task.evaluate(model);
      else last = val ? await evaluate(model, val, view) : null;
      const rec: EpochRecord = {
        epoch: epoch + 1,
        trainLoss: lossSum / stepsPerEpoch,
        trainAcc: task ? NaN : correct / (stepsPerEpoch * B),
        val: last ? { top1: last.top1, top5: last.top5, loss: last.loss } : null,
        ...(task ? { metrics: lastMetrics } : {}),
        lr: step.currentLr(),
        seconds,
        imgPerSec: (stepsPerEpoch * B) / seconds,
      };
      history.push(rec);
      hooks.onEpoch?.(rec, last, lastMetrics);
      if (hooks.checkpoint) {
        const state: FitState = { epoch: epoch + 1, weights: step.stateDict(), optimizer: step.optimizerState(), ema: ema ? ema.stateDict() : null, history };
        const bad = nonFiniteIn(state);
        if (bad) {
          throw new HybridVisionError(
            `${bad} became non-finite during epoch ${epoch + 1}; stopped (the last good checkpoint, after epoch ${epoch}, is kept)`,
          );
        }
        await hooks.checkpoint(state);
      }
      if (evalWeights) step.sync(); // keep training on the raw weights; model.weights holds them again
    }
  } finally {
    await step.release();
  }
  if (ema) model.loadStateDict(ema.stateDict());
  return { history, last, metrics: lastMetrics };
}
