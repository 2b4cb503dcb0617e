/** Argument parsing on node:util parseArgs, with one-line errors. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { HybridVisionError } from '../tensor.js';

export interface Parsed {
  values: Record<string, any>;
  positionals: string[];
}

export function parse(argv: string[], options: ParseArgsConfig['options'], usage: string): Parsed {
  try {
    const r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    return { values: r.values as Record<string, any>, positionals: r.positionals };
  } catch (e) {
    throw new HybridVisionError(`${(e as Error).message.split('\n')[0]} (usage: ${usage})`);
  }
}

export function intList(s: string | undefined, name: string, fallback: number[]): number[] {
  if (s === undefined) return fallback;
  const v = s.split(',').map((x) => Number(x.trim()));
  if (v.some((x) => !Number.isInteger(x) || x < 1)) throw new HybridVisionError(`--${name} needs positive integers, got '${s}'`);
  return v;
}

export function posInt(s: string | undefined, name: string, fallback: number): number {
  if (s === undefined) return fallback;
  const v = Number(s);
  if (!Number.isInteger(v) || v < 1) throw new HybridVisionError(`--${name} needs a positive integer, got '${s}'`);
  return v;
}

export function nonNegInt(s: string, name: string): number {
  const v = Number(s);
  if (!Number.isInteger(v) || v < 0) throw new HybridVisionError(`--${name} must be a whole number >= 0, got '${s}'`);
  return v;
}

/** `--size H W` (two numbers) becomes `--size HxW` so parseArgs sees one value. */
export function joinSize(argv: string[]): string[] {
  const out = [...argv];
  const i = out.indexOf('--size');
  if (i >= 0 && /^\d+$/.test(out[i + 1] ?? '') && /^\d+$/.test(out[i + 2] ?? '')) out.splice(i + 1, 2, `${out[i + 1]}x${out[i + 2]}`);
  return out;
}

/** Parses `H`, `HxW` into [H, W]. */
export function sizeValue(s: string | undefined, fallback: [number, number]): [number, number] {
  if (s === undefined) return fallback;
  const m = /^(\d+)(?:x(\d+))?$/.exec(s);
  if (!m) throw new HybridVisionError(`--size needs H W or S, got '${s}'`);
  const h = Number(m[1]);
  const w = m[2] ? Number(m[2]) : h;
  if (h < 1 || w < 1) throw new HybridVisionError(`--size must be positive, got '${s}'`);
  return [h, w];
}
