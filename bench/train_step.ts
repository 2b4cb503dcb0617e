/**
 * Training-step benchmark: img/s of one fused training step (forward in train mode, label-smoothed
 * cross-entropy 0.1, backward, AdamW) at batch 32, 64x64, 10 classes, 2 threads; median of >= 10
 * steps after warm-up. Also prints what the output copies cost per step (run writing into the
 * pre-allocated buffers vs. fresh engine outputs vs. fetching only the loss), and the step against
 * the same model's inference forward at the same batch (a floor for what a step can cost), both in
 * this run. PyTorch's step, in the same run: bench/vs_torch_train.ts.
 *
 * Usage: node dist/bench/train_step.js [model ...] [--batch 32] [--size 64] [--steps 12] [--warmup 3]
 *          [--threads 2] [--variants] [--engine node|web]
 *   --variants: also time each gradient-lowering choice; --engine web: onnxruntime-web's wasm build.
 */
import '../src/node.js';
import { parseArgs } from 'node:util';
import { createModel } from '../src/models/registry.js';
import { table } from '../src/cli/format.js';
import type { GraphOptionsInit } from '../src/graph/options.js';
import { adamw, TrainStep } from '../src/train/index.js';
import type { HostTensor } from '../src/tensor.js';
import { benchModel } from '../src/models/benchmark.js';
import { getEngine, setEngine } from '../src/runtime/engine.js';
import { webEngine } from '../src/runtime/web.js';


const { values, positionals } = parseArgs({
  options: {
    batch: { type: 'string' },
    size: { type: 'string' },
    steps: { type: 'string' },
    warmup: { type: 'string' },
    threads: { type: 'string' },
    variants: { type: 'boolean' },
    engine: { type: 'string' },
  },
  allowPositionals: true,
});
const B = Number(values.batch ?? 32);
const S = Number(values.size ?? 64);
const steps = Math.max(10, Number(values.steps ?? 12));
const warmup = Number(values.warmup ?? 3);
const threads = Number(values.threads ?? 2);
if (values.engine === 'web') {
  // onnxruntime-web's wasm build (the browser engine), here under Node
  setEngine(webEngine(await import('onnxruntime-web'), { threads }));
} else if (values.engine !== undefined && values.engine !== 'node') throw new Error(`--engine must be node or web, got '${values.engine}'`);
const models = positionals.length ? positionals : ['mobilevitv3_xxs', 'mobilevitv3_0.5', 'mobile_former_26m'];

function batch(seed: number): { x: HostTensor; y: number[] } {
  const n = B * 3 * S * S;
  const data = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s / 2 ** 32 - 0.5) * 3.4;
  }
  return { x: { dtype: 'float32', shape: [B, 3, S, S], data }, y: Array.from({ length: B }, (_, i) => (i * 7 + seed) % 10) };
}

const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];

/**
 * Times the step's program three ways without changing the state: writing into the pre-allocated
 * buffers (what `run` does), returning fresh engine-allocated outputs, and fetching only the loss
 * (no output copies at all). Medians in ms.
 */
async function timeOutputModes(ts: TrainStep, x: HostTensor, y: number[], runs: number): Promise<{ prealloc: number; fresh: number; lossOnly: number }> {
  const { feeds, into } = ts.bind(x, y);
  const t = { prealloc: [] as number[], fresh: [] as number[], lossOnly: [] as number[] };
  for (let i = 0; i < runs; i++) {
    let t0 = performance.now();
    await ts.program.runInto(feeds, into);
    t.prealloc.push(performance.now() - t0);
    t0 = performance.now();
    await ts.program.run(feeds);
    t.fresh.push(performance.now() - t0);
    t0 = performance.now();
    await ts.program.run(feeds, [ts.io.loss]);
    t.lossOnly.push(performance.now() - t0);
  }
  return { prealloc: median(t.prealloc), fresh: median(t.fresh), lossOnly: median(t.lossOnly) };
}

async function measure(name: string, flatOptimizer = true, lowering?: GraphOptionsInit['lowering']) {
  const model = createModel(name, { numClasses: 10, seed: 1, threads });
  const t0 = performance.now();
  const ts = await TrainStep.create(model, [B, 3, S, S], { optimizer: adamw({ weightDecay: 0.05 }), labelSmoothing: 0.1, lr: 1e-3, threads, flatOptimizer, lowering });
  const compileMs = performance.now() - t0;
  const batches = [batch(1), batch(2), batch(3)];
  for (let i = 0; i < warmup; i++) await ts.run(batches[i % 3].x, batches[i % 3].y);
  const times: number[] = [];
  let loss = 0;
  for (let i = 0; i < steps; i++) {
    const b = batches[i % 3];
    const t = performance.now();
    loss = (await ts.run(b.x, b.y)).loss;
    times.push(performance.now() - t);
  }
  const modes = await timeOutputModes(ts, batches[0].x, batches[0].y, 11);
  await ts.release();
  const evalModel = createModel(name, { numClasses: 10, seed: 1, threads });
  const evalFwd = await benchModel(evalModel, [B, 3, S, S], 20);
  await evalModel.dispose();
  return { evalFwdMs: evalFwd.medianMs, compileMs, nodes: ts.nodeCount, median: median(times), best: Math.min(...times), loss, modes, outMB: ts.outputBytes / 2 ** 20 };
}

