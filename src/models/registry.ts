/** The model zoo: every variant's spec, listModels and createModel. */
import { HybridVisionError } from '../tensor.js';
import { HybridModel, type CreateOptions } from './model.js';
import { MOBILE_FORMER_SPECS } from './mobile_former.js';
import { MOBILEVIT_SPECS } from './mobilevit.js';
import { MOBILEVIT_V2_SPECS } from './mobilevit_v2.js';
import { RETINANET_SPECS } from './retinanet.js';
import type { ModelSpec } from './types.js';
import { DEEPLABV3_SPECS } from './deeplabv3.js';
import { SSDLITE_SPECS } from './ssdlite.js';
import { loadPretrainedWith } from '../hub/hooks.js';


/** Every family's specs, concatenated (each family file owns its variants). */
const specs: ModelSpec[] = [...MOBILE_FORMER_SPECS, ...MOBILEVIT_SPECS, ...MOBILEVIT_V2_SPECS, ...DEEPLABV3_SPECS, ...SSDLITE_SPECS, ...RETINANET_SPECS];

function globToRegExp(p: string): RegExp {
  return new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
}

/** Model names, optionally filtered by a glob such as `mobilevitv3*`. */
export function listModels(pattern?: string): string[] {
  const re = pattern ? globToRegExp(pattern.includes('*') || pattern.includes('?') ? pattern : `*${pattern}*`) : null;
  return specs.map((s) => s.name).filter((n) => !re || re.test(n));
}

export function getModelSpec(name: string): ModelSpec {
  const s = specs.find((x) => x.name === name);
  if (!s) {
    const near = specs.filter((x) => x.name.includes(name.toLowerCase().slice(0, 8))).map((x) => x.name);
    throw new HybridVisionError(`unknown model '${name}'${near.length ? `; did you mean ${near.slice(0, 4).join(', ')}?` : ''} (hybridvision models lists them)`);
  }
  return s;
}

/**
 * A model by name: random weights, `weights` (a state dict), or with `pretrained: true` the official
 * ImageNet weights, fetched and cached by the loader the Node entry installs (then a Promise).
 */
export function createModel(name: string, opts: CreateOptions & { pretrained: true }): Promise<HybridModel>;
export function createModel(name: string, opts?: CreateOptions & { pretrained?: false }): HybridModel;
export function createModel(name: string, opts?: CreateOptions): HybridModel | Promise<HybridModel>;
export function createModel(name: string, opts: CreateOptions = {}): HybridModel | Promise<HybridModel> {
  const spec = getModelSpec(name);
  if (opts.pretrained) return loadPretrainedWith(name, opts);
  return new HybridModel(spec, opts);
}
