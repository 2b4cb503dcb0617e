/** Comparing a checkpoint's state_dict with what a model expects (core: no Node built-ins). */
import { HybridVisionError, type HostTensor } from '../tensor.js';

export interface CheckStateDictOptions {
  /** Keys (on either side) for which this returns true are not compared. */
  ignore?: (key: string) => boolean;
  /** How many keys of each kind the message lists (default 3). */
  show?: number;
}

export interface StateDictDiff {
  missing: string[];
  unexpected: string[];
  mismatched: { key: string; checkpoint: number[]; model: number[] }[];
  /** Compared keys on each side (after ignoring num_batches_tracked and `ignore`). */
  expectedCount: number;
  gotCount: number;
}

function isBatchCounter(key: string): boolean {
  return key === 'num_batches_tracked' || key.endsWith('.num_batches_tracked');
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Computes missing / unexpected keys and shape mismatches without throwing. */
export function diffStateDict(
  expected: Map<string, readonly number[]>,
  got: Map<string, HostTensor>,
  opts: CheckStateDictOptions = {},
): StateDictDiff {
  const skip = (k: string): boolean => isBatchCounter(k) || (opts.ignore ? opts.ignore(k) : false);
  const missing: string[] = [];
  const mismatched: StateDictDiff['mismatched'] = [];
  let expectedCount = 0;
  for (const [k, shape] of expected) {
    if (skip(k)) continue;
    expectedCount++;
    const t = got.get(k);
    if (!t) missing.push(k);
    else if (!sameShape(t.shape, shape)) mismatched.push({ key: k, checkpoint: [...t.shape], model: [...shape] });
  }
  const unexpected: string[] = [];
  let gotCount = 0;
  for (const k of got.keys()) {
    if (skip(k)) continue;
    gotCount++;
    if (!expected.has(k)) unexpected.push(k);
  }
  return { missing, unexpected, mismatched, expectedCount, gotCount };
}

function list(keys: string[], show: number): string {
  const head = keys.slice(0, show).join(', ');
  return keys.length > show ? `${head}, … and ${keys.length - show} more` : head;
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** If most unexpected keys are expected keys with one common extra prefix, names it. */
function prefixHint(missing: string[], unexpected: string[]): string {
  if (missing.length === 0 || unexpected.length === 0) return '';
  const miss = new Set(missing);
  const counts = new Map<string, number>();
  for (const u of unexpected) {
    for (let i = u.indexOf('.'); i >= 0; i = u.indexOf('.', i + 1)) {
      if (miss.has(u.slice(i + 1))) {
        const p = u.slice(0, i + 1);
        counts.set(p, (counts.get(p) ?? 0) + 1);
        break;
      }
    }
  }
  let best = '';
  let bestN = 0;
  for (const [p, c] of counts) if (c > bestN) [best, bestN] = [p, c];
  return bestN >= Math.max(1, Math.ceil(missing.length / 2)) ? `; checkpoint keys look prefixed with '${best}'` : '';
}

/**
 * Throws one HybridVisionError (single line) if `got` does not match `expected` key for key and
 * shape for shape. `*.num_batches_tracked` is ignored on both sides.
 */
export function checkStateDict(
  expected: Map<string, readonly number[]>,
  got: Map<string, HostTensor>,
  opts: CheckStateDictOptions = {},
): void {
  const d = diffStateDict(expected, got, opts);
  if (d.missing.length === 0 && d.unexpected.length === 0 && d.mismatched.length === 0) return;
  const show = opts.show ?? 3;
  const parts: string[] = [];
  if (d.missing.length) parts.push(`${plural(d.missing.length, 'missing key', 'missing keys')} (${list(d.missing, show)})`);
  if (d.unexpected.length) parts.push(`${plural(d.unexpected.length, 'unexpected key', 'unexpected keys')} (${list(d.unexpected, show)})`);
  if (d.mismatched.length) {
    const items = d.mismatched.map((m) => `${m.key}: checkpoint ${fmt(m.checkpoint)}, model ${fmt(m.model)}`);
    parts.push(`${plural(d.mismatched.length, 'shape mismatch', 'shape mismatches')} (${list(items, show)})`);
  }
  throw new HybridVisionError(
    `checkpoint does not match the model (checkpoint has ${d.gotCount} tensors, model expects ${d.expectedCount}): ${parts.join('; ')}${prefixHint(d.missing, d.unexpected)}`,
  );
}
