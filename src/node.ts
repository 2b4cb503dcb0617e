/** The Node entry: everything in the core plus the onnxruntime-node engine, file I/O and image decoding. */
import { setEngine } from './runtime/engine.js';
import { nodeEngine } from './runtime/node.js';

setEngine(nodeEngine);

export * from './index.js';
export { nodeEngine } from './runtime/node.js';
export { readFileBytes, writeFileAtomic, loadCheckpointFile } from './io/node_files.js';
