/**
 * DeepLabv3 on the MobileViT encoders, as the MobileViTv3 release trained it (cvnets v0.1 heads for
 * the v1-based XXS/XS/S, v0.2 for the v2-based 0.5/0.75/1.0). Keys: encoder.*,
 * seg_head.aspp.aspp_layer.*, seg_head.classifier.classifier.block.conv (v0.1) or
 * seg_head.classifier.block.conv (v0.2), seg_head.aux_head.{0,2} (v0.2 with the aux head).
 */
import type { Value } from '../graph/ir.js';
import { dropout, dropoutChannels } from '../graph/ops/dropout.js';
import { reduceMean } from '../graph/ops/reduce.js';
import { concat, expand } from '../graph/ops/shape.js';
import { resizeBilinear } from '../nn/functional.js';
import { Module } from '../nn/module.js';
import { ConvLayer, MV3_RELEASE, type OutputStride } from './cvnets_layers.js';
import { cvnetsTree, denseEncoder, type DenseEncoder } from './dense_encoder.js';
import type { ModelSpec, Network, NetworkOutput } from './types.js';
import { VOC_CLASSES } from '../data/voc_classes.js';
import { ADE20K_CLASSES } from '../data/ade20k_classes.js';

export interface DeepLabV3Config {
  backbone: string;
  outputStride: OutputStride;
  asppChannels: number;
  rates: [number, number, number];
  asppDropout: number;
  /** Dropout2d before the classifier (v0.1 only: the v0.2 head has none although the option exists). */
  classifierDropout: number;
  auxHead: boolean;
  auxDropout: number;
}

/** The ASPP pooling branch: global average → 1x1 conv + BN + ReLU → bilinear back to h×w (a broadcast). */
class AsppPooling extends Module {
  conv: ConvLayer;
  constructor(cin: number, cout: number) {
    super();
    this.conv = this.add('aspp_pool.conv_1x1', new ConvLayer(cin, cout, 1, { act: 'relu' }));
  }
  forward(x: Value): Value {
    const [n, , h, w] = x.shape;
    const y = this.conv.call(reduceMean(x, [2, 3], true));
    return expand(y, [n, y.shape[1], h, w]);
  }
}

/** ASPP: [1x1, three atrous 3x3 (padding = rate), pooling] → concat → project (1x1 + BN + ReLU) → dropout. */
class Aspp extends Module {
  branches: (ConvLayer | AsppPooling)[];
  project: ConvLayer;
  constructor(
    cin: number,
    readonly cfg: DeepLabV3Config,
  ) {
    super();
    const c = cfg.asppChannels;
    this.branches = [
      this.add('convs.0', new ConvLayer(cin, c, 1, { act: 'relu' })),
      ...cfg.rates.map((r, i) => this.add(`convs.${i + 1}`, new ConvLayer(cin, c, 3, { dilation: r, act: 'relu' }))),
      this.add('convs.4', new AsppPooling(cin, c)),
    ];
    this.project = this.add('project', new ConvLayer(5 * c, c, 1, { act: 'relu' }));
  }
  forward(x: Value): { concat: Value; out: Value } {
    const cat = concat(
      this.branches.map((b) => b.call(x)),
      1,
    );
    return { concat: cat, out: dropout(this.project.call(cat), this.cfg.asppDropout, 'aspp') };
  }
}

/** 1x1 conv with bias, no BN, no activation. */
const classifierConv = (cin: number, k: number) => new ConvLayer(cin, k, 1, { bias: true, norm: false, act: false });

export class DeepLabV3 extends Module implements Network {
  encoder: DenseEncoder;
  aspp: Aspp;
  classifier: ConvLayer;
  aux: { conv: ConvLayer; cls: ConvLayer } | null = null;
  readonly tree: 'v0.1' | 'v0.2';
  constructor(
    readonly cfg: DeepLabV3Config,
    readonly numClasses: number,
  ) {
    super();
    this.tree = cvnetsTree(cfg.backbone);
    this.encoder = this.add('encoder', denseEncoder(cfg.backbone, cfg.outputStride));
    const ch = this.encoder.levelChannels;
    const l4 = ch[4];
    const l5 = ch[5];
    if (cfg.auxHead) {
      const mid = Math.max(Math.floor(l4 / 4), this.tree === 'v0.1' ? 256 : 128);
      this.aux = {
        conv: this.add('seg_head.aux_head.0', new ConvLayer(l4, mid, 3, { act: 'relu' })),
        cls: this.add('seg_head.aux_head.2', classifierConv(mid, numClasses)),
      };
    }
    this.aspp = this.add('seg_head.aspp.aspp_layer', new Aspp(l5, cfg));
    this.classifier = this.add(this.tree === 'v0.1' ? 'seg_head.classifier.classifier' : 'seg_head.classifier', classifierConv(cfg.asppChannels, numClasses));
  }

  /** The aux head on out_l4 (official forward_aux_head): 3x3 conv + BN + ReLU, Dropout2d, 1x1 conv. */
  auxLogits(l4: Value): Value {
    if (!this.aux) throw new Error('this DeepLabv3 has no aux head');
    return this.aux.cls.call(dropoutChannels(this.aux.conv.call(l4), this.cfg.auxDropout, 'aux'));
  }

