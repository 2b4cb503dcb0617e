/**
 * Node: resumable training checkpoints, written atomically (temp file + rename) after every epoch,
 * and the run folder they live in: locked against a second run, checked writable before training,
 * cleared of temp files that killed runs left behind.
 */
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { readFileBytes, writeFileAtomic } from '../io/node_files.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { HybridVisionError, type HostTensor } from '../tensor.js';
import { nonFiniteIn, type EpochRecord, type FitState } from './fit.js';

export interface CheckpointMeta {
  model: string;
  numClasses: number;
  /** The options the run was started with (a resume must match them). */
  config: Record<string, unknown>;
}

export async function saveTrainCheckpoint(path: string, meta: CheckpointMeta, s: FitState): Promise<void> {
  const bad = nonFiniteIn(s);
  if (bad) throw new HybridVisionError(`not writing ${path}: ${bad} is not finite`);
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

function damaged(path: string, what: string): HybridVisionError {
  return new HybridVisionError(`${path}: ${what}; the checkpoint is damaged (delete it to start the run afresh)`);
}

function metaJson(path: string, key: string, text: string | undefined): unknown {
  if (text === undefined) throw damaged(path, `metadata '${key}' is missing`);
  try {
    return JSON.parse(text);
  } catch {
    throw damaged(path, `metadata '${key}' is not valid JSON`);
  }
}

function metaCount(path: string, key: string, text: string | undefined): number {
  const v = text !== undefined && /^\d{1,15}$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(v)) throw damaged(path, `metadata '${key}' is not a whole number`);
  return v;
}

export async function loadTrainCheckpoint(path: string): Promise<{ meta: CheckpointMeta; state: FitState }> {
  if (!existsSync(path)) throw new HybridVisionError(`no checkpoint to resume at ${path}`);
  let f;
  try {
    f = readSafetensors(await readFileBytes(path));
  } catch (e) {
    if (e instanceof HybridVisionError && !e.message.includes(path)) throw new HybridVisionError(`${path}: ${e.message}`);
    throw e;
  }
  const own = (k: string): string | undefined => (Object.prototype.hasOwnProperty.call(f.metadata, k) ? f.metadata[k] : undefined);
  if (own('format') !== 'hybridvision-train') throw new HybridVisionError(`${path} is not a hybridvision training checkpoint`);
  const meta = metaJson(path, 'meta', own('meta')) as CheckpointMeta;
  if (meta === null || typeof meta !== 'object' || typeof meta.model !== 'string' || meta.config === null || typeof meta.config !== 'object') {
    throw damaged(path, "metadata 'meta' does not name the model and options");
  }
  try {
    JSON.stringify(meta.config); // the resume compares options as JSON: nesting too deep for that is damage
  } catch {
    throw damaged(path, "metadata 'meta' nests too deeply");
  }
  const history = metaJson(path, 'history', own('history'));
  if (!Array.isArray(history) || !history.every((h) => h !== null && typeof h === 'object' && Number.isInteger((h as EpochRecord).epoch))) {
    throw damaged(path, "metadata 'history' is not a list of epoch records");
  }
  const epoch = metaCount(path, 'epoch', own('epoch'));
  const step = metaCount(path, 'step', own('step'));
  const weights = new Map<string, HostTensor>();
  const ema = new Map<string, HostTensor>();
  const slots = new Map<string, Map<string, HostTensor>>();
  for (const [k, v] of f.tensors) {
    if (k.startsWith('model.')) weights.set(k.slice(6), v);
    else if (k.startsWith('ema.')) ema.set(k.slice(4), v);
    else if (k.startsWith('optim.')) {
      const rest = k.slice(6);
      const dot = rest.indexOf('.');
      if (dot <= 0) throw damaged(path, `tensor '${k}' names no optimizer slot`);
      const slot = rest.slice(0, dot);
      if (!slots.has(slot)) slots.set(slot, new Map());
      slots.get(slot)!.set(rest.slice(dot + 1), v);
    }
  }
  if (weights.size === 0) throw damaged(path, 'it holds no model weights');
  const state: FitState = { epoch, weights, optimizer: { step, slots }, ema: ema.size ? ema : null, history: history as EpochRecord[] };
  const bad = nonFiniteIn(state);
  if (bad) throw damaged(path, `${bad} is not finite`);
  return { meta, state };
}

