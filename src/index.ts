/** hybridvision core (browser-safe): models, graph compiler, ONNX lowering, checkpoint I/O. */
export * from './tensor.js';
export { listModels, createModel, getModelSpec } from './models/registry.js';
export { HybridModel, type CreateOptions } from './models/model.js';
export type { ModelSpec, PretrainedCfg, Family } from './models/types.js';
export { setEngine, getEngine, type Engine, type Session } from './runtime/engine.js';
export { Program, type ProgramSpec } from './runtime/program.js';
export type { GraphOptions, GraphOptionsInit, Lowering, ConvLowering, DropoutConfig } from './graph/options.js';
export { webEngine } from './runtime/web.js';
export * from './io/index.js';
export { pipeline, topK, setImageDecoder, imagesToBatch, type Prediction, type ImageClassifier, type ImageInput } from './pipeline.js';
export { summarize, type ModelSummary, type StageRow } from './models/summary.js';
export type { RgbImage } from './data/image.js';
export { preprocess, batchImages, type PreprocessConfig } from './data/preprocess.js';
export { IMAGENET_CLASSES } from './data/imagenet_classes.js';
export * from './train/index.js';
export { fit, type FitOptions, type FitState, type EpochRecord } from './train/fit.js';
export { evaluate, type EvalResult } from './train/evaluate.js';
export { modelToSafetensors, modelFromBytes } from './models/model_file.js';
