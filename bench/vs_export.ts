/**
 * Inference against the PyTorch-exported graph of the same variant, in one run: both graphs run by
 * onnxruntime-node in this process with the same session options, interleaved rounds (ours then
 * export, alternating which goes first). Prints per-variant medians (median over rounds of each
 * round's median), bests and ours/export (target <= 0.85). With --rss, peak RSS of inference per
 * graph, each measured in its own child process: ours (library: build + lower + run), ours and the
 * export loaded from .onnx files (engine only), and PyTorch eager (tools/ref/infer_rss.py).
 *
 * Usage: node dist/bench/vs_export.js [model ...] [--batch 1,8] [--rounds 12] [--runs 3] [--threads 2] [--rss] [--spin]
 *   --rounds 0 --rss: only the memory table; --spin: keep the engine's thread spinning (its default)
 * Graphs: tools/ref_baselines.sh, read from $HYBRIDVISION_REF_ONNX (default /tmp/ref/onnx).
 */
import '../src/node.js';
import { parseArgs } from 'node:util';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createModel, listModels } from '../src/models/registry.js';
import { createSession, ortInput, timeRuns } from './timing.js';
import { getEngine } from '../src/runtime/engine.js';
import { table } from '../src/cli/format.js';
import type { HostTensor } from '../src/tensor.js';
import { exportedGraph, HOW_TO_EXPORT, median, pyEnv, REF_ONNX_DIR, REPO, TORCH_PYTHON, torchAvailable } from './ref_graphs.js';

const { values, positionals } = parseArgs({
  options: {
    batch: { type: 'string' },
    rounds: { type: 'string' },
    runs: { type: 'string' },
    threads: { type: 'string' },
    rss: { type: 'boolean' },
    child: { type: 'string' },
    spin: { type: 'boolean' },
  },
  allowPositionals: true,
});
const threads = Number(values.threads ?? 2);

function input(shape: number[]): HostTensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 1.5;
  return { dtype: 'float32', shape, data };
}

const paperRes = (name: string) => createModel(name).spec.cfg.paper.resolution;

// Child mode: peak RSS of one inference setting, printed as JSON on stdout.
if (values.child) {
  const [what, name, b] = [values.child, positionals[0], Number(values.batch)];
  const r = paperRes(name);
  const x = input([b, 3, r, r]);
  const times: number[] = [];
  if (what === 'library') {
    const m = createModel(name, { threads });
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await m.forward(x);
      times.push(performance.now() - t);
    }
  } else {
    const s = await getEngine().createSession(readFileSync(positionals[1]), { threads });
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await s.run({ input: x });
      times.push(performance.now() - t);
    }
  }
  console.log(JSON.stringify({ maxrss_mb: process.resourceUsage().maxRSS / 1024, median_ms: median(times) }));
  process.exit(0);
}

const batches = (values.batch ?? '1,8').split(',').map(Number);
// many short rounds: on a shared machine the load changes within seconds
const rounds = Number(values.rounds ?? 12);
const runs = Number(values.runs ?? 3);
const models = positionals.length ? positionals : listModels().filter((n) => exportedGraph(n, 1) || exportedGraph(n, 8));
if (!models.length || !models.some((n) => batches.some((b) => exportedGraph(n, b)))) {
  console.log(HOW_TO_EXPORT);
  process.exit(1);
}

const mkSession = (bytes: Uint8Array) => createSession(bytes, threads, values.spin);