// ---- the run folder

const LOCK = '.hybridvision-train.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function describeDirError(e: unknown, out: string): HybridVisionError {
  const code = (e as NodeJS.ErrnoException)?.code;
  const why =
    code === 'EROFS' ? 'it is on a read-only file system'
    : code === 'EACCES' || code === 'EPERM' ? 'permission denied'
    : code === 'ENOSPC' ? 'no space left on the device'
    : code === 'ENOTDIR' || code === 'EEXIST' ? 'it (or a parent) is not a directory'
    : String((e as Error)?.message ?? e).split('\n')[0];
  return new HybridVisionError(`cannot write training output to ${out}: ${why}; choose another --out`);
}

/**
 * Prepares a training run's output folder before any work: creates it, takes a lock (a second run
 * into the same folder is refused while the first is alive; a dead run's lock is taken over),
 * checks that files can be written there, and removes temp files that killed runs left behind.
 * Returns the function that releases the lock (also released when the process exits).
 */
export function prepareRunDir(out: string): () => void {
  try {
    mkdirSync(out, { recursive: true });
  } catch (e) {
    throw describeDirError(e, out);
  }
  const lock = join(out, LOCK);
  let fd = -1;
  for (let attempt = 0; fd < 0; attempt++) {
    try {
      fd = openSync(lock, 'wx', 0o644);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST' || attempt > 0) throw code === 'EEXIST' ? anotherRun(out, lock) : describeDirError(e, out);
      const owner = readLock(lock);
      if (owner && owner.host === hostname() && alive(owner.pid)) throw anotherRun(out, lock, owner.pid);
      if (owner && owner.host !== hostname()) throw anotherRun(out, lock, owner.pid, owner.host);
      try {
        unlinkSync(lock); // a dead run's lock
      } catch {
        /* taken over by someone else meanwhile: the next attempt reports it */
      }
    }
  }
  try {
    writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString() }));
  } catch (e) {
    closeSync(fd);
    try {
      unlinkSync(lock);
    } catch {
      /* ignore */
    }
    throw describeDirError(e, out);
  }
  closeSync(fd);
  // Temp files of writeFileAtomic ('.<name>.<pid>.<time>.<n>.tmp'): with the lock held, none is live.
  for (const name of readdirSync(out)) {
    if (/^\..+\.\d+\.[0-9a-z]+\.[0-9a-z]+\.tmp$/.test(name)) {
      try {
        unlinkSync(join(out, name));
      } catch {
        /* ignore */
      }
    }
  }
  let released = false;
  const release = (): void => {
    if (released) return;
    released = true;
    process.removeListener('exit', release);
    try {
      if (readLock(lock)?.pid === process.pid) unlinkSync(lock);
    } catch {
      /* ignore */
    }
  };
  process.on('exit', release);
  return release;
}

function readLock(lock: string): { pid: number; host: string } | null {
  try {
    const v = JSON.parse(readFileSync(lock, 'utf8')) as { pid?: unknown; host?: unknown };
    return Number.isSafeInteger(v.pid) && typeof v.host === 'string' ? { pid: v.pid as number, host: v.host } : null;
  } catch {
    return null;
  }
}

function anotherRun(out: string, lock: string, pid?: number, host?: string): HybridVisionError {
  const who = pid === undefined ? 'another training run' : `another training run (pid ${pid}${host ? ` on ${host}` : ''})`;
  return new HybridVisionError(`${who} is writing to ${out}; wait for it to finish or choose another --out (if no run is active, delete ${lock})`);
}
