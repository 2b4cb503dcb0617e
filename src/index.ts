/** hybridvision core (browser-safe): models, graph compiler, ONNX lowering, checkpoint I/O. */
export * from './tensor.js';
export { listModels, createModel, getModelSpec } from './models/registry.js';
export { HybridModel, type CreateOptions } from './models/model.js';
export type { ModelSpec, PretrainedCfg, Family } from './models/types.js';
export { setEngine, getEngine, type Engine, type Session } from './runtime/engine.js';
export * from './io/index.js';
