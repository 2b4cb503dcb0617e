/**
 * Fuzzes the checkpoint readers with mutations of valid files: torch.save zips (.pt, stored and
 * deflated), legacy torch.save pickles (.pth.tar, a bare state_dict and a training checkpoint with
 * argparse/numpy objects) and safetensors model files (with hybridvision metadata).
 *
 *   node dist/tools/fuzz.js [--seconds 50] [--seed 1] [--per-input-ms 5000] [--save DIR] [--json]
 *
 * The inputs run in a worker process (heap limit 512 MB) that reports each input before and after
 * it runs. The run FAILS on
 *   - any error that is not a HybridVisionError (a raw JavaScript error),
 *   - any hang: an input still running after --per-input-ms (the worker is killed and restarted),
 *   - a worker crash (out of memory),
 *   - any input whose peak RSS exceeds the worker's warmed-up peak by more than
 *     MEM_FIXED + MEM_FACTOR x its size (the worker is restarted after such an input).
 * Inputs are derived from (seed, index), so a failure is reproducible with --seed and --only INDEX.
 */
import { rng } from '../src/random.js';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCheckpoint } from '../src/io/torch.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { modelFileMeta } from '../src/models/model_file.js';
import { HybridVisionError, type HostTensor } from '../src/tensor.js';
import {
  Build,
  buildLegacyCheckpoint,
  buildTorchZip,
  Call,
  dumpsTorch,
  f32Bytes,
  f64Bytes,
  Global,
  i64Bytes,
  NewObj,
  OrderedDictNode,
  tensorNode,
  type PyNode,
} from '../test/helpers/pickle_writer.js';

export const MEM_FIXED = 128 * 2 ** 20;
export const MEM_FACTOR = 64;

// ---- seeds

function floats(n: number, r: () => number): number[] {
  return Array.from({ length: n }, () => r() * 2 - 1);
}

function stateDictNode(legacy: boolean): OrderedDictNode {
  const t = (key: string, cls: string, numel: number, size: number[], stride?: number[], offset?: number, view?: [string, number, number]) =>
    tensorNode({ storageKey: key, storageClass: cls, storageNumel: numel, size, stride, offset, view }, legacy);
  return new OrderedDictNode(
    [
      ['conv.weight', t('0', 'FloatStorage', 24, [2, 3, 2, 2])],
      ['conv.bias', t('1', 'FloatStorage', 2, [2])],
      ['bn.running_var', t('2', 'FloatStorage', 8, [2], [4], 1)],
      ['bn.num_batches_tracked', t('3', 'LongStorage', 1, [])],
      ['fc.weight_t', t('0', 'FloatStorage', 24, [4, 6], [1, 4])],
      ['half', t('4', 'HalfStorage', 6, [3, 2])],
      ['dbl', t('5', 'DoubleStorage', 3, [3], undefined, undefined, legacy ? ['5v', 0, 3] : undefined)],
    ],
    new Map<PyNode, PyNode>([['', new Map<PyNode, PyNode>([['version', 1]])]]),
  );
}

function storageBytes(r: () => number): { key: string; elemSize: number; data: Uint8Array }[] {
  const half = new Uint8Array(12);
  for (let i = 0; i < 12; i++) half[i] = Math.floor(r() * 256) & 0x3f;
  return [
    { key: '0', elemSize: 4, data: f32Bytes(floats(24, r)) },
    { key: '1', elemSize: 4, data: f32Bytes(floats(2, r)) },
    { key: '2', elemSize: 4, data: f32Bytes(floats(8, r)) },
    { key: '3', elemSize: 8, data: i64Bytes([1234]) },
    { key: '4', elemSize: 2, data: half },
    { key: '5', elemSize: 8, data: f64Bytes(floats(3, r)) },
  ];
}

export interface Seed {
  name: string;
  bytes: Uint8Array;
  /** zip seeds: the parts, so the pickle can be mutated and re-zipped with valid CRCs */
  zip?: { pickle: Uint8Array; storages: Map<string, Uint8Array>; deflate: boolean };
}

