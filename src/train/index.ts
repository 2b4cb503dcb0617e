/** Training: losses, optimizers, schedules, the compiled train step, EMA and input gradients. */
export { crossEntropy, softTargetCrossEntropy, oneHot, labelTensor, smoothTargets, mixTargets, crossEntropyHost } from './loss.js';
export { adamw, sgd, decayAll, noDecayNormsAndBiases, type Optimizer, type AdamWOptions, type SGDOptions, type DecayMask } from './optim.js';
export { warmupCosine, stepDecay, constantLr, type Schedule, type WarmupCosineOptions, type StepDecayOptions } from './schedule.js';
export {
  TrainStep,
  buildTrainGraph,
  frozenPredicate,
  type TrainStepOptions,
  type StepResult,
  type OptimizerState,
  type FreezeSpec,
  type BuiltTrainStep,
  type FlatLayout,
  type ParamGroup,
  type TrainGraphIO,
  type StepBinding,
} from './step.js';
export { OptimizerStep } from './apply.js';
export { classification, type Objective, type TargetsInput } from './objective.js';
export { WeightEma, type EmaOptions } from './ema.js';
export { InputGradient, type InputGradientOptions, type InputGradientResult, type SaliencyKind } from './saliency.js';
export { retinaObjective, retinaTrainTargets, retinaLossTerms, RETINA_TARGET_COLUMNS, type BoxTargets } from './retina_objective.js';
export { isTrainTask, type TrainTask, type TaskEval } from './task.js';
export { segmentationTask, ssdTask, retinaTask, cocoGroundTruth, type DenseTaskOptions } from './dense_tasks.js';
