/**
 * Training step against PyTorch's, in one sitting: our fused ONNX step (onnxruntime-node) and the
 * official model's step in Debian PyTorch (OpenBLAS, tools/ref/train_server.py: same recipe as the
 * reference harness's train_anchor.py), both at batch 32, 64x64, 10 classes, label smoothing 0.1,
 * AdamW (lr 1e-3, wd 0.05), 2 threads. Each side is its own child process (clean peak RSS), driven
 * in interleaved rounds by this one. Then our step against our eval forward at the same batch,
 * also interleaved. Prints best and median of each, ours/torch, step/forward and peak RSS.
 *
 * Usage: node dist/bench/vs_torch_train.js [model ...] [--rounds 4] [--steps 5] [--batch 32] [--size 64]
 * PyTorch side: Debian python3-torch + the reference trees (docs/baselines.md); without them only ours runs.
 */
import '../src/node.js';
import { parseArgs } from 'node:util';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createModel } from '../src/models/registry.js';
import { getEngine } from '../src/runtime/engine.js';
import { adamw, TrainStep } from '../src/train/index.js';
import { table } from '../src/cli/format.js';
import type { HostTensor } from '../src/tensor.js';
import { median, pyEnv, REPO, TORCH_PYTHON, torchAvailable } from './ref_graphs.js';

const { values, positionals } = parseArgs({
  options: {
    rounds: { type: 'string' },
    steps: { type: 'string' },
    batch: { type: 'string' },
    size: { type: 'string' },
    threads: { type: 'string' },
    child: { type: 'boolean' },
  },
  allowPositionals: true,
});
const B = Number(values.batch ?? 32);
const S = Number(values.size ?? 64);
const threads = Number(values.threads ?? 2);

function batch(): { x: HostTensor; y: number[] } {
  const data = new Float32Array(B * 3 * S * S);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 1.7;
  return { x: { dtype: 'float32', shape: [B, 3, S, S], data }, y: Array.from({ length: B }, (_, i) => (i * 7) % 10) };
}

// Child: our step as a line server, same protocol as tools/ref/train_server.py plus 'fwd <n>'.
if (values.child) {
  const name = positionals[0];
  const { x, y } = batch();
  const ts = await TrainStep.create(createModel(name, { numClasses: 10, seed: 1, threads }), [B, 3, S, S], {
    optimizer: adamw({ weightDecay: 0.05 }),
    labelSmoothing: 0.1,
    lr: 1e-3,
    threads,
  });
  for (let i = 0; i < 3; i++) await ts.run(x, y);
  let fwd: { run(): Promise<unknown> } | null = null;
  console.log(JSON.stringify({ ready: true, nodes: ts.nodeCount }));
  for await (const line of createInterface({ input: process.stdin })) {
    const [cmd, n] = line.trim().split(' ');
    if (cmd === 'rss') {
      console.log(JSON.stringify({ maxrss_mb: process.resourceUsage().maxRSS / 1024 }));
      continue;
    }
    if (cmd === 'fwd' && !fwd) {
      // the same model's eval graph (constant weights, BN folded by the engine) at the same batch
      const m = createModel(name, { numClasses: 10, seed: 1, threads });
      const s = await getEngine().createSession(m.toOnnx([B, 3, S, S]).bytes, { threads });
      fwd = { run: () => s.run({ input: x }) };
      for (let i = 0; i < 3; i++) await fwd.run();
    }
    const ms: number[] = [];
    const cpu: number[] = [];
    for (let i = 0; i < Number(cmd === 'fwd' ? n : cmd); i++) {
      const c0 = process.cpuUsage();
      const t = performance.now();
      if (cmd === 'fwd') await fwd!.run();
      else await ts.run(x, y);
      ms.push(performance.now() - t);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
    }
    console.log(JSON.stringify({ ms, cpu_ms: cpu }));
  }
  process.exit(0);
}

class LineChild {
  private lines: AsyncIterator<string>;
  constructor(private p: ChildProcessWithoutNullStreams) {
    p.stderr.on('data', (d) => process.stderr.write(d));
    this.lines = createInterface({ input: p.stdout })[Symbol.asyncIterator]();
  }
  static start(cmd: string, args: string[], env?: NodeJS.ProcessEnv): LineChild {
    return new LineChild(spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] }));
  }
  async read(): Promise<any> {
    for (;;) {
      const r = await this.lines.next();
      if (r.done) throw new Error('child process ended early');
      if (r.value.startsWith('{')) return JSON.parse(r.value);
    }
  }
  async ask(cmd: string): Promise<any> {
    this.p.stdin.write(cmd + '\n');
    return this.read();
  }
  end(): void {
    this.p.stdin.end();
  }
}