export function seeds(): Seed[] {
  const r = rng(7);
  const st = storageBytes(r);
  const storages = new Map(st.map((s) => [s.key, s.data]));
  const zipPickle = dumpsTorch(stateDictNode(false), 2);
  const namespace = new Build(
    new NewObj(new Global('argparse', 'Namespace'), []),
    new Map<PyNode, PyNode>([
      ['lr', 0.1],
      ['model', 'mobilevitv3_xxs'],
      ['sizes', [1, 2]],
    ]),
  );
  const npScalar = new Call(new Global('numpy.core.multiarray', 'scalar'), [new Call(new Global('numpy', 'dtype'), ['f8', false, true]), f64Bytes([0.75])]);
  const training = new Map<PyNode, PyNode>([
    ['epoch', 3],
    ['arch', 'mobilevitv3_xxs'],
    ['state_dict', stateDictNode(true)],
    ['best_acc1', npScalar],
    ['args', namespace],
    ['optimizer', new Map<PyNode, PyNode>([['state', new Map()], ['param_groups', [new Map<PyNode, PyNode>([['lr', 0.01], ['params', [0, 1, 2]]])]]])],
  ]);
  const tensors: Record<string, HostTensor> = {
    'conv.weight': { dtype: 'float32', shape: [2, 3, 2, 2], data: Float32Array.from(floats(24, r)) },
    'bn.num_batches_tracked': { dtype: 'int64', shape: [], data: BigInt64Array.from([5n]) },
    half: { dtype: 'float16', shape: [3], data: Uint16Array.from([0x3c00, 0x4000, 0xbc00]) },
    mask: { dtype: 'bool', shape: [4], data: Uint8Array.from([1, 0, 1, 1]) },
  };
  const meta = {
    format: 'hybridvision',
    model: 'mobilevitv3_xxs',
    num_classes: '3',
    labels: JSON.stringify(['a', 'b', 'c']),
    cfg: JSON.stringify({ inputSize: [32, 32], cropPct: 1, interpolation: 'bilinear', mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], channelOrder: 'RGB', pad: 2 }),
  };
  return [
    { name: 'state_dict.pt', bytes: buildTorchZip('archive', zipPickle, storages), zip: { pickle: zipPickle, storages, deflate: false } },
    {
      name: 'state_dict_deflated.pt',
      bytes: buildTorchZip('archive', zipPickle, storages, { deflate: true, byteorder: 'little' }),
      zip: { pickle: zipPickle, storages, deflate: true },
    },
    { name: 'state_dict.pth.tar', bytes: buildLegacyCheckpoint(dumpsTorch(stateDictNode(true), 2), st) },
    { name: 'training.pth.tar', bytes: buildLegacyCheckpoint(dumpsTorch(training, 2), st) },
    { name: 'model.safetensors', bytes: writeSafetensors(tensors, meta) },
  ];
}

// ---- mutations

const INTERESTING_8 = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x28, 0x2e, 0x62, 0x51, 0x8b, 0x7b, 0x22];
const INTERESTING_32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffff0, 0x10000, 0x40000000];
// pickle opcodes that build, call, nest or read lengths
const OPCODES = [0x28, 0x29, 0x2e, 0x30, 0x32, 0x4a, 0x4b, 0x4c, 0x51, 0x52, 0x58, 0x5d, 0x61, 0x62, 0x65, 0x68, 0x6c, 0x71, 0x73, 0x74, 0x75, 0x7d, 0x81, 0x85, 0x86, 0x87, 0x8a, 0x8b, 0x8c, 0x8e, 0x93, 0x94, 0x95];

