/**
 * Browser engine: onnxruntime-web (wasm). The module is passed in, so the core does not depend on
 * it: `import * as ort from 'onnxruntime-web'; setEngine(webEngine(ort));`. Inference and the
 * training step run the same ONNX graphs as under onnxruntime-node.
 */
import type { Engine } from './engine.js';
import { ortEngine, type OrtModule } from './ort_common.js';

export function webEngine(ort: unknown): Engine {
  return ortEngine(ort as OrtModule, 'onnxruntime-web');
}