const rounds = Number(values.rounds ?? 4);
const steps = Number(values.steps ?? 5);
const models = positionals.length ? positionals : ['mobilevitv3_xxs', 'mobilevitv3_0.5', 'mobile_former_26m'];
const torch = torchAvailable();
const self = fileURLToPath(import.meta.url);
console.log(`training step, batch ${B}, ${S}x${S}, 10 classes, AdamW, label smoothing 0.1, ${threads} threads; ${rounds} interleaved rounds x ${steps} steps after 3 warm-ups`);
console.log(`ours: onnxruntime-node; PyTorch: ${torch ? TORCH_PYTHON + ' (Debian torch)' : 'not available (docs/baselines.md)'}; load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const rows: (string | number)[][] = [];
for (const name of models) {
  const ours = LineChild.start(process.execPath, [self, '--child', '--batch', String(B), '--size', String(S), '--threads', String(threads), name]);
  // PASSIVE: PyTorch's OpenMP workers otherwise spin after each round and slow down our next one
  const pt = torch ? LineChild.start(TORCH_PYTHON, [join(REPO, 'tools/ref/train_server.py'), name, String(B), String(S)], { ...pyEnv(), THREADS: String(threads), OMP_WAIT_POLICY: 'PASSIVE' }) : null;
  const nodes = (await ours.read()).nodes;
  if (pt) await pt.read();
  const t = { ours: [] as number[], torch: [] as number[], fwd: [] as number[], step2: [] as number[] };
  const cpu = { ours: [] as number[], torch: [] as number[], fwd: [] as number[], step2: [] as number[] };
  const take = (r: { ms: number[]; cpu_ms: number[] }, k: keyof typeof t) => (t[k].push(...r.ms), cpu[k].push(...r.cpu_ms));
  for (let k = 0; k < rounds; k++) {
    take(await ours.ask(String(steps)), 'ours');
    if (pt) take(await pt.ask(String(steps)), 'torch');
  }
  const rssOurs = (await ours.ask('rss')).maxrss_mb;
  const rssTorch = pt ? (await pt.ask('rss')).maxrss_mb : NaN;
  pt?.end();
  // step over forward: our eval forward and our step, interleaved (forward session built after the RSS reading)
  for (let k = 0; k < rounds; k++) {
    take(await ours.ask(`fwd ${steps}`), 'fwd');
    take(await ours.ask(String(steps)), 'step2');
  }
  ours.end();
  const [mo, bo, mt, bt] = [median(t.ours), Math.min(...t.ours), median(t.torch), Math.min(...t.torch)];
  const [mf, ms2, bf, bs2] = [median(t.fwd), median(t.step2), Math.min(...t.fwd), Math.min(...t.step2)];
  rows.push([
    name, nodes,
    mo.toFixed(1), bo.toFixed(1),
    pt ? mt.toFixed(1) : '-', pt ? bt.toFixed(1) : '-',
    pt ? (mt / mo).toFixed(2) : '-', pt ? (bt / bo).toFixed(2) : '-',
    mf.toFixed(1), (ms2 / mf).toFixed(2), (bs2 / bf).toFixed(2),
    pt ? (median(cpu.torch) / median(cpu.ours)).toFixed(2) : '-', (median(cpu.step2) / median(cpu.fwd)).toFixed(2),
    rssOurs.toFixed(0), pt ? rssTorch.toFixed(0) : '-',
  ]);
  console.log(rows[rows.length - 1].join('  '));
}
console.log();
console.log(table(['model', 'onnx_nodes', 'ours_med_ms', 'ours_best_ms', 'torch_med_ms', 'torch_best_ms', 'torch/ours_med', 'torch/ours_best', 'fwd_med_ms', 'step/fwd_med', 'step/fwd_best', 'cpu_torch/ours', 'cpu_step/fwd', 'ours_rss_MB', 'torch_rss_MB'], rows));
console.log('torch/ours > 1: our step is faster (target >= 2). step/fwd: our step over our eval forward at the same batch, interleaved (target <= 4.5).');
console.log('cpu_*: the same ratios from process CPU time per step (medians); steadier than wall time when other jobs load the machine.');
console.log('RSS: peak of each side\'s process after its steps (ours before the forward session was made). PyTorch\'s timings swing with load (OpenMP): compare best and median.');
