/**
 * `export --dtype` in one run: fp16 (fp16 weights widened at load), fp16-graph (all-float16 graph),
 * q8 (int8 matrix products and convolutions) and q8-weights (int8 weights, float convolutions)
 * against the fp32 export.
 * 1. The shipped Fashion-MNIST default (assets/default): top-1 on the 10k test set, points lost,
 *    predictions changed and max |logit change| against fp32; q8 calibrated on the 7 sample images
 *    (what `export --dtype q8` does by default) and on 100 training images.
 * 2. Golden cases (official-architecture models with the golden weights): max |logit - golden|.
 * 3. Latency against fp32, interleaved rounds in this process, same session options.
 * Usage: node dist/bench/export_dtypes.js [--rounds 15] [--runs 3] [--skip-accuracy]
 */
import '../src/node.js';
import { parseArgs } from 'node:util';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { loadModelFile } from '../src/models/model_file_node.js';
import { createModel } from '../src/models/registry.js';
import type { HybridModel } from '../src/models/model.js';
import { ASSETS, defaultModelPath } from '../src/cli/assets.js';
import { loadData } from '../src/cli/data.js';
import { renderEvalBatch } from '../src/train/evaluate.js';
import { imagesToBatch } from '../src/pipeline.js';
import { calibrationBatches, convertDtype, type ExportDtype } from '../src/runtime/export_dtype.js';
import { getEngine, type Session } from '../src/runtime/engine.js';
import { createSession, ortInput, timeRuns, type OrtSession } from './timing.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { readFileBytes } from '../src/io/node_files.js';
import { table } from '../src/cli/format.js';
import type { HostTensor } from '../src/tensor.js';
import { median } from './ref_graphs.js';

const { values } = parseArgs({ options: { rounds: { type: 'string' }, runs: { type: 'string' }, 'skip-accuracy': { type: 'boolean' } } });
// many short rounds: on a shared machine the load changes within seconds
const rounds = Number(values.rounds ?? 15);
const runs = Number(values.runs ?? 3);
const engine = getEngine();
const DTYPES: ExportDtype[] = ['fp16', 'fp16-graph', 'q8', 'q8-weights'];
const samples = readdirSync(join(ASSETS, 'samples')).filter((f) => f.endsWith('.png')).map((f) => join(ASSETS, 'samples', f));

async function sampleCalibration(m: HybridModel, batch: number): Promise<HostTensor[]> {
  return calibrationBatches(await imagesToBatch(m, samples), batch);
}