export function mutate(seed: Uint8Array, other: Uint8Array, r: () => number): { bytes: Uint8Array; ops: string[] } {
  let b = Array.from(seed);
  const ops: string[] = [];
  const pos = () => Math.floor(r() * Math.max(1, b.length));
  const n = 1 + Math.floor(r() * 4);
  for (let k = 0; k < n; k++) {
    const kind = Math.floor(r() * 10);
    const p = pos();
    switch (kind) {
      case 0: {
        const bit = Math.floor(r() * 8);
        b[p] = (b[p] ?? 0) ^ (1 << bit);
        ops.push(`flip@${p}.${bit}`);
        break;
      }
      case 1: {
        const v = INTERESTING_8[Math.floor(r() * INTERESTING_8.length)]!;
        b[p] = v;
        ops.push(`set@${p}=${v}`);
        break;
      }
      case 2: {
        const v = INTERESTING_32[Math.floor(r() * INTERESTING_32.length)]!;
        const w = r() < 0.5 ? 4 : 8;
        for (let i = 0; i < w; i++) b[p + i] = i < 4 ? (v >>> (8 * i)) & 0xff : r() < 0.5 ? 0 : 0xff;
        b = b.slice(0, Math.max(b.length, 0));
        ops.push(`int${w * 8}@${p}=${v}`);
        break;
      }
      case 3: {
        const len = 1 + Math.floor(r() * 16);
        b.splice(p, 0, ...Array.from({ length: len }, () => Math.floor(r() * 256)));
        ops.push(`insert@${p}x${len}`);
        break;
      }
      case 4: {
        const len = 1 + Math.floor(r() * 64);
        b.splice(p, len);
        ops.push(`delete@${p}x${len}`);
        break;
      }
      case 5: {
        const len = 1 + Math.floor(r() * 256);
        const chunk = b.slice(p, p + len);
        const q = pos();
        const times = 1 + Math.floor(r() * 8);
        for (let t = 0; t < times; t++) b.splice(q, 0, ...chunk);
        ops.push(`dup@${p}x${len}->${q}*${times}`);
        break;
      }
      case 6:
        b = b.slice(0, p);
        ops.push(`truncate@${p}`);
        break;
      case 7: {
        const op = OPCODES[Math.floor(r() * OPCODES.length)]!;
        b.splice(p, 0, op);
        ops.push(`opcode@${p}=${op.toString(16)}`);
        break;
      }
      case 8: {
        const q = Math.floor(r() * other.length);
        b = [...b.slice(0, p), ...other.subarray(q)];
        ops.push(`splice@${p}<-${q}`);
        break;
      }
      default: {
        // a digit run in text (JSON headers, text pickles) becomes a huge or negative number
        const s = b.findIndex((x, i) => i >= p && x >= 0x30 && x <= 0x39);
        if (s < 0) break;
        const rep = ['99999999999', '-1', '1e308', '4294967296', '0'][Math.floor(r() * 5)]!;
        b.splice(s, 1, ...Array.from(rep, (c) => c.charCodeAt(0)));
        ops.push(`number@${s}=${rep}`);
      }
    }
  }
  return { bytes: Uint8Array.from(b), ops };
}

export function inputAt(all: Seed[], seed: number, i: number): { name: string; bytes: Uint8Array; ops: string[] } {
  const r = rng((seed * 1000003 + i * 7919) >>> 0);
  const s = all[i % all.length]!;
  const other = all[Math.floor(r() * all.length)]!;
  if (s.zip && r() < 0.6) {
    // mutate data.pkl itself and re-zip it (the CRC check would otherwise stop nearly every mutation)
    const m = mutate(s.zip.pickle, other.zip?.pickle ?? other.bytes, r);
    return { name: s.name, bytes: buildTorchZip('archive', m.bytes, s.zip.storages, { deflate: s.zip.deflate }), ops: ['data.pkl:', ...m.ops] };
  }
  const m = mutate(s.bytes, other.bytes, r);
  return { name: s.name, ...m };
}

/** Reads one input the way the CLI does (safetensors model files also get their metadata checked). */
async function readOne(name: string, bytes: Uint8Array): Promise<number> {
  const sd = await readCheckpoint(bytes, name);
  if (name.endsWith('.safetensors')) modelFileMeta(name, readSafetensors(bytes).metadata);
  return sd.size;
}