console.log(`ours vs the PyTorch-exported graph: onnxruntime-node, ${threads} threads, graphOptimizationLevel all, same session options;`);
console.log(`thread spinning ${values.spin ? 'on (engine default)' : 'off'}; ${rounds} interleaved rounds x ${runs} runs after 3 warm-ups each; load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}; graphs from ${REF_ONNX_DIR}`);
const rows: (string | number)[][] = [];
const missing: string[] = [];
for (const name of rounds > 0 ? models : []) {
  const r = paperRes(name);
  for (const b of batches) {
    const path = exportedGraph(name, b);
    if (!path) {
      missing.push(`${name} b${b}`);
      continue;
    }
    const m = createModel(name, { threads });
    const ours = await mkSession(m.toOnnx([b, 3, r, r]).bytes);
    const ref = await mkSession(readFileSync(path));
    const x = input([b, 3, r, r]);
    const feeds = ortInput(x.data as Float32Array, x.shape);
    await timeRuns(ours, feeds, 3);
    await timeRuns(ref, feeds, 3);
    const med = { ours: [] as number[], ref: [] as number[] };
    const cpu = { ours: [] as number[], ref: [] as number[] };
    const best = { ours: Infinity, ref: Infinity };
    for (let k = 0; k < rounds; k++) {
      const order = k % 2 ? (['ref', 'ours'] as const) : (['ours', 'ref'] as const);
      for (const who of order) {
        const t = await timeRuns(who === 'ours' ? ours : ref, feeds, runs);
        med[who].push(median(t.wall));
        cpu[who].push(...t.cpu);
        best[who] = Math.min(best[who], ...t.wall);
      }
    }
    await ours.release();
    await ref.release();
    const mo = median(med.ours);
    const mr = median(med.ref);
    const [co, cr] = [median(cpu.ours), median(cpu.ref)];
    rows.push([name, b, mo.toFixed(2), mr.toFixed(2), (mo / mr).toFixed(2), best.ours.toFixed(2), best.ref.toFixed(2), (best.ours / best.ref).toFixed(2), co.toFixed(2), cr.toFixed(2), (co / cr).toFixed(2), (mo / mr) <= 0.85 ? 'yes' : 'no']);
    console.log(rows[rows.length - 1].join('  '));
  }
}
console.log();
console.log(table(['model', 'batch', 'ours_ms', 'export_ms', 'ours/export', 'ours_best', 'export_best', 'best_ratio', 'ours_cpu_ms', 'export_cpu_ms', 'cpu_ratio', 'wall<=0.85'], rows));
console.log('ms: wall time, median over rounds of each round\'s median; best: fastest single run; cpu: median process CPU time');
console.log('per run (all engine threads). Ratio < 1: ours is faster. Target ours/export <= 0.85.');
if (missing.length) console.log(`no exported graph for: ${missing.join(', ')} (tools/ref_baselines.sh; batch N graphs: tools/ref/export_batch.py N)`);

if (values.rss) {
  const self = fileURLToPath(import.meta.url);
  const tmp = mkdtempSync(join(tmpdir(), 'hv-rss-'));
  const child = (args: string[]) => JSON.parse(execFileSync(process.execPath, [self, ...args], { encoding: 'utf8' }).trim().split('\n').pop()!);
  const rssRows: (string | number)[][] = [];
  const torch = torchAvailable();
  for (const name of models) {
    const r = paperRes(name);
    for (const b of batches) {
      const path = exportedGraph(name, b);
      const oursFile = join(tmp, `${name}.b${b}.onnx`);
      writeFileSync(oursFile, createModel(name).toOnnx([b, 3, r, r]).bytes);
      const lib = child(['--child', 'library', '--batch', String(b), '--threads', String(threads), name]);
      const of = child(['--child', 'file', '--batch', String(b), '--threads', String(threads), name, oursFile]);
      const ef = path ? child(['--child', 'file', '--batch', String(b), '--threads', String(threads), name, path]) : null;
      let pt: { maxrss_mb: number } | null = null;
      if (torch) {
        const out = execFileSync(TORCH_PYTHON, [join(REPO, 'tools/ref/infer_rss.py'), name, String(b)], { encoding: 'utf8', env: pyEnv() });
        pt = JSON.parse(out.trim().split('\n').pop()!);
      }
      rmSync(oursFile);
      const f = (v: { maxrss_mb: number } | null) => (v ? v.maxrss_mb.toFixed(0) : '-');
      rssRows.push([name, b, f(lib), f(of), f(ef), f(pt), ef ? (of.maxrss_mb / ef.maxrss_mb).toFixed(2) : '-', pt ? (lib.maxrss_mb / pt.maxrss_mb).toFixed(2) : '-']);
      console.log(rssRows[rssRows.length - 1].join('  '));
    }
  }
  rmSync(tmp, { recursive: true, force: true });
  console.log();
  console.log(table(['model', 'batch', 'ours_library_MB', 'ours_file_MB', 'export_file_MB', 'torch_eager_MB', 'file_ours/export', 'library/torch'], rssRows));
  console.log('Peak RSS of a whole process (5 inferences), each in its own child: library = createModel + lower + run in Node;');
  console.log('file = the .onnx file in onnxruntime-node; torch_eager = the official model in Debian PyTorch (no_grad).');
  if (!torch) console.log('torch_eager: no Debian torch or reference trees (REF_DIR) here; see docs/baselines.md.');
}
