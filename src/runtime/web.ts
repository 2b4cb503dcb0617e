/**
 * Browser engine: onnxruntime-web (wasm). The module is passed in, so the core does not depend on
 * it: `import * as ort from 'onnxruntime-web'; setEngine(webEngine(ort));`. Inference and the
 * training step run the same ONNX graphs as under onnxruntime-node.
 */
import type { Engine } from './engine.js';
import { ortEngine, type OrtModule } from './ort_common.js';

type WebOrt = OrtModule & { env: { wasm: { numThreads?: number } } };

/**
 * `ort`: the module as imported (a namespace, or one whose `default` is the API, as Node's ESM
 * import of the package gives). `threads` sets the wasm thread count, which onnxruntime-web takes
 * from its global env rather than from session options.
 */
export function webEngine(ort: unknown, opts: { threads?: number } = {}): Engine {
  const api = ((ort as { default?: WebOrt }).default ?? ort) as WebOrt;
  if (opts.threads !== undefined) api.env.wasm.numThreads = opts.threads;
  return ortEngine(api, 'onnxruntime-web');
}
