/** Which zoo architectures a state dict fits: every key and shape, whatever its class count. */
import { checkStateDict } from '../io/state_dict.js';
import type { HostTensor } from '../tensor.js';
import { getModelSpec, listModels } from './registry.js';

export function detectModels(sd: Map<string, HostTensor>): string[] {
  return listModels().filter((name) => {
    const spec = getModelSpec(name);
    const rows = sd.get(spec.classifierKey)?.shape[0];
    const nc = rows === undefined ? 0 : rows / (spec.classifierRowsPerClass ?? 1);
    if (!Number.isInteger(nc) || nc < 1) return false;
    // the declarations alone: no weights are drawn for the architectures that do not fit
    const expected = new Map(spec.build(nc).stateEntries().map((e) => [e.key, e.shape]));
    try {
      checkStateDict(expected, sd);
      return true;
    } catch {
      return false;
    }
  });
}