// ---- worker

/** $HV_FUZZ_SELFTEST=error|hang|memory makes the 4th input of a worker fail that way (tests the harness). */
const selfTest = process.env.HV_FUZZ_SELFTEST;
let retained: Uint8Array[] = [];
function injectFault(kind: string): void {
  if (kind === 'error') throw new TypeError('injected fault');
  if (kind === 'hang') for (;;);
  if (kind === 'memory') {
    for (let k = 0; k < 24; k++) retained.push(new Uint8Array(16 * 2 ** 20).fill(k + 1));
  }
}

type WorkerMsg = { t: 'start'; i: number } | { t: 'done'; i: number; outcome: 'ok' | 'refused' | 'error'; message?: string; rss: number; size: number } | { t: 'ready'; baseRss: number };

async function worker(seed: number, start: number, count: number): Promise<void> {
  const all = seeds();
  for (const s of all) await readOne(s.name, s.bytes); // warm up: seeds must load
  for (let i = 0; i < 50; i++) {
    const x = inputAt(all, seed + 1e6, i);
    await readOne(x.name, x.bytes).catch(() => undefined);
  }
  const send = (m: WorkerMsg) => process.send!(m);
  send({ t: 'ready', baseRss: process.resourceUsage().maxRSS * 1024 });
  for (let i = start; i < start + count; i++) {
    const x = inputAt(all, seed, i);
    send({ t: 'start', i });
    let outcome: 'ok' | 'refused' | 'error' = 'ok';
    let message: string | undefined;
    try {
      if (i === start + 3 && selfTest) injectFault(selfTest);
      await readOne(x.name, x.bytes);
    } catch (e) {
      if (e instanceof HybridVisionError) {
        outcome = 'refused';
        message = e.message.replace(/\d+/g, 'N').slice(0, 100);
      } else {
        outcome = 'error';
        message = `${(e as Error)?.name}: ${String((e as Error)?.message ?? e).split('\n')[0]}`;
      }
    }
    send({ t: 'done', i, outcome, message, rss: process.resourceUsage().maxRSS * 1024, size: x.bytes.length });
    retained = [];
  }
  process.disconnect();
}

// ---- parent

interface Failure {
  index: number;
  file: string;
  kind: 'error' | 'hang' | 'crash' | 'memory';
  detail: string;
  mutations: string;
}

export interface FuzzSummary {
  seed: number;
  seconds: number;
  inputs: number;
  loaded: number;
  refused: number;
  failures: Failure[];
  workers: number;
  /** The longest time one input took (ms, measured in the parent, IPC included) and its index. */
  slowestMs: number;
  slowestIndex: number;
  topRefusals: [string, number][];
}

