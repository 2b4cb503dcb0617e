/**
 * The fine-tuning worker: the one-graph training step (forward, loss, backward, AdamW update as one
 * ONNX graph) on onnxruntime-web, off the page's main thread. Head-only freezes the backbone.
 */
import { arrayDataset, type Dataset } from '../src/data/dataset.js';
import { centerBox, renderView } from '../src/data/augment.js';
import { adamw, modelFromCheckpoint, modelToSafetensors, setupWeb, TrainStep } from '../src/web/index.js';
import type { StartMsg, WorkerMsg } from './train_protocol.js';

let stopRequested = false;
const post = (m: WorkerMsg, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(m, transfer);

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

async function train(msg: StartMsg): Promise<void> {
  await setupWeb({ wasmPaths: msg.wasmPaths, threads: msg.threads, verbose: false });
  const model = await modelFromCheckpoint(msg.checkpoint, { fileLabel: 'model' });
  const { data } = msg;
  const ds: Dataset = arrayDataset(data.pixels, data.labels, data.width, data.height, data.channels, data.classNames);
  model.resetClassifier(data.classNames.length, msg.seed ?? 0, data.classNames);
  // Train (and later classify) at the model's input size, capped at 64 so a step stays quick on wasm.
  const size = Math.min(model.cfg.inputSize[0], 64);
  if (size !== model.cfg.inputSize[0]) model.cfg = { ...model.cfg, inputSize: [size, size], cropPct: 1, pad: 0 };
  const B = msg.batch;
  const t0 = performance.now();
  const step = await TrainStep.create(model, [B, 3, size, size], {
    optimizer: adamw({ weightDecay: 0.01 }),
    freeze: msg.mode === 'head' ? 'backbone' : 'none',
    lr: msg.lr,
    labelSmoothing: 0,
  });
  const x = new Float32Array(B * 3 * size * size);
  const labels = new Int32Array(B);
  const box = centerBox(ds.width, ds.height, model.cfg.pad ?? 0);
  const rand = rng(msg.seed ?? 1);
  // compile + first step are timed apart from the rest
  let compileMs = 0;
  const losses: number[] = [];
  const accs: number[] = [];
  let trainMs = 0;
  for (let s = 0; s < msg.steps && !stopRequested; s++) {
    for (let b = 0; b < B; b++) {
      const i = Math.floor(rand() * ds.count);
      renderView(ds, i, box, rand() < 0.5, size, x, b * 3 * size * size, model.cfg);
      labels[b] = ds.labels[i];
    }
    const ts = performance.now();
    const r = await step.run({ dtype: 'float32', shape: [B, 3, size, size], data: x }, labels);
    const ms = performance.now() - ts;
    if (s === 0) {
      compileMs = performance.now() - t0;
      post({ type: 'compiled', ms: compileMs, size });
    } else trainMs += ms;
    if (!Number.isFinite(r.loss)) throw new Error(`loss became ${r.loss} at step ${s + 1}: lower the learning rate`);
    const lg = r.logits.data as Float32Array;
    const C = model.numClasses;
    let correct = 0;
    for (let b = 0; b < B; b++) {
      let best = 0;
      for (let c = 1; c < C; c++) if (lg[b * C + c] > lg[b * C + best]) best = c;
      if (best === labels[b]) correct++;
    }
    losses.push(r.loss);
    accs.push(correct / B);
    post({ type: 'step', step: s + 1, loss: r.loss, acc: correct / B, ms });
  }
  step.sync();
  await step.release();
  const safetensors = modelToSafetensors(model, { extra: { note: `fine-tuned in the browser (${msg.mode === 'head' ? 'head only' : 'full'}, ${losses.length} steps of ${B})` } });
  const onnx = model.toOnnx([1, 3, size, size]).bytes;
  const imgPerSec = losses.length > 1 ? ((losses.length - 1) * B) / (trainMs / 1000) : 0;
  post({ type: 'done', safetensors, onnx, imgPerSec, losses, accs, compileMs, size }, [safetensors.buffer as ArrayBuffer, onnx.buffer as ArrayBuffer]);
  await model.dispose();
}

self.onmessage = (e: MessageEvent<StartMsg | { type: 'stop' }>) => {
  if (e.data.type === 'stop') {
    stopRequested = true;
    return;
  }
  stopRequested = false;
  train(e.data).catch((err) => post({ type: 'error', message: String(err?.message ?? err).split('\n')[0] }));
};
