/**
 * Dense-model benchmark: batch-1 inference latency of the network graph (SSDLite and RetinaNet at
 * 320x320, DeepLabv3 at 512x512; random weights, the model's default class count; host
 * post-processing not included) and img/s of one training step (the dense TrainTask objective:
 * SSD multibox, RetinaNet focal + L1, segmentation CE; AdamW) on fmnist-scenes, the step timed with
 * the host work of a batch (rendering, anchor matching) included, as `train` sees it.
 *
 * Same-run baseline: where the PyTorch-exported graph of a model sits in $HYBRIDVISION_REF_ONNX
 * (<model>.onnx, batch 1, docs/baselines.md), it is timed in the same process with the same session
 * options and ours/export is printed; without it that column is '-'.
 *
 * Usage: node dist/bench/dense.js [--models a,b] [--runs 20] [--train-steps 10] [--train-batch 8]
 *          [--train-size 128] [--threads 2]
 */
import '../src/node.js';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { table } from '../src/cli/format.js';
import { FASHION_MNIST_CLASSES, fashionMnistAvailable, FASHION_MNIST_DIR, loadFashionMnist } from '../src/data/fashion_mnist_node.js';
import { makeSceneSet, sceneDatasets } from '../src/data/fmnist_scenes.js';
import { benchModel } from '../src/models/benchmark.js';
import { createModel, getModelSpec, listModels } from '../src/models/registry.js';
import { rng } from '../src/random.js';
import { retinaTask, segmentationTask, ssdTask, type DenseTaskOptions } from '../src/train/dense_tasks.js';
import { adamw, TrainStep } from '../src/train/index.js';
import type { TrainTask } from '../src/train/task.js';
import type { HostTensor } from '../src/tensor.js';
import { exportedGraph, median } from './ref_graphs.js';
import { createSession, ortInput, timeRuns } from './timing.js';

const DEFAULT_MODELS = ['ssdlite_mobilevitv3_xxs_coco', 'ssdlite_mobilevitv3_0.5_coco', 'deeplabv3_mobilevitv3_xxs_voc', 'deeplabv3_mobilevitv3_0.5_voc', 'retinanet_mobile_former_26m'];
/** Latency input size per family: the papers' settings (SSDLite 320, DeepLabv3 512), RetinaNet beside SSDLite. */
const LATENCY_SIZE: Record<string, number> = { ssdlite: 320, deeplabv3: 512, retinanet: 320 };

function fail(msg: string): never {
  console.error(`bench/dense: ${msg}`);
  process.exit(1);
}

const { values } = parseArgs({
  options: {
    models: { type: 'string' },
    runs: { type: 'string' },
    'train-steps': { type: 'string' },
    'train-batch': { type: 'string' },
    'train-size': { type: 'string' },
    threads: { type: 'string' },
  },
});
const int = (s: string | undefined, name: string, fallback: number, min = 1): number => {
  const v = s === undefined ? fallback : Number(s);
  if (!Number.isSafeInteger(v) || v < min) fail(`--${name} needs a whole number >= ${min}, got '${s}'`);
  return v;
};
const runs = int(values.runs, 'runs', 20);
const trainSteps = int(values['train-steps'], 'train-steps', 10, 0);
const B = int(values['train-batch'], 'train-batch', 8);
const S = int(values['train-size'], 'train-size', 128);
const threads = int(values.threads, 'threads', 2);
const models = values.models ? values.models.split(',').map((m) => m.trim()) : DEFAULT_MODELS;
for (const m of models) {
  if (!listModels().includes(m)) fail(`unknown model '${m}'`);
  if (!(getModelSpec(m).family in LATENCY_SIZE)) fail(`${m} is not a dense model (SSDLite, DeepLabv3, RetinaNet)`);
}
if (trainSteps > 0 && models.some((m) => getModelSpec(m).family === 'retinanet') && S % 32) fail(`RetinaNet training needs --train-size divisible by 32, got ${S}`);
if (trainSteps > 0 && !fashionMnistAvailable()) fail(`the training step runs on fmnist-scenes: no Fashion-MNIST in ${FASHION_MNIST_DIR} (apt-get install dataset-fashion-mnist), or pass --train-steps 0`);

/** Batch-1 latency of the graph; and of the PyTorch-exported graph when present. */
async function latency(name: string): Promise<{ size: number; median: number; best: number; exportMedian: number | null }> {
  const size = LATENCY_SIZE[getModelSpec(name).family];
  const model = createModel(name, { threads, seed: 1 });
  const t = await benchModel(model, [1, 3, size, size], runs, Math.min(3, runs));
  await model.dispose();
  const file = exportedGraph(name, 1);
  let exportMedian: number | null = null;
  if (file) {
    const s = await createSession(readFileSync(file), threads);
    const x = new Float32Array(3 * size * size).map((_, i) => Math.sin(i * 0.37));
    const feeds = { [s.inputNames[0]]: ortInput(x, [1, 3, size, size]).input };
    for (let i = 0; i < Math.min(3, runs); i++) await s.run(feeds);
    exportMedian = median((await timeRuns(s, feeds, runs)).wall);
    await s.release();
  }
  return { size, median: t.medianMs, best: t.bestMs, exportMedian };
}