async function parent(opts: { seconds: number; seed: number; perInputMs: number; save?: string; only?: number }): Promise<FuzzSummary> {
  const self = fileURLToPath(import.meta.url);
  const all = seeds();
  const deadline = performance.now() + opts.seconds * 1000;
  const sum: FuzzSummary = { seed: opts.seed, seconds: 0, inputs: 0, loaded: 0, refused: 0, failures: [], workers: 0, slowestMs: 0, slowestIndex: -1, topRefusals: [] };
  const refusals = new Map<string, number>();
  let next = opts.only ?? 0;
  const limit = opts.only === undefined ? Infinity : opts.only + 1;
  const t0 = performance.now();
  const fail = (index: number, kind: Failure['kind'], detail: string) => {
    const x = inputAt(all, opts.seed, index);
    sum.failures.push({ index, file: x.name, kind, detail, mutations: x.ops.join(' ') });
    if (opts.save) {
      mkdirSync(opts.save, { recursive: true });
      writeFileSync(join(opts.save, `${index}-${kind}-${x.name}`), x.bytes);
    }
  };
  while (performance.now() < deadline && next < limit && sum.failures.length < 20) {
    sum.workers++;
    const child: ChildProcess = fork(self, ['--worker', String(opts.seed), String(next), String(Math.min(limit - next, 1e9))], {
      execArgv: ['--max-old-space-size=512'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve) => {
      let current = -1;
      let startedAt = 0;
      let baseRss = 0;
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearInterval(timer);
        resolve();
      };
      let stopped = false;
      const stop = () => {
        stopped = true;
        child.kill('SIGKILL');
      };
      const timer = setInterval(() => {
        if (current >= 0 && performance.now() - startedAt > opts.perInputMs) {
          fail(current, 'hang', `still running after ${opts.perInputMs} ms`);
          next = current + 1;
          current = -1;
          stop();
        } else if (performance.now() > deadline) {
          if (current >= 0) next = current; // not counted: it was cut off by the time limit
          current = -1;
          stop();
        }
      }, 50);
      child.on('message', (m: WorkerMsg) => {
        if (stopped) return;
        if (m.t === 'ready') baseRss = m.baseRss;
        else if (m.t === 'start') {
          current = m.i;
          startedAt = performance.now();
        } else if (m.t === 'done') {
          const ms = performance.now() - startedAt;
          if (ms > sum.slowestMs) {
            sum.slowestMs = Math.round(ms * 10) / 10;
            sum.slowestIndex = m.i;
          }
          current = -1;
          next = m.i + 1;
          sum.inputs++;
          if (m.outcome === 'ok') sum.loaded++;
          else if (m.outcome === 'refused') {
            sum.refused++;
            refusals.set(m.message!, (refusals.get(m.message!) ?? 0) + 1);
          } else fail(m.i, 'error', m.message!);
          const allowed = MEM_FIXED + MEM_FACTOR * m.size;
          if (baseRss > 0 && m.rss - baseRss > allowed) {
            fail(m.i, 'memory', `peak RSS grew by ${((m.rss - baseRss) / 2 ** 20).toFixed(0)} MiB for a ${m.size}-byte input (allowed ${(allowed / 2 ** 20).toFixed(0)} MiB)`);
            stop();
          }
        }
      });
      child.on('exit', (code, signal) => {
        if (stopped) return finish();
        if (current >= 0) {
          fail(current, 'crash', `worker exited (code ${code}, signal ${signal})`);
          next = current + 1;
        } else if (code !== 0 && signal === null && next < limit && performance.now() < deadline) {
          fail(next, 'crash', `worker exited with code ${code} before input ${next}`);
          next++;
        }
        finish();
      });
    });
  }
  sum.seconds = Math.round((performance.now() - t0) / 100) / 10;
  sum.topRefusals = [...refusals].sort((a, b) => b[1] - a[1]).slice(0, 15);
  return sum;
}

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

const argv = process.argv.slice(2);
if (argv[0] === '--worker') {
  await worker(Number(argv[1]), Number(argv[2]), Number(argv[3]));
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const only = arg(argv, 'only');
  const summary = await parent({
    seconds: Number(arg(argv, 'seconds') ?? 50),
    seed: Number(arg(argv, 'seed') ?? 1),
    perInputMs: Number(arg(argv, 'per-input-ms') ?? 5000),
    save: arg(argv, 'save'),
    only: only === undefined ? undefined : Number(only),
  });
  if (argv.includes('--json')) console.log(JSON.stringify(summary));
  else {
    console.log(`fuzz: ${summary.inputs} inputs in ${summary.seconds} s (seed ${summary.seed}, ${summary.workers} worker start(s)): ${summary.loaded} loaded, ${summary.refused} refused with HybridVisionError, ${summary.failures.length} failures; slowest input #${summary.slowestIndex}: ${summary.slowestMs} ms`);
    for (const f of summary.failures) console.log(`  FAIL #${f.index} ${f.kind} (${f.file}: ${f.mutations}): ${f.detail}`);
    console.log('most common refusals:');
    for (const [m, c] of summary.topRefusals) console.log(`  ${String(c).padStart(7)}  ${m}`);
  }
  process.exitCode = summary.failures.length ? 1 : 0;
}
