/**
 * The browser against Node, in one run: the app built and served with COOP/COEP on 127.0.0.1, driven
 * in Debian's Chromium (playwright-core). Per model at batch 1 and its input size: the page's median
 * and best forward latency (onnxruntime-web wasm, threads as the page picks them) beside
 * onnxruntime-node's with the same thread count, the ratio (target ≤ 2.5×); the cold start of a
 * second visit (weights from the Cache API) to the first result on screen (target ≤ 3 s); and
 * in-page fine-tuning img/s (full network, the Web Worker) beside onnxruntime-node's TrainStep.
 * Weights are random (seeded), written as safetensors and served at /weights/, so the page fetches
 * and caches them as it would published ones.
 *
 * Both sides warm up for `--warm-ms` (default 1500), then time `runs` forwards in `--rounds`
 * (default 6) alternating between the page and Node, as the machine drifts. Warm-up: in the page,
 * V8 first runs the wasm from its baseline compiler and recompiles the hot functions in the
 * background, which on this 2-core machine slowed Mobile-Former-26M's first 0.6 s of forwards 2-4x.
 * The page's median of the first `runs` forwards, with no warm-up, is printed beside it.
 *
 * Usage: node dist/bench/browser.js [model ...] [--runs 30] [--rounds 6] [--warm-ms 1500] [--train-batch 8] [--train-steps 8]
 */
import '../src/node.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { decodeImageFile } from '../src/data/decode_node.js';
import { createModel } from '../src/models/registry.js';
import { modelToSafetensors } from '../src/models/model_file.js';
import { imagesToBatch } from '../src/pipeline.js';
import { adamw, TrainStep } from '../src/train/index.js';
import { table } from '../src/cli/format.js';
import { buildApp } from '../tools/app_build.js';
import { serveApp } from '../tools/app_server.js';
import { REPO_ROOT } from '../tools/repo_root.js';

const { values, positionals } = parseArgs({
  options: { runs: { type: 'string' }, rounds: { type: 'string' }, 'warm-ms': { type: 'string' }, 'train-batch': { type: 'string' }, 'train-steps': { type: 'string' } },
  allowPositionals: true,
});
const RUNS = Number(values.runs ?? 30);
const WARM_MS = Number(values['warm-ms'] ?? 1500);
const ROUNDS = Number(values.rounds ?? 6);
const TB = Number(values['train-batch'] ?? 8);
const TSTEPS = Math.max(3, Number(values['train-steps'] ?? 8));
const MODELS = positionals.length ? positionals : ['mobile_former_26m', 'mobilevitv3_xxs', 'mobilevitv3_0.5'];
const SAMPLE = 'bag.png';
const CHROMIUM = process.env.HYBRIDVISION_CHROMIUM ?? '/usr/bin/chromium';

const weightsDir = mkdtempSync(join(tmpdir(), 'hv-bench-weights-'));
const profile = mkdtempSync(join(tmpdir(), 'hv-bench-chromium-'));
const out = await buildApp(join(REPO_ROOT, '.out', 'bench-app'));
const server = await serveApp(out, 0, { '/weights/': weightsDir });
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});

type Page = Awaited<ReturnType<typeof context.newPage>>;
async function waitFor(page: Page, id: string, re: RegExp, timeout = 300_000): Promise<string> {
  const t0 = Date.now();
  for (;;) {
    const t = (await page.getByTestId(id).textContent()) ?? '';
    if (re.test(t)) return t;
    const st = (await page.getByTestId('status').textContent()) ?? '';
    if (st.startsWith('error')) throw new Error(`page: ${st}`);
    if (Date.now() - t0 > timeout) throw new Error(`timed out waiting for ${id} (${t})`);
    await page.waitForTimeout(50);
  }
}

interface Timings {
  coldStartMs: number;
  weightsMs: number;
  weightsCached: boolean;
  firstForwardMs: number;
}

