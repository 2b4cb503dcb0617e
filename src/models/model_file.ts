/**
 * Model files: safetensors with the official state-dict keys (loadable by the official PyTorch code)
 * plus metadata naming the architecture, class labels and preprocessing, so a file is self-describing.
 */
import { f32ToF16 } from '../half.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { cleanText, describeValue } from '../io/text.js';
import { isSafetensors, readCheckpoint } from '../io/torch.js';
import { HybridVisionError, type HostTensor } from '../tensor.js';
import type { HybridModel } from './model.js';
import { detectModels } from './detect.js';
import { createModel } from './registry.js';
import { ANCHOR_SCALES_RULE, validAnchorScales } from './ssdlite.js';
import type { PretrainedCfg } from './types.js';

export function modelToSafetensors(model: HybridModel, opts: { fp16?: boolean; extra?: Record<string, string> } = {}): Uint8Array {
  const tensors: Record<string, HostTensor> = {};
  for (const [k, t] of model.stateDict()) {
    tensors[k] = opts.fp16 && t.dtype === 'float32' ? { dtype: 'float16', shape: t.shape, data: f32ToF16(t.data as Float32Array) } : t;
  }
  const c = model.cfg;
  const cfg: Partial<PretrainedCfg> = { inputSize: c.inputSize, cropPct: c.cropPct, interpolation: c.interpolation, mean: c.mean, std: c.std, channelOrder: c.channelOrder, pad: c.pad, anchorScales: c.anchorScales };
  return writeSafetensors(tensors, {
    format: 'hybridvision',
    model: model.name,
    num_classes: String(model.numClasses),
    ...(model.labels ? { labels: JSON.stringify(model.labels) } : {}),
    cfg: JSON.stringify(cfg),
    ...opts.extra,
  });
}

/** The largest input side a model file may ask for (the official models use 224-512). */
export const MAX_INPUT_SIDE = 2048;
/** The most classes a model file or --num-classes may ask for (ImageNet-21k has 21,843). */
export const MAX_CLASSES = 100_000;

function badMeta(file: string, key: string, what: string): HybridVisionError {
  return new HybridVisionError(`${file}: metadata '${key}' ${what}; the file is damaged or was not written by hybridvision`);
}

function parseMetaJson(file: string, key: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw badMeta(file, key, `is not valid JSON (starts ${JSON.stringify(cleanText(text, 30))})`);
  }
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isInt = (v: unknown, lo: number, hi: number): v is number => Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi;
const isTriple = (v: unknown, ok: (x: number) => boolean): v is [number, number, number] => Array.isArray(v) && v.length === 3 && v.every((x) => isNum(x) && ok(x));

/**
 * The preprocessing a model file records, checked field by field before use: sizes within
 * MAX_INPUT_SIDE, finite mean and positive std, known interpolation and channel order. Unknown
 * fields are dropped.
 */
export function validateFileCfg(file: string, raw: unknown): Partial<PretrainedCfg> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw badMeta(file, 'cfg', `is ${describeValue(raw)}, not an object`);
  const c = raw as Record<string, unknown>;
  const out: Partial<PretrainedCfg> = {};
  const has = (k: string) => Object.prototype.hasOwnProperty.call(c, k) && c[k] !== undefined && c[k] !== null;
  if (has('inputSize')) {
    const v = c.inputSize;
    if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => isInt(x, 1, MAX_INPUT_SIDE))) {
      throw badMeta(file, 'cfg.inputSize', `is ${describeValue(v)}; it must be [height, width], each 1..${MAX_INPUT_SIDE}`);
    }
    out.inputSize = [v[0], v[1]];
  }
  if (has('cropPct')) {
    if (!isNum(c.cropPct) || c.cropPct <= 0 || c.cropPct > 2) throw badMeta(file, 'cfg.cropPct', `is ${describeValue(c.cropPct)}; it must be in (0, 2]`);
    out.cropPct = c.cropPct;
  }
  if (has('interpolation')) {
    if (c.interpolation !== 'bilinear' && c.interpolation !== 'bicubic') throw badMeta(file, 'cfg.interpolation', `is ${describeValue(c.interpolation)}; it must be bilinear or bicubic`);
    out.interpolation = c.interpolation;
  }
  if (has('mean')) {
    if (!isTriple(c.mean, (x) => Math.abs(x) <= 1e3)) throw badMeta(file, 'cfg.mean', `is ${describeValue(c.mean)}; it must be three finite numbers`);
    out.mean = [...c.mean];
  }
  if (has('std')) {
    if (!isTriple(c.std, (x) => x > 1e-6 && x <= 1e3)) throw badMeta(file, 'cfg.std', `is ${describeValue(c.std)}; it must be three positive numbers`);
    out.std = [...c.std];
  }
  if (has('channelOrder')) {
    if (c.channelOrder !== 'RGB' && c.channelOrder !== 'BGR') throw badMeta(file, 'cfg.channelOrder', `is ${describeValue(c.channelOrder)}; it must be RGB or BGR`);
    out.channelOrder = c.channelOrder;
  }
  if (has('pad')) {
    if (!isInt(c.pad, 0, MAX_INPUT_SIDE / 2)) throw badMeta(file, 'cfg.pad', `is ${describeValue(c.pad)}; it must be a whole number 0..${MAX_INPUT_SIDE / 2}`);
    out.pad = c.pad;
  }
  if (has('anchorScales')) {
    const v = c.anchorScales;
    if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => isNum(x)) || !validAnchorScales(v[0], v[1])) {
      throw badMeta(file, 'cfg.anchorScales', `is ${describeValue(v)}; it must be [min, max] with ${ANCHOR_SCALES_RULE}`);
    }
    out.anchorScales = [v[0], v[1]];
  }
  return out;
}