  forward(x: Value): NetworkOutput {
    const levels = this.encoder.forwardLevels(x);
    const features: NetworkOutput['features'] = levels.map((value, i) => ({ name: `out_l${i}`, value }));
    const { concat: cat, out } = this.aspp.call(levels[5]);
    const head = this.tree === 'v0.1' ? dropoutChannels(out, this.cfg.classifierDropout, 'classifier') : out;
    const lowres = this.classifier.call(head);
    const [, , h, w] = lowres.shape;
    const os = this.cfg.outputStride;
    // UpSample(scale_factor = OS): v0.1 align_corners False, v0.2 True
    const logits = resizeBilinear(lowres, h * os, w * os, this.tree === 'v0.2');
    features.push({ name: 'aspp_concat', value: cat }, { name: 'aspp_out', value: out }, { name: 'logits_lowres', value: lowres });
    if (this.aux) features.push({ name: 'aux_logits', value: this.auxLogits(levels[4]) });
    return { logits, features, preLogits: out };
  }
}

/** The official configs (MobileViTv3 release yamls, cvnets argparse defaults): one row per dataset and tree. */
const CONFIGS: Record<'voc_v0.1' | 'voc_v0.2' | 'ade20k_v0.2', Omit<DeepLabV3Config, 'backbone'>> = {
  'voc_v0.1': { outputStride: 16, asppChannels: 256, rates: [6, 12, 18], asppDropout: 0.1, classifierDropout: 0.1, auxHead: false, auxDropout: 0.1 },
  'voc_v0.2': { outputStride: 16, asppChannels: 512, rates: [6, 12, 18], asppDropout: 0.1, classifierDropout: 0, auxHead: true, auxDropout: 0.1 },
  'ade20k_v0.2': { outputStride: 8, asppChannels: 512, rates: [12, 24, 36], asppDropout: 0.1, classifierDropout: 0, auxHead: true, auxDropout: 0.1 },
};

/** Published whole-model parameter counts (M, without the aux head; MobileViTv3 README). */
const VARIANTS: { backbone: string; dataset: 'voc' | 'ade20k'; paramsM: number; label: string }[] = [
  { backbone: 'mobilevitv3_xxs', dataset: 'voc', paramsM: 2.0, label: 'MobileViTv3-XXS' },
  { backbone: 'mobilevitv3_xs', dataset: 'voc', paramsM: 3.3, label: 'MobileViTv3-XS' },
  { backbone: 'mobilevitv3_s', dataset: 'voc', paramsM: 7.2, label: 'MobileViTv3-S' },
  { backbone: 'mobilevitv3_0.5', dataset: 'voc', paramsM: 6.3, label: 'MobileViTv3-0.5' },
  { backbone: 'mobilevitv3_0.75', dataset: 'voc', paramsM: 0, label: 'MobileViTv3-0.75' },
  { backbone: 'mobilevitv3_1.0', dataset: 'voc', paramsM: 13.6, label: 'MobileViTv3-1.0' },
  { backbone: 'mobilevitv3_0.5', dataset: 'ade20k', paramsM: 6.4, label: 'MobileViTv3-0.5' },
  { backbone: 'mobilevitv3_0.75', dataset: 'ade20k', paramsM: 9.7, label: 'MobileViTv3-0.75' },
  { backbone: 'mobilevitv3_1.0', dataset: 'ade20k', paramsM: 13.6, label: 'MobileViTv3-1.0' },
  // MobileViTv2 baselines: the same cvnets v0.2 head and encoder code (no golden case; no paper figure listed here)
  ...(['0.5', '0.75', '1.0'] as const).flatMap((w) => (['voc', 'ade20k'] as const).map((dataset) => ({ backbone: `mobilevitv2_${w}`, dataset, paramsM: 0, label: `MobileViTv2-${w}` }))),
];

export function deeplabv3Config(backbone: string, dataset: 'voc' | 'ade20k'): DeepLabV3Config {
  const key = `${dataset}_${cvnetsTree(backbone)}` as keyof typeof CONFIGS;
  if (!CONFIGS[key]) throw new Error(`no official DeepLabv3 ${dataset} config for ${backbone}`);
  return { backbone, ...CONFIGS[key] };
}

/** The registry entries `deeplabv3_<backbone>_<dataset>`. */
export const DEEPLABV3_SPECS: ModelSpec[] = VARIANTS.map(({ backbone, dataset, paramsM, label }) => {
  const cfg = deeplabv3Config(backbone, dataset);
  const v1 = cvnetsTree(backbone) === 'v0.1';
  const classifierKey = v1 ? 'seg_head.classifier.classifier.block.conv.weight' : 'seg_head.classifier.block.conv.weight';
  return {
    name: `deeplabv3_${backbone}_${dataset}`,
    family: 'deeplabv3',
    description: `DeepLabv3-${label} (${dataset === 'voc' ? 'PASCAL VOC 2012' : 'ADE20K'}, output stride ${cfg.outputStride})`,
    cfg: {
      inputSize: [512, 512],
      cropPct: 1,
      interpolation: v1 ? 'bilinear' : 'bicubic',
      mean: [0, 0, 0],
      std: [1, 1, 1],
      channelOrder: v1 ? 'BGR' : 'RGB',
      numClasses: dataset === 'voc' ? 21 : 150,
      labels: dataset === 'voc' ? VOC_CLASSES : ADE20K_CLASSES,
      url: backbone.startsWith('mobilevitv3') ? MV3_RELEASE : undefined,
      paper: { params: paramsM, madds: 0, top1: 0, resolution: 512, maddsConvention: 'cvnets profiler' },
    },
    build: (n: number) => new DeepLabV3(cfg, n),
    headPrefixes: ['seg_head.classifier.', 'seg_head.aux_head.2.'],
    backbonePrefixes: ['encoder.'],
    trainingOnlyPrefixes: ['seg_head.aux_head.'],
    classifierKey,
  };
});