const rows: string[][] = [];
const trainRows: string[][] = [];
try {
  for (const name of MODELS) {
    const m = createModel(name, { seed: 1, threads: 2 });
    writeFileSync(join(weightsDir, `${name}.safetensors`), modelToSafetensors(m));
    const url = `${server.url}?model=${name}&image=/samples/${SAMPLE}`;
    // first visit: fetches and caches the weights
    let page = await context.newPage();
    await page.goto(url);
    await waitFor(page, 'status', /^ready$/);
    const threads = await page.evaluate(() => navigator.hardwareConcurrency);
    const first = (await page.evaluate(() => (window as any).hv.timings)) as Timings;
    await page.close();
    // second visit: weights from the Cache API; cold start = navigation to the first result
    page = await context.newPage();
    await page.goto(url);
    await waitFor(page, 'status', /^ready$/);
    const second = (await page.evaluate(() => (window as any).hv.timings)) as Timings;
    type Bench = { median: number; best: number; times: number[] };
    const early = (await page.evaluate((n) => (window as any).hv.bench(n, 0), RUNS)) as Bench;
    // Node, same input batch, same thread count as the page
    const pageThreads = Math.max(1, Math.min(4, threads));
    const nm = createModel(name, { seed: 1, threads: pageThreads });
    const x = await imagesToBatch(nm, [await decodeImageFile(join(REPO_ROOT, 'assets', 'samples', SAMPLE))]);
    for (let i = 0, t0 = performance.now(); i < 3 || performance.now() - t0 < WARM_MS; i++) await nm.forward(x);
    // both warm, then page and Node in interleaved rounds (this machine drifts between speed modes)
    const pageT: number[] = [];
    const nodeT: number[] = [];
    const per = Math.max(1, Math.round(RUNS / ROUNDS));
    for (let r = 0; r < ROUNDS; r++) {
      const b = (await page.evaluate(([n, w]) => (window as any).hv.bench(n, w), [per, r === 0 ? WARM_MS : 0])) as Bench;
      pageT.push(...b.times);
      for (let i = 0; i < per; i++) {
        const t0 = performance.now();
        await nm.forward(x);
        nodeT.push(performance.now() - t0);
      }
    }
    await page.close();
    const stats = (t: number[]) => ({ median: [...t].sort((a, b) => a - b)[t.length >> 1], best: Math.min(...t) });
    const web = stats(pageT);
    const node = stats(nodeT);
    await nm.dispose();
    rows.push([
      name,
      x.shape.slice(2).join('x'),
      String(pageThreads),
      early.median.toFixed(1),
      web.median.toFixed(1),
      web.best.toFixed(1),
      node.median.toFixed(1),
      node.best.toFixed(1),
      `${(web.median / node.median).toFixed(2)}x`,
      `${(first.coldStartMs / 1000).toFixed(2)} s`,
      `${(second.coldStartMs / 1000).toFixed(2)} s${second.weightsCached ? '' : ' (not cached!)'}`,
      `${second.weightsMs.toFixed(0)} / ${second.firstForwardMs.toFixed(0)}`,
    ]);
    console.log(rows.at(-1)!.join('  '));

    // in-page full fine-tuning (Web Worker) vs onnxruntime-node's TrainStep at the same shape
    page = await context.newPage();
    await page.goto(`${server.url}?model=${name}&view=finetune&train=bundled&mode=full&steps=${TSTEPS}&batch=${TB}&lr=0.001&autostart=1`);
    await waitFor(page, 'train-status', /^(done|error)/, 600_000);
    const log = JSON.parse((await page.getByTestId('train-log').textContent()) ?? '{}') as { imgPerSec: number; size: number; compileMs: number };
    await page.close();
    const tm = createModel(name, { seed: 1, numClasses: 10, threads: pageThreads });
    const S = log.size;
    const step = await TrainStep.create(tm, [TB, 3, S, S], { optimizer: adamw({ weightDecay: 0.01 }), lr: 0.001, labelSmoothing: 0 });
    const xs = { dtype: 'float32' as const, shape: [TB, 3, S, S], data: new Float32Array(TB * 3 * S * S).map((_, i) => Math.sin(i)) };
    const ys = Array.from({ length: TB }, (_, i) => i % 10);
    await step.run(xs, ys);
    const t0 = performance.now();
    for (let i = 1; i < TSTEPS; i++) await step.run(xs, ys);
    const nodeImgS = ((TSTEPS - 1) * TB) / ((performance.now() - t0) / 1000);
    await step.release();
    await tm.dispose();
    trainRows.push([name, `${TB}x${S}x${S}`, log.imgPerSec.toFixed(1), nodeImgS.toFixed(1), `${(nodeImgS / log.imgPerSec).toFixed(2)}x`, `${(log.compileMs / 1000).toFixed(1)} s`]);
    console.log(trainRows.at(-1)!.join('  '));
  }
} finally {
  await context.close();
  await server.close();
  rmSync(weightsDir, { recursive: true, force: true });
  rmSync(profile, { recursive: true, force: true });
}

console.log(`\nInference at batch 1 (ms; page = Chromium, onnxruntime-web wasm; node = onnxruntime-node; same threads, same input; ${RUNS} runs each in ${ROUNDS} alternating rounds after ${WARM_MS} ms of warm-up; the first-runs column: the page's first ${RUNS}, no warm-up)`);
console.log(
  table(
    ['model', 'input', 'threads', 'page median, first runs', 'page median', 'page best', 'node median', 'node best', 'page/node', 'cold start (1st visit)', 'cold start (cached)', 'cached: weights / 1st forward ms'],
    rows,
  ),
);
console.log('targets: page/node <= 2.5x; cold start with cached weights <= 3 s');
console.log('\nFine-tuning, full network, in the page\'s Web Worker vs onnxruntime-node (img/s, after the first step)');
console.log(table(['model', 'batch x size', 'page img/s', 'node img/s', 'node/page', 'page compile + 1st step'], trainRows));