function validateLabels(file: string, raw: unknown): string[] {
  if (!Array.isArray(raw) || raw.length < 1 || raw.length > MAX_CLASSES || !raw.every((x) => typeof x === 'string' && x.length <= 1000)) {
    throw badMeta(file, 'labels', `is ${describeValue(raw)}; it must be a list of 1..${MAX_CLASSES} class names`);
  }
  return raw.map((x: string) => cleanText(x, 1000));
}

/** What a model file's metadata says, validated: the architecture, class names and preprocessing. */
export interface ModelFileMeta {
  model?: string;
  labels?: string[];
  cfg?: Partial<PretrainedCfg>;
}

/** Validates a safetensors model file's metadata before any of it is used; errors name the file. */
export function modelFileMeta(file: string, meta: Readonly<Record<string, string>>): ModelFileMeta {
  const own = (k: string): string | undefined => (Object.prototype.hasOwnProperty.call(meta, k) ? meta[k] : undefined);
  const labelsText = own('labels');
  const cfgText = own('cfg');
  const labels = labelsText === undefined ? undefined : validateLabels(file, parseMetaJson(file, 'labels', labelsText));
  const cfg = cfgText === undefined ? undefined : validateFileCfg(file, parseMetaJson(file, 'cfg', cfgText));
  const nc = own('num_classes');
  if (nc !== undefined && !(/^\d+$/.test(nc) && isInt(Number(nc), 1, MAX_CLASSES))) throw badMeta(file, 'num_classes', `is ${describeValue(nc)}; it must be a whole number 1..${MAX_CLASSES}`);
  if (labels && nc !== undefined && labels.length !== Number(nc)) throw badMeta(file, 'labels', `has ${labels.length} names for ${nc} classes`);
  return { model: own('model'), labels, cfg };
}

export interface ModelFileOptions {
  threads?: number;
  /** The file's name, for error messages. */
  fileLabel?: string;
  /** Overrides of what the file records. */
  labels?: string[];
  cfg?: Partial<PretrainedCfg>;
}

/**
 * A model from checkpoint bytes: hybridvision files name their architecture, labels and
 * preprocessing; for any other checkpoint (safetensors or PyTorch) the architecture is `name`, or,
 * without one, the zoo model whose keys and shapes the checkpoint matches. The metadata is
 * validated before use; errors name the file.
 */
export async function modelFromBytes(bytes: Uint8Array, name?: string, opts: ModelFileOptions = {}): Promise<HybridModel> {
  const file = cleanText(opts.fileLabel ?? 'checkpoint');
  let meta: ModelFileMeta = {};
  let weights: Map<string, HostTensor>;
  if (isSafetensors(bytes)) {
    const f = readSafetensors(bytes);
    meta = modelFileMeta(file, f.metadata);
    weights = f.tensors;
  } else weights = await readCheckpoint(bytes, opts.fileLabel);
  let arch = name ?? meta.model;
  if (!arch) {
    const found = detectModels(weights);
    if (found.length !== 1) {
      throw new HybridVisionError(`${file} does not name its model and ${found.length ? `fits ${found.join(', ')}` : 'fits no zoo model'}: pass the model name`);
    }
    arch = found[0];
  }
  if (name && meta.model && meta.model !== name) throw new HybridVisionError(`${file} holds a ${cleanText(meta.model, 60)}, not a ${name}`);
  return createModel(arch, {
    weights,
    threads: opts.threads,
    labels: opts.labels ?? meta.labels,
    cfg: { ...(meta.cfg ?? {}), ...opts.cfg },
  });
}
