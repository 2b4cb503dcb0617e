/** The model zoo: every variant's spec, listModels and createModel. */
import { HybridVisionError } from '../tensor.js';
import { HybridModel, type CreateOptions } from './model.js';
import { MOBILEVIT_CFGS, MobileViT } from './mobilevit.js';
import { MOBILEVIT_V2_CFGS, MobileViTv2 } from './mobilevit_v2.js';
import type { ModelSpec, PretrainedCfg } from './types.js';
import { MOBILE_FORMER_SPECS } from './mobile_former.js';
import { loadPretrainedWith } from '../hub/hooks.js';


/** CVNets eval: resize short side 288, center crop 256, [0,1], no normalisation. */
function cvnetsCfg(channelOrder: 'RGB' | 'BGR', interpolation: 'bilinear' | 'bicubic', paper: PretrainedCfg['paper'], url?: string, fileName?: string): PretrainedCfg {
  return { inputSize: [256, 256], cropPct: 0.888, interpolation, mean: [0, 0, 0], std: [1, 1, 1], channelOrder, numClasses: 1000, url, fileName, paper };
}

const MV3_RELEASE = 'https://github.com/micronDLA/MobileViTv3/releases/tag/v1.0.0';
const CVNETS = 'https://docs-assets.developer.apple.com/ml-research/models/cvnets';

/** Paper/README figures: params (M), MAdds (M, at `resolution`), ImageNet top-1. */
const V1_BASED: [string, string, number, number, number, string | undefined, string | undefined][] = [
  ['mobilevitv3_xxs', 'MobileViTv3-XXS', 1.2, 289, 70.98, MV3_RELEASE, 'mobilevitv3_XXS_e300_7098/checkpoint_ema_best.pt'],
  ['mobilevitv3_xs', 'MobileViTv3-XS', 2.5, 927, 76.7, MV3_RELEASE, 'mobilevitv3_XS_e300_7671/checkpoint_ema_best.pt'],
  ['mobilevitv3_s', 'MobileViTv3-S', 5.8, 1841, 79.3, MV3_RELEASE, 'mobilevitv3_S_e300_7930/checkpoint_ema_best.pt'],
  ['mobilevitv3_xxs_l2', 'MobileViTv3-XXS-L2', 1.1, 256, 70.23, MV3_RELEASE, 'mobilevitv3_XXS_L2_e300_7023/checkpoint_ema_best.pt'],
  ['mobilevitv3_xs_l2', 'MobileViTv3-XS-L2', 2.3, 853, 76.1, MV3_RELEASE, 'mobilevitv3_XS_L2_e300_7610/checkpoint_ema_best.pt'],
  ['mobilevitv3_s_l2', 'MobileViTv3-S-L2', 5.2, 1651, 79.06, MV3_RELEASE, 'mobilevitv3_S_L2_e300_7906/checkpoint_ema_best.pt'],
  ['mobilevit_xxs', 'MobileViT-XXS (v1 baseline)', 1.3, 364, 69.0, `${CVNETS}/classification/mobilevit_xxs.pt`, 'mobilevit_xxs.pt'],
  ['mobilevit_xs', 'MobileViT-XS (v1 baseline)', 2.3, 986, 74.8, `${CVNETS}/classification/mobilevit_xs.pt`, 'mobilevit_xs.pt'],
  ['mobilevit_s', 'MobileViT-S (v1 baseline)', 5.6, 2010, 78.4, `${CVNETS}/classification/mobilevit_s.pt`, 'mobilevit_s.pt'],
];
const V2_BASED: [string, string, number, number, number, string | undefined, string | undefined][] = [
  ['mobilevitv3_0.5', 'MobileViTv3-0.5', 1.4, 481, 72.33, MV3_RELEASE, 'mobilevitv3_0_5_0/checkpoint_ema_best.pt'],
  ['mobilevitv3_0.75', 'MobileViTv3-0.75', 3.0, 1064, 76.55, MV3_RELEASE, 'mobilevitv3_0_7_5/checkpoint_ema_best.pt'],
  ['mobilevitv3_1.0', 'MobileViTv3-1.0', 5.1, 1876, 78.64, MV3_RELEASE, 'mobilevitv3_1_0_0/checkpoint_ema_best.pt'],
  ...(
    [
      ['0.5', 1.4, 465, 70.18],
      ['0.75', 2.9, 1028, 75.56],
      ['1.0', 4.9, 1812, 78.09],
      ['1.25', 7.5, 0, 0],
      ['1.5', 10.6, 0, 0],
      ['1.75', 14.3, 0, 0],
      ['2.0', 18.4, 0, 0],
    ] as [string, number, number, number][]
  ).map(
    ([w, p, m, t]) =>
      [
        `mobilevitv2_${w}`,
        `MobileViTv2-${w} (baseline)`,
        p,
        m,
        t,
        `${CVNETS}-v2/classification/mobilevitv2/imagenet1k/256x256/mobilevitv2-${w}.pt`,
        `mobilevitv2-${w}.pt`,
      ] as [string, string, number, number, number, string, string],
  ),
];


const specs: ModelSpec[] = [];

for (const [name, desc, params, madds, top1, url, file] of V1_BASED) {
  const c = MOBILEVIT_CFGS[name];
  specs.push({
    name,
    family: name.startsWith('mobilevitv3') ? 'mobilevitv3' : 'mobilevit',
    description: desc,
    cfg: cvnetsCfg('BGR', 'bilinear', { params, madds, top1, resolution: 256, maddsConvention: 'cvnets profiler' }, url, file),
    build: (n) => new MobileViT(c, n),
    headPrefixes: ['classifier.'],
    classifierKey: 'classifier.fc.weight',
  });
}
for (const [name, desc, params, madds, top1, url, file] of V2_BASED) {
  const c = MOBILEVIT_V2_CFGS[name];
  specs.push({
    name,
    family: name.startsWith('mobilevitv3') ? 'mobilevitv3' : 'mobilevitv2',
    description: desc,
    cfg: cvnetsCfg('RGB', 'bicubic', { params, madds, top1, resolution: 256, maddsConvention: 'cvnets profiler' }, url, file),
    build: (n) => new MobileViTv2(c, n),
    headPrefixes: ['classifier.'],
    classifierKey: 'classifier.1.weight',
  });
}

specs.unshift(...MOBILE_FORMER_SPECS);


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
