/** What every model family provides to the registry. */
import type { Value } from '../graph/ir.js';
import type { Module } from '../nn/module.js';
import type { PreprocessConfig } from '../data/preprocess.js';

export type Family = 'mobile_former' | 'mobilevitv3' | 'mobilevit' | 'mobilevitv2' | 'deeplabv3' | 'ssdlite' | 'retinanet';

/** timm-style pretrained config plus the paper's reference figures. */
export interface PretrainedCfg extends PreprocessConfig {
  numClasses: number;
  /** Where the official ImageNet weights are published, and their file name. */
  url?: string;
  fileName?: string;
  paper: { params: number; madds: number; top1: number; resolution: number; maddsConvention?: string };
  /**
   * Models trained here on small images: the image is centred on a canvas `pad` pixels larger on each
   * side and sampled bilinearly to inputSize (the training views), instead of resize + center crop.
   */
  pad?: number;
  /** Class names of the default head (dense heads: VOC, ADE20K, COCO with background); used while the class count is the default. */
  labels?: readonly string[];
  /**
   * SSD detectors: the smallest and largest prior-box scale (fractions of the image side). The
   * official 0.1 and 1.05 are the default; a detector trained here on small images may record its own.
   */
  anchorScales?: [number, number];
}

/** One variant's published facts (every family's spec table has this shape). */
export interface VariantInfo {
  description: string;
  /** Paper / README figures: params (M), MAdds (M, at the family's paper resolution), ImageNet top-1. */
  paper: { params: number; madds: number; top1: number };
  /** Where the official ImageNet weights are published, and their file name. */
  url?: string;
  fileName?: string;
}

export interface NetworkOutput {
  logits: Value;
  /** Per-stage feature maps, in order (names as in the golden intermediates where they exist). */
  features: { name: string; value: Value }[];
  /** Pooled pre-logits features. */
  preLogits: Value;
  /** Outputs that belong with the logits in every inference program (SSD: box_regressions). */
  extraOutputs?: { name: string; value: Value }[];
}

export interface Network extends Module {
  forward(x: Value): NetworkOutput;
}

export interface ModelSpec {
  name: string;
  family: Family;
  description: string;
  cfg: PretrainedCfg;
  build(numClasses: number): Network;
  /** State-dict key prefixes of the classification head (replaced by resetClassifier). */
  headPrefixes: string[];
  /** The final classifier weight [numClasses·rows, F]; its shape tells the class count of a checkpoint. */
  classifierKey: string;
  /** Rows of the classifier weight per class (a detector's anchors per cell); default 1. */
  classifierRowsPerClass?: number;
  /** Parameters that only training uses (the DeepLabv3 aux head): left out of the summary's count, as the papers count. */
  trainingOnlyPrefixes?: string[];
  /** State-dict key prefixes of the backbone (what `freeze: 'backbone'` freezes); default: everything outside headPrefixes. */
  backbonePrefixes?: string[];
  /** The class count of a checkpoint when it is not the classifier weight's first dimension (SSD heads). */
  numClassesFromWeights?(sd: Map<string, { shape: number[] }>): number | undefined;
}

/** A block mapping one feature map to another. */
export type MapBlock = Module & { forward(x: Value): Value };