async function variants(m: HybridModel, shape: number[], cal: HostTensor[]): Promise<Map<string, Uint8Array>> {
  const fp32 = m.toOnnx(shape).bytes;
  const out = new Map<string, Uint8Array>([['fp32', fp32]]);
  for (const d of DTYPES) out.set(d, (await convertDtype(fp32, d, { calibration: cal })).bytes);
  return out;
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const argmax = (a: Float32Array, off: number, n: number) => {
  let k = 0;
  for (let i = 1; i < n; i++) if (a[off + i] > a[off + k]) k = i;
  return k;
};

console.log(`export --dtype: load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);

if (!values['skip-accuracy']) {
  const m = await loadModelFile(defaultModelPath());
  const size = m.cfg.inputSize[0];
  const data = await loadData('fashion-mnist', { size });
  const ds = data.test!;
  const view = { size, pad: m.cfg.pad ?? data.pad, norm: m.cfg };
  const B = 100;
  const shape = [B, 3, size, size];
  const graphs = await variants(m, shape, await sampleCalibration(m, B));
  const trainCal = [{ dtype: 'float32' as const, shape, data: renderEvalBatch(data.train, 0, B, B, view) }];
  graphs.set('q8 (100 train images)', (await convertDtype(graphs.get('fp32')!, 'q8', { calibration: trainCal })).bytes);
  const C = m.numClasses;
  const sessions = new Map<string, Session>();
  for (const [k, b] of graphs) sessions.set(k, await engine.createSession(b, { threads: 2 }));
  const correct = new Map<string, number>();
  const changed = new Map<string, number>();
  const worst = new Map<string, number>();
  for (let from = 0; from < ds.count; from += B) {
    const n = Math.min(B, ds.count - from);
    const x = { dtype: 'float32' as const, shape, data: renderEvalBatch(ds, from, n, B, view) };
    const ref = (await sessions.get('fp32')!.run({ input: x })).logits.data as Float32Array;
    for (const [k, s] of sessions) {
      const y = k === 'fp32' ? ref : ((await s.run({ input: x })).logits.data as Float32Array);
      worst.set(k, Math.max(worst.get(k) ?? 0, maxDiff(y.subarray(0, n * C), ref.subarray(0, n * C))));
      for (let b = 0; b < n; b++) {
        const p = argmax(y, b * C, C);
        if (p === ds.labels[from + b]) correct.set(k, (correct.get(k) ?? 0) + 1);
        if (p !== argmax(ref, b * C, C)) changed.set(k, (changed.get(k) ?? 0) + 1);
      }
    }
  }
  for (const s of sessions.values()) await s.release();
  const top1 = (k: string) => (100 * (correct.get(k) ?? 0)) / ds.count;
  const rows = [...graphs].map(([k, b]) => [k, (b.length / 1e6).toFixed(2), top1(k).toFixed(2), (top1(k) - top1('fp32')).toFixed(2), changed.get(k) ?? 0, worst.get(k)!.toExponential(2)]);
  console.log(`\n${m.name} (assets/default) on the Fashion-MNIST test set (${ds.count} images, ${size}x${size}, batch ${B}):`);
  console.log(table(['dtype', 'MB', 'top1_%', 'points_vs_fp32', 'predictions_changed', 'max_abs_logit_change'], rows));
  console.log(`q8: calibrated on the ${samples.length} images in assets/samples (export's default) or on 100 training images. Target: q8 loses <= 0.3 points.`);

  const gRows: (string | number)[][] = [];
  const { goldenDir } = await import('../test/helpers/golden.js');
  const gdir = goldenDir();
  for (const c of gdir ? ['mobilevitv3_xxs_nc1000_256', 'mobile_former_26m_nc1000_224'] : []) {
    const w = readSafetensors(await readFileBytes(join(gdir!, `${c}.weights.safetensors`))).tensors;
    const io = readSafetensors(await readFileBytes(join(gdir!, `${c}.io.safetensors`))).tensors;
    const x = io.get('input')!;
    const gl = io.get('logits')!.data as Float32Array;
    const gm = createModel(c.replace(/_nc\d+_\d+$/, ''), { weights: w });
    const gv = await variants(gm, x.shape, await sampleCalibration(gm, x.shape[0]));
    const scale = gl.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    for (const [k, b] of gv) {
      const s = await engine.createSession(b, { threads: 2 });
      const y = (await s.run({ input: x })).logits.data as Float32Array;
      await s.release();
      const n = x.shape[0];
      const C = gl.length / n;
      let agree = 0;
      for (let i = 0; i < n; i++) if (argmax(y, i * C, C) === argmax(gl, i * C, C)) agree++;
      gRows.push([c, k, maxDiff(y, gl).toExponential(2), (maxDiff(y, gl) / scale).toExponential(2), `${agree}/${n}`]);
    }
  }
  if (gRows.length) {
    console.log('\nGolden cases (golden weights and input; logits from PyTorch fp32):');
    console.log(table(['case', 'dtype', 'max_abs_diff', 'relative_to_max_logit', 'top1_agrees'], gRows));
  } else console.log('\n(no golden data: ../shared/golden or $HYBRIDVISION_GOLDEN)');
}

// Latency: every dtype of one model interleaved with its fp32 graph.
const speedRows: (string | number)[][] = [];
const def = await loadModelFile(defaultModelPath());
const cases: { label: string; model: HybridModel; shape: number[] }[] = [
  { label: 'default 44x44', model: def, shape: [1, 3, 44, 44] },
  { label: 'default 44x44', model: def, shape: [100, 3, 44, 44] },
  ...['mobilevitv3_xxs', 'mobilevitv3_0.5', 'mobile_former_26m'].map((n) => {
    const model = createModel(n);
    const r = model.spec.cfg.paper.resolution;
    return { label: `${n} ${r}x${r}`, model, shape: [1, 3, r, r] };
  }),
];
for (const c of cases) {
  const graphs = await variants(c.model, c.shape, await sampleCalibration(c.model, c.shape[0]));
  // control: a second fp32 session of the same bytes; its ratio shows what noise and order alone do
  graphs.set('fp32 again', graphs.get('fp32')!);
  const sessions = new Map<string, OrtSession>();
  for (const [k, b] of graphs) sessions.set(k, await createSession(b));
  const x = ortInput(new Float32Array(c.shape.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i * 0.37)), c.shape);
  const med = new Map<string, number[]>();
  const cpu = new Map<string, number[]>();
  for (const s of sessions.values()) await timeRuns(s, x, 3);
  for (let k = 0; k < rounds; k++) {
    const order = [...sessions];
    if (k % 2) order.reverse();
    for (const [name, s] of order) {
      const t = await timeRuns(s, x, runs);
      med.set(name, [...(med.get(name) ?? []), median(t.wall)]);
      cpu.set(name, [...(cpu.get(name) ?? []), ...t.cpu]);
    }
  }
  for (const s of sessions.values()) await s.release();
  const f = median(med.get('fp32')!);
  const fc = median(cpu.get('fp32')!);
  const r = (m: Map<string, number[]>, d: string, base: number) => (median(m.get(d)!) / base).toFixed(2);
  speedRows.push([c.label, c.shape[0], f.toFixed(2), r(med, 'fp32 again', f), ...DTYPES.map((d) => r(med, d, f)), fc.toFixed(2), r(cpu, 'fp32 again', fc), ...DTYPES.map((d) => r(cpu, d, fc)), ...DTYPES.map((d) => (graphs.get(d)!.length / graphs.get('fp32')!.length).toFixed(2))]);
  console.log(speedRows[speedRows.length - 1].join('  '));
}
console.log(`\nLatency against fp32 (onnxruntime-node, 2 threads, ${rounds} interleaved rounds of ${runs} runs, median of round medians; ratio < 1: faster than fp32;`);
console.log('control: a second session of the same fp32 graph, over the first; how far it is from 1.00 is the noise of this run):');
console.log(table(['model', 'batch', 'fp32_ms', 'control', ...DTYPES.map((d) => `${d}/fp32`), 'fp32_cpu_ms', 'cpu_control', ...DTYPES.map((d) => `cpu_${d}/fp32`), ...DTYPES.map((d) => `${d}_size/fp32`)], speedRows));
console.log('ms: wall time; cpu: process CPU time per run (both engine threads), sessions without thread spinning (bench/timing.ts).');
