/** Which zoo architectures a state dict fits: every key and shape, whatever its class count. */
import type { HostTensor } from '../tensor.js';
import { createModel, getModelSpec, listModels } from './registry.js';

export function detectModels(sd: Map<string, HostTensor>): string[] {
  return listModels().filter((name) => {
    const spec = getModelSpec(name);
    const nc = sd.get(spec.classifierKey)?.shape[0];
    if (!nc) return false;
    try {
      createModel(name, { weights: sd, numClasses: nc });
      return true;
    } catch {
      return false;
    }
  });
}
