/**
 * Learning-rate schedules: pure functions of the step (0-based: the lr used by the step-th
 * optimizer update). The train step takes lr as a scalar graph input, so a schedule never forces a
 * rebuild.
 */
import { HybridVisionError } from '../tensor.js';

export type Schedule = (step: number) => number;

export interface WarmupCosineOptions {
  baseLr: number;
  /** Total number of optimizer steps (the cosine reaches minLr at this step). */
  totalSteps: number;
  warmupSteps?: number;
  /**
   * lr at step 0 of the warm-up (linear ramp from here to baseLr at step warmupSteps). Default
   * baseLr/(warmupSteps+1), so the ramp is baseLr·(s+1)/(warmupSteps+1) and the first step learns.
   */
  warmupStartLr?: number;
  minLr?: number;
}

function checkLr(name: string, v: number): void {
  if (!Number.isFinite(v) || v < 0) throw new HybridVisionError(`${name} must be a finite number >= 0, got ${v}`);
}

/** The default warm-up start: one step's worth of the ramp 0 → base, never 0 (a zero lr wastes step 0). */
const rampStart = (base: number, W: number) => base / (W + 1);

/**
 * Linear warm-up then half-cosine decay: lr(s) = start + (base − start)·s/W for s < W (step 0 uses
 * `warmupStartLr`, default base/(W+1)), then lr(s) = min + (base − min)·(1 + cos(π·(s − W)/(T − W)))/2, and min from
 * step T on.
 */
export function warmupCosine(o: WarmupCosineOptions): Schedule {
  const W = o.warmupSteps ?? 0;
  const T = o.totalSteps;
  const start = o.warmupStartLr ?? rampStart(o.baseLr, W);
  const min = o.minLr ?? 0;
  checkLr('baseLr', o.baseLr);
  checkLr('minLr', min);
  checkLr('warmupStartLr', start);
  if (!Number.isInteger(T) || T < 1) throw new HybridVisionError(`totalSteps must be a positive integer, got ${T}`);
  if (!Number.isInteger(W) || W < 0 || W > T) throw new HybridVisionError(`warmupSteps must be an integer in [0, totalSteps], got ${W}`);
  return (s) => {
    if (s < W) return start + ((o.baseLr - start) * s) / W;
    if (s >= T || T === W) return min;
    return min + ((o.baseLr - min) * (1 + Math.cos((Math.PI * (s - W)) / (T - W)))) / 2;
  };
}

export interface StepDecayOptions {
  baseLr: number;
  /** Multiply by gamma every `stepSize` steps (torch StepLR), or at each listed milestone (MultiStepLR). */
  stepSize?: number;
  milestones?: number[];
  gamma?: number;
  warmupSteps?: number;
  warmupStartLr?: number;
}

/** Step decay (StepLR / MultiStepLR) with an optional linear warm-up. */
export function stepDecay(o: StepDecayOptions): Schedule {
  const gamma = o.gamma ?? 0.1;
  const W = o.warmupSteps ?? 0;
  const start = o.warmupStartLr ?? rampStart(o.baseLr, W);
  checkLr('baseLr', o.baseLr);
  if ((o.stepSize === undefined) === (o.milestones === undefined)) throw new HybridVisionError('stepDecay needs exactly one of stepSize or milestones');
  if (o.stepSize !== undefined && (!Number.isInteger(o.stepSize) || o.stepSize < 1)) throw new HybridVisionError(`stepSize must be a positive integer, got ${o.stepSize}`);
  const ms = [...(o.milestones ?? [])].sort((a, b) => a - b);
  return (s) => {
    if (s < W) return start + ((o.baseLr - start) * s) / W;
    const k = o.stepSize !== undefined ? Math.floor(s / o.stepSize) : ms.filter((m) => m <= s).length;
    return o.baseLr * gamma ** k;
  };
}

export function constantLr(lr: number): Schedule {
  checkLr('lr', lr);
  return () => lr;
}
