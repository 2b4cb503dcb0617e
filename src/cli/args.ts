/** Argument parsing on node:util parseArgs, with one-line errors. */
import { availableParallelism } from 'node:os';
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
  argv = attachNegativeValues(argv, spec);
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

/**
 * `--batch -5` is a value, not an option: parseArgs would call it ambiguous, so a string option
 * followed by a negative number is joined into `--batch=-5` and then gets the range check's message.
 */
function attachNegativeValues(argv: string[], spec: CommandSpec): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const next = argv[i + 1];
    const opt = a.startsWith('--') ? spec.options[a.slice(2)] : undefined;
    if (opt?.type === 'string' && next !== undefined && /^-(\d|\.\d|inf)/i.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** The largest value each numeric option accepts, by option name (one table for every command). */
const MAX: Readonly<Record<string, number>> = {
  batch: 1024,
  size: 2048,
  'min-size': 4096,
  'max-size': 8192,
  'size-divisible': 1024,
  'num-classes': 100_000,
  epochs: 100_000,
  'step-epochs': 100_000,
  runs: 100_000,
  top: 100_000,
  limit: 1e9,
  seed: 2 ** 31 - 1,
  shift: 2048,
  // fractions and factors
  val: 0.9,
  'mix-prob': 1,
  smoothing: 0.99,
  ema: 0.999999,
  momentum: 0.999999,
  gamma: 1,
  warmup: 100_000,
  lr: 100,
  'min-lr': 100,
  wd: 10,
  clip: 1e6,
  mixup: 100,
  cutmix: 100,
};

function maxFor(name: string): number {
  return Object.prototype.hasOwnProperty.call(MAX, name) ? MAX[name]! : Number.MAX_SAFE_INTEGER;
}

function rangeError(name: string, what: string, s: string): HybridVisionError {
  return new HybridVisionError(`--${name} ${what}, got '${s}'`);
}

/** An integer option in [lo, max for the option]; `--threads` above the core count is lowered to it with a note. */
function intIn(s: string, name: string, lo: number): number {
  const v = /^\s*[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?\s*$/i.test(s) ? Number(s) : NaN;
  const hi = maxFor(name);
  if (!Number.isSafeInteger(v) || v < lo) throw rangeError(name, lo === 1 ? 'needs a positive whole number' : `must be a whole number >= ${lo}`, s);
  if (name === 'threads') {
    const cores = availableParallelism();
    if (v > cores) {
      console.error(`note: --threads ${v} is more than the ${cores} cores of this machine; using ${cores}`);
      return cores;
    }
    return v;
  }
  if (v > hi) throw rangeError(name, `must be at most ${hi}`, s);
  return v;
}

export function intList(s: string | undefined, name: string, fallback: number[]): number[] {
  if (s === undefined) return fallback;
  const parts = s.split(',');
  if (parts.length > 64) throw rangeError(name, 'takes at most 64 values', `${s.slice(0, 40)}…`);
  return parts.map((x) => {
    try {
      return intIn(x.trim(), name, 1);
    } catch {
      throw rangeError(name, `needs positive whole numbers up to ${maxFor(name)}`, s);
    }
  });
}

/** `count` comma-separated finite numbers, each > 0 when `positive`. */
export function numberList(s: string | undefined, name: string, count: number, fallback: number[], positive = false): number[] {
  if (s === undefined) return fallback;
  const v = s.split(',').map((x) => (x.trim() === '' ? NaN : Number(x)));
  if (v.length !== count || v.some((x) => !Number.isFinite(x) || (positive && x <= 0))) {
    throw rangeError(name, `needs ${count} comma-separated ${positive ? 'positive ' : ''}numbers`, s);
  }
  return v;
}

export function posInt(s: string | undefined, name: string, fallback: number): number {
  if (s === undefined) return fallback;
  return intIn(s, name, 1);
}

export function nonNegInt(s: string, name: string): number {
  return intIn(s, name, 0);
}

/** A finite number in [0, max for the option]. */
export function nonNegNumber(s: string | undefined, name: string, fallback: number): number {
  if (s === undefined) return fallback;
  const v = s.trim() === '' ? NaN : Number(s);
  if (!Number.isFinite(v) || v < 0) throw rangeError(name, 'needs a non-negative number', s);
  const hi = maxFor(name);
  if (v > hi) throw rangeError(name, `must be at most ${hi}`, s);
  return v;
}

/**
 * One batch's input tensor must fit in memory: batch × 3 × H × W float32 values of at most 1 GiB
 * (the activations are several times larger still).
 */
export function checkBatchInput(batch: number, h: number, w: number): void {
  const bytes = batch * 3 * h * w * 4;
  if (bytes > 2 ** 30) {
    throw new HybridVisionError(`a batch of ${batch} at ${h}x${w} needs a ${(bytes / 2 ** 30).toFixed(1)} GiB input tensor (limit 1 GiB); lower --batch or --size`);
  }
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
  if (!m) throw new HybridVisionError(`--size needs H W or S (positive whole numbers), got '${s}'`);
  const h = Number(m[1]);
  const w = m[2] ? Number(m[2]) : h;
  if (h < 1 || w < 1) throw new HybridVisionError(`--size must be positive, got '${s}'`);
  if (h > maxFor('size') || w > maxFor('size')) throw new HybridVisionError(`--size must be at most ${maxFor('size')} per side, got '${s}'`);
  return [h, w];
}