console.log(`train step on ${getEngine().name}: batch ${B}, ${S}x${S}, 10 classes, AdamW, label smoothing 0.1, ${threads} threads; median of ${steps} steps after ${warmup} warm-up`);
const rows: (string | number)[][] = [];
const copyRows: (string | number)[][] = [];
const floorRows: (string | number)[][] = [];
for (const name of models) {
  const r = await measure(name);
  rows.push([name, r.nodes, (r.compileMs / 1000).toFixed(1), r.median.toFixed(1), r.best.toFixed(1), ((1000 * B) / r.median).toFixed(1), r.loss.toFixed(3)]);
  floorRows.push([name, r.evalFwdMs.toFixed(1), r.median.toFixed(1), (r.median / r.evalFwdMs).toFixed(1)]);
  copyRows.push([name, r.outMB.toFixed(1), r.modes.prealloc.toFixed(1), r.modes.fresh.toFixed(1), r.modes.lossOnly.toFixed(1), (r.modes.prealloc - r.modes.lossOnly).toFixed(1), (r.modes.fresh - r.modes.lossOnly).toFixed(1)]);
}
console.log(table(['model', 'onnx_nodes', 'compile_s', 'step_ms_median', 'step_ms_best', 'img_per_s', 'last_loss'], rows));
console.log('PyTorch\'s step in the same run: node dist/bench/vs_torch_train.js (docs/baselines.md).');
console.log('\nThe step against the same model\'s inference forward at this batch (eval graph: constant weights, BatchNorm folded, all engine fusions):');
console.log(table(['model', 'eval_fwd_ms', 'step_ms', 'step_over_fwd'], floorRows));
console.log('A step does the forward and two gradients (about 3x the forward\'s multiply-adds) with weights as graph inputs (no prepacked layouts, BatchNorm not folded):');
console.log('about 3 eval forwards is a practical floor for step_ms.');
console.log('\nOutput copies per step (engine writes parameters, AdamW moments, BN statistics, logits, loss back to JS):');
console.log(table(['model', 'output_MB', 'prealloc_ms', 'fresh_ms', 'loss_only_ms', 'copy_cost_prealloc_ms', 'copy_cost_fresh_ms'], copyRows));
console.log('prealloc = run() writing into pre-allocated buffers; fresh = engine-allocated outputs; loss_only = same graph, only the loss fetched (no copies).');

if (values.variants) {
  const choices: { label: string; lowering?: GraphOptionsInit['lowering']; flat?: boolean }[] = [
    { label: 'default (all chosen lowerings)' },
    { label: 'depthwise weight grad: per-tap products', lowering: { conv: { depthwiseWeight: 'taps' } } },
    { label: 'depthwise weight grad: grouped conv', lowering: { conv: { depthwiseWeight: 'conv' } } },
    { label: 'depthwise convs on small maps: engine Conv (not dense matrices)', lowering: { conv: { denseDepthwiseMaxMatrix: 0 } } },
    { label: 'depthwise weight grad: row-wise matrix products', lowering: { conv: { depthwiseWeight: 'rows' } } },
    { label: 'dense kxk weight grad: per-tap products', lowering: { conv: { denseWeight: 'taps' } } },
    { label: 'strided input grad: zero-insert + conv', lowering: { conv: { stridedInput: 'zeroInsert' } } },
    { label: 'BatchNorm train: autodiff composite', lowering: { fusedBatchNorm: false } },
    { label: 'SiLU: autodiff composite', lowering: { fusedSilu: false } },
    { label: 'attention: per-head projections (the inference form)', lowering: { attention: 'perHead' } },
    { label: '1x1 projection on the folded map (not reading tokens)', lowering: { projectionReadsTokens: false } },
    { label: 'optimizer per tensor (not flat)', flat: false },
  ];
  const vr: (string | number)[][] = [];
  for (const name of models) {
    for (const c of choices) {
      const r = await measure(name, c.flat ?? true, c.lowering);
      vr.push([name, c.label, r.nodes, r.median.toFixed(1), r.best.toFixed(1), ((1000 * B) / r.median).toFixed(1)]);
    }
  }
  console.log('\nGradient-lowering choices (same run):');
  console.log(table(['model', 'variant', 'onnx_nodes', 'step_ms_median', 'step_ms_best', 'img_per_s'], vr));
  console.log('Each row changes one choice from the default; compare step_ms_best (least disturbed by other load).');
}
