/**
 * Node: the engine to use. onnxruntime-node (native) when it is installed; otherwise onnxruntime-web's
 * wasm build, which runs the same graphs more slowly. onnxruntime-node is an optional dependency: its
 * install script fetches CUDA files on Linux x64, and where that fails (no internet) npm drops it.
 */
import type { Engine } from './engine.js';
import { webEngine } from './web.js';

export interface NodeEngineChoice {
  engine: Engine | null;
  /** Why the native engine is not in use, when it is not. */
  note?: string;
}

const missing = (e: unknown, pkg: string) => {
  const err = e as { code?: string; message?: string };
  return (err.code === 'ERR_MODULE_NOT_FOUND' || err.code === 'MODULE_NOT_FOUND') && String(err.message).includes(pkg);
};

export async function chooseNodeEngine(): Promise<NodeEngineChoice> {
  try {
    return { engine: (await import('./node.js')).nodeEngine };
  } catch (e) {
    if (!missing(e, 'onnxruntime-node')) throw e;
  }
  const note =
    'onnxruntime-node is not installed (its install script needs internet for CUDA files on Linux x64); running on the slower wasm engine. ' +
    'For native speed: ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node';
  try {
    return { engine: webEngine(await import('onnxruntime-web'), { threads: 1 }), note };
  } catch (e) {
    if (!missing(e, 'onnxruntime-web')) throw e;
    return { engine: null, note: 'neither onnxruntime-node nor onnxruntime-web is installed: npm install onnxruntime-node (ONNXRUNTIME_NODE_INSTALL=skip where there is no internet)' };
  }
}
