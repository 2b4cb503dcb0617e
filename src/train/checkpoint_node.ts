/** Node: resumable training checkpoints, written atomically (temp file + rename) after every epoch. */
import { existsSync } from 'node:fs';
import { readFileBytes, writeFileAtomic } from '../io/node_files.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { HybridVisionError, type HostTensor } from '../tensor.js';
import type { FitState } from './fit.js';

export interface CheckpointMeta {
  model: string;
  numClasses: number;
  /** The options the run was started with (a resume must match them). */
  config: Record<string, unknown>;
}

export async function saveTrainCheckpoint(path: string, meta: CheckpointMeta, s: FitState): Promise<void> {
  const t: Record<string, HostTensor> = {};
  for (const [k, v] of s.weights) t[`model.${k}`] = v;
  for (const [slot, m] of s.optimizer.slots) for (const [k, v] of m) t[`optim.${slot}.${k}`] = v;
  if (s.ema) for (const [k, v] of s.ema) t[`ema.${k}`] = v;
  await writeFileAtomic(
    path,
    writeSafetensors(t, {
      format: 'hybridvision-train',
      meta: JSON.stringify(meta),
      epoch: String(s.epoch),
      step: String(s.optimizer.step),
      history: JSON.stringify(s.history),
    }),
  );
}

export async function loadTrainCheckpoint(path: string): Promise<{ meta: CheckpointMeta; state: FitState }> {
  if (!existsSync(path)) throw new HybridVisionError(`no checkpoint to resume at ${path}`);
  const f = readSafetensors(await readFileBytes(path));
  if (f.metadata.format !== 'hybridvision-train') throw new HybridVisionError(`${path} is not a hybridvision training checkpoint`);
  const weights = new Map<string, HostTensor>();
  const ema = new Map<string, HostTensor>();
  const slots = new Map<string, Map<string, HostTensor>>();
  for (const [k, v] of f.tensors) {
    if (k.startsWith('model.')) weights.set(k.slice(6), v);
    else if (k.startsWith('ema.')) ema.set(k.slice(4), v);
    else if (k.startsWith('optim.')) {
      const rest = k.slice(6);
      const dot = rest.indexOf('.');
      const slot = rest.slice(0, dot);
      if (!slots.has(slot)) slots.set(slot, new Map());
      slots.get(slot)!.set(rest.slice(dot + 1), v);
    }
  }
  return {
    meta: JSON.parse(f.metadata.meta),
    state: {
      epoch: Number(f.metadata.epoch),
      weights,
      optimizer: { step: Number(f.metadata.step), slots },
      ema: ema.size ? ema : null,
      history: JSON.parse(f.metadata.history),
    },
  };
}
