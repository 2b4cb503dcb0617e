/**
 * Model files: safetensors with the official state-dict keys (loadable by the official PyTorch code)
 * plus metadata naming the architecture, class labels and preprocessing, so a file is self-describing.
 */
import { f32ToF16, readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { isSafetensors, readCheckpoint } from '../io/torch.js';
import { HybridVisionError, type HostTensor } from '../tensor.js';
import type { HybridModel } from './model.js';
import { detectModels } from './detect.js';
import { createModel } from './registry.js';
import type { PretrainedCfg } from './types.js';

export function modelToSafetensors(model: HybridModel, opts: { fp16?: boolean; extra?: Record<string, string> } = {}): Uint8Array {
  const tensors: Record<string, HostTensor> = {};
  for (const [k, t] of model.stateDict()) {
    tensors[k] = opts.fp16 && t.dtype === 'float32' ? { dtype: 'float16', shape: t.shape, data: f32ToF16(t.data as Float32Array) } : t;
  }
  const c = model.cfg;
  const cfg: Partial<PretrainedCfg> = { inputSize: c.inputSize, cropPct: c.cropPct, interpolation: c.interpolation, mean: c.mean, std: c.std, channelOrder: c.channelOrder, pad: c.pad };
  return writeSafetensors(tensors, {
    format: 'hybridvision',
    model: model.name,
    num_classes: String(model.numClasses),
    ...(model.labels ? { labels: JSON.stringify(model.labels) } : {}),
    cfg: JSON.stringify(cfg),
    ...opts.extra,
  });
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
 * without one, the zoo model whose keys and shapes the checkpoint matches.
 */
export async function modelFromBytes(bytes: Uint8Array, name?: string, opts: ModelFileOptions = {}): Promise<HybridModel> {
  let meta: Record<string, string> = {};
  let weights: Map<string, HostTensor>;
  if (isSafetensors(bytes)) {
    const f = readSafetensors(bytes);
    meta = f.metadata;
    weights = f.tensors;
  } else weights = await readCheckpoint(bytes, opts.fileLabel);
  let arch = name ?? meta.model;
  if (!arch) {
    const found = detectModels(weights);
    if (found.length !== 1) {
      throw new HybridVisionError(`${opts.fileLabel ?? 'checkpoint'} does not name its model and ${found.length ? `fits ${found.join(', ')}` : 'fits no zoo model'}: pass the model name`);
    }
    arch = found[0];
  }
  if (name && meta.model && meta.model !== name) throw new HybridVisionError(`${opts.fileLabel ?? 'checkpoint'} holds a ${meta.model}, not a ${name}`);
  return createModel(arch, {
    weights,
    threads: opts.threads,
    labels: opts.labels ?? (meta.labels ? JSON.parse(meta.labels) : undefined),
    cfg: { ...(meta.cfg ? JSON.parse(meta.cfg) : {}), ...opts.cfg },
  });
}
