/** Argument parsing on node:util parseArgs, with one-line errors. */
import { parseArgs } from 'node:util';
import { HybridVisionError } from '../tensor.js';

export interface Parsed {
  values: Record<string, any>;
  positionals: string[];
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Placeholder for the value in help text (string options), e.g. 'N', 'FILE'. */
  value?: string;
  help: string;
  /** The accepted values; anything else is a one-line error. */
  choices?: readonly string[];
}

/** One command's interface: parsing, the usage line and `--help` all come from this. */
export interface CommandSpec {
  /** Everything after `hybridvision `, positionals and required options, e.g. 'eval [<model>] --data SRC'. */
  usage: string;
  about: string;
  options: Record<string, OptionSpec>;
}

/** Thrown by `parse` for `--help`/`-h`: the CLI prints `text` to stdout and exits 0. */
export class HelpRequested extends Error {
  constructor(readonly text: string) {
    super('help requested');
  }
}

export function helpText(spec: CommandSpec): string {
  const flag = (name: string, o: OptionSpec) => `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.choices ? o.choices.join('|') : (o.value ?? 'X')}` : ''}`;
  const rows = Object.entries(spec.options).map(([k, o]) => [flag(k, o), o.help]);
  const w = Math.max(0, ...rows.map(([f]) => f.length));
  return [`usage: hybridvision ${spec.usage}${rows.length ? ' [options]' : ''}`, '', spec.about, ...(rows.length ? ['', 'options:', ...rows.map(([f, h]) => `  ${f.padEnd(w)}  ${h}`)] : [])].join('\n');
}

const usageHint = (spec: CommandSpec) => `usage: hybridvision ${spec.usage}${Object.keys(spec.options).length ? ' [options]' : ''}; --help lists the options`;

/** A one-line error that names the command's usage. */
export function usageError(spec: CommandSpec, message: string): HybridVisionError {
  return new HybridVisionError(`${message} (${usageHint(spec)})`);
}

export function parse(argv: string[], spec: CommandSpec): Parsed {
  const end = argv.indexOf('--');
  const flags = end < 0 ? argv : argv.slice(0, end);
  if (flags.includes('--help') || flags.includes('-h')) throw new HelpRequested(helpText(spec));
  const options = Object.fromEntries(Object.entries(spec.options).map(([k, o]) => [k, o.short ? { type: o.type, short: o.short } : { type: o.type }]));
  let r;
  try {
    r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw usageError(spec, (e as Error).message.split('\n')[0]);
  }
  for (const [k, v] of Object.entries(r.values)) {
    const choices = spec.options[k]?.choices;
    if (choices && !choices.includes(v as string)) throw usageError(spec, `--${k} must be one of ${choices.join(', ')}, got '${v}'`);
  }
  return { values: r.values as Record<string, any>, positionals: r.positionals };
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