let scenes: ReturnType<typeof sceneDatasets> | null = null;
/** B·(steps + 1) training scenes at the training size, made once. */
function trainScenes(): ReturnType<typeof sceneDatasets> {
  scenes ??= sceneDatasets(makeSceneSet(loadFashionMnist().train, 1, B * (trainSteps + 1), { size: S }), FASHION_MNIST_CLASSES);
  return scenes;
}

/** img/s of the training step: one warm-up step (compiles), then `trainSteps` timed steps of host batch + graph. */
async function trainStep(name: string): Promise<{ imgPerSec: number; stepMs: number; hostMs: number; compileS: number; loss: number }> {
  const family = getModelSpec(name).family;
  const data = trainScenes();
  const seg = family === 'deeplabv3';
  const numClasses = seg ? data.segmentation.classNames.length : data.detection.classNames.length + 1;
  const model = createModel(name, { numClasses, seed: 1, threads });
  const o: DenseTaskOptions = { norm: { mean: model.cfg.mean, std: model.cfg.std, channelOrder: model.cfg.channelOrder ?? 'RGB' } as DenseTaskOptions['norm'], flip: true };
  const task: TrainTask = seg ? segmentationTask(data.segmentation, null, o) : family === 'ssdlite' ? ssdTask(model, data.detection, null, o) : retinaTask(model, data.detection, null, o);
  const t0 = performance.now();
  const ts = await TrainStep.create(model, [B, 3, S, S], { objective: task.objective, optimizer: adamw({ weightDecay: 0.01 }), lr: 1e-3, threads });
  const x = new Float32Array(B * 3 * S * S);
  const images: HostTensor = { dtype: 'float32', shape: [B, 3, S, S], data: x };
  const rand = rng(7);
  const indices = (k: number) => Int32Array.from({ length: B }, (_, i) => k * B + i);
  await ts.run(images, task.batch(indices(0), rand, x));
  const compileS = (performance.now() - t0) / 1000;
  const step: number[] = [];
  const host: number[] = [];
  let loss = NaN;
  for (let k = 1; k <= trainSteps; k++) {
    const h0 = performance.now();
    const targets = task.batch(indices(k), rand, x);
    const h1 = performance.now();
    loss = (await ts.run(images, targets)).loss;
    host.push(h1 - h0);
    step.push(performance.now() - h0);
  }
  await ts.release();
  await model.dispose();
  const stepMs = median(step);
  return { imgPerSec: (1000 * B) / stepMs, stepMs, hostMs: median(host), compileS, loss };
}

console.log(`dense models, ${threads} threads. Latency: batch 1, median of ${runs} runs of the network graph (random weights, default classes; no host post-processing).`);
if (trainSteps > 0) console.log(`Training step: batch ${B}, ${S}x${S} fmnist-scenes (10 classes), AdamW, median of ${trainSteps} steps after one warm-up step; host = rendering + target matching, inside step_ms.`);
const rows: (string | number)[][] = [];
for (const name of models) {
  const l = await latency(name);
  const t = trainSteps > 0 ? await trainStep(name) : null;
  rows.push([
    name,
    `${l.size}x${l.size}`,
    l.median.toFixed(1),
    l.best.toFixed(1),
    l.exportMedian === null ? '-' : l.exportMedian.toFixed(1),
    l.exportMedian === null ? '-' : (l.median / l.exportMedian).toFixed(2),
    t ? t.stepMs.toFixed(0) : '-',
    t ? t.hostMs.toFixed(1) : '-',
    t ? t.imgPerSec.toFixed(1) : '-',
    t ? t.compileS.toFixed(1) : '-',
    t ? t.loss.toFixed(3) : '-',
  ]);
}
console.log(table(['model', 'latency_size', 'b1_ms_median', 'b1_ms_best', 'export_ms', 'ours_over_export', 'train_step_ms', 'host_ms', 'train_img_per_s', 'compile_s', 'last_loss'], rows));
if (rows.every((r) => r[4] === '-')) console.log('export_ms: no PyTorch-exported graph (<model>.onnx) in $HYBRIDVISION_REF_ONNX; see docs/baselines.md.');
else console.log('ours_over_export < 1: ours is faster (same process, same session options; wall times on a shared machine swing, the ratio counts).');
