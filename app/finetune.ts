/**
 * Fine-tune view: classes from dropped images (or the bundled Fashion-MNIST subset), head-only or
 * full training in a Web Worker, live loss and accuracy curves, then the result classifies and
 * downloads (safetensors with official keys, ONNX).
 */
import { decodeWebImage, modelToSafetensors } from '../src/web/index.js';
import { parseIdx } from '../src/data/idx.js';
import { FASHION_LABELS } from './labels.js';
import { $, errorText, state } from './state.js';
import type { StartMsg, TrainData, WorkerMsg } from './train_protocol.js';
import { WASM_PATHS_URL } from './paths.js';

const USER_SIZE = 64;
let worker: Worker | null = null;
const userClasses: { name: HTMLInputElement; images: Uint8Array[]; box: HTMLElement }[] = [];

function setTrainStatus(s: string): void {
  $('train-status').textContent = s;
}

async function bundled(): Promise<TrainData> {
  const get = async (f: string) => {
    const r = await fetch(new URL(`data/${f}`, document.baseURI));
    if (!r.ok) throw new Error(`cannot fetch the bundled data (${f}: HTTP ${r.status})`);
    return parseIdx(new Uint8Array(await r.arrayBuffer()), f);
  };
  const im = await get('fashion-mnist-images.idx');
  const lb = await get('fashion-mnist-labels.idx');
  return { pixels: im.data, labels: lb.data, width: im.dims[2], height: im.dims[1], channels: 1, classNames: [...FASHION_LABELS] };
}

/** An image scaled to USER_SIZE² RGB (the canvas's resampling: training data only). */
async function toTrainImage(f: File): Promise<Uint8Array> {
  const img = await decodeWebImage(f);
  const src = document.createElement('canvas');
  src.width = img.width;
  src.height = img.height;
  const id = src.getContext('2d')!.createImageData(img.width, img.height);
  for (let i = 0; i < img.width * img.height; i++) {
    id.data.set([img.data[i * 3], img.data[i * 3 + 1], img.data[i * 3 + 2], 255], i * 4);
  }
  src.getContext('2d')!.putImageData(id, 0, 0);
  const c = document.createElement('canvas');
  c.width = c.height = USER_SIZE;
  const ctx = c.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(src, 0, 0, USER_SIZE, USER_SIZE);
  const rgba = ctx.getImageData(0, 0, USER_SIZE, USER_SIZE).data;
  const out = new Uint8Array(USER_SIZE * USER_SIZE * 3);
  for (let i = 0; i < USER_SIZE * USER_SIZE; i++) out.set([rgba[i * 4], rgba[i * 4 + 1], rgba[i * 4 + 2]], i * 3);
  return out;
}

function mine(): TrainData {
  const used = userClasses.filter((c) => c.images.length > 0);
  if (used.length < 2) throw new Error('make at least two classes with images (drop images on each class box)');
  const n = used.reduce((a, c) => a + c.images.length, 0);
  const pixels = new Uint8Array(n * USER_SIZE * USER_SIZE * 3);
  const labels = new Uint8Array(n);
  let k = 0;
  used.forEach((c, ci) => {
    for (const im of c.images) {
      pixels.set(im, k * im.length);
      labels[k++] = ci;
    }
  });
  return { pixels, labels, width: USER_SIZE, height: USER_SIZE, channels: 3, classNames: used.map((c, i) => c.name.value || `class ${i + 1}`) };
}

function addClass(): void {
  const box = document.createElement('div');
  box.className = 'class-box';
  const name = document.createElement('input');
  name.value = `class ${userClasses.length + 1}`;
  const file = document.createElement('input');
  file.type = 'file';
  file.multiple = true;
  file.accept = 'image/*';
  const thumbs = document.createElement('div');
  box.append(name, file, thumbs);
  const entry = { name, images: [] as Uint8Array[], box };
  userClasses.push(entry);
  const addFiles = async (files: FileList | File[]) => {
    for (const f of files) {
      try {
        entry.images.push(await toTrainImage(f));
        const t = document.createElement('img');
        t.src = URL.createObjectURL(f);
        thumbs.append(t);
      } catch (e) {
        setTrainStatus(`error: ${errorText(e)}`);
      }
    }
  };
  file.addEventListener('change', () => file.files && void addFiles(file.files));
  box.addEventListener('dragover', (e) => e.preventDefault());
  box.addEventListener('drop', (e) => {
    e.preventDefault();
    if (e.dataTransfer?.files) void addFiles(e.dataTransfer.files);
  });
  $('classes').insertBefore(box, $('add-class'));
}

function drawChart(losses: number[], accs: number[], total: number): void {
  const c = $<HTMLCanvasElement>('train-chart');
  const ctx = c.getContext('2d')!;
  ctx.clearRect(0, 0, c.width, c.height);
  const maxLoss = Math.max(...losses, 0.1);
  const pad = 24;
  const X = (i: number) => pad + ((c.width - 2 * pad) * i) / Math.max(1, total - 1);
  const line = (vals: number[], scale: number, colour: string) => {
    ctx.strokeStyle = colour;
    ctx.beginPath();
    vals.forEach((v, i) => (i ? ctx.lineTo(X(i), c.height - pad - (c.height - 2 * pad) * (v / scale)) : ctx.moveTo(X(i), c.height - pad - (c.height - 2 * pad) * (v / scale))));
    ctx.stroke();
  };
  ctx.strokeStyle = '#ccc';
  ctx.strokeRect(pad, pad, c.width - 2 * pad, c.height - 2 * pad);
  line(losses, maxLoss, '#dc2626');
  line(accs, 1, '#2563eb');
  ctx.fillStyle = '#333';
  ctx.fillText(`loss (red, max ${maxLoss.toFixed(2)})   batch accuracy (blue, 0–1)`, pad, 14);
}

async function start(loadBytes: (b: Uint8Array, label: string) => Promise<void>): Promise<void> {
  if (!state.model) throw new Error('no model loaded yet');
  const steps = Number($<HTMLInputElement>('train-steps').value);
  const batch = Number($<HTMLInputElement>('train-batch').value);
  const lr = Number($<HTMLInputElement>('train-lr').value);
  if (!(steps >= 1 && batch >= 1 && lr > 0)) throw new Error('steps and batch must be at least 1 and the learning rate positive');
  const data = $<HTMLSelectElement>('train-data').value === 'bundled' ? await bundled() : mine();
  const mode = $<HTMLSelectElement>('train-mode').value as 'head' | 'full';
  worker?.terminate();
  worker = new Worker(new URL('./train.worker.ts', import.meta.url), { type: 'module' });
  const losses: number[] = [];
  const accs: number[] = [];
  setTrainStatus('compiling');
  $('train-stop').hidden = false;
  const done = new Promise<void>((resolve, reject) => {
    worker!.onerror = (e) => reject(new Error(e.message || 'the training worker failed to start'));
    worker!.onmessage = async (e: MessageEvent<WorkerMsg>) => {
      const m = e.data;
      if (m.type === 'compiled') setTrainStatus(`running (compiled in ${(m.ms / 1000).toFixed(1)} s at ${m.size}²)`);
      else if (m.type === 'step') {
        losses.push(m.loss);
        accs.push(m.acc);
        drawChart(losses, accs, steps);
      } else if (m.type === 'error') reject(new Error(m.message));
      else if (m.type === 'done') {
        const log = { losses: m.losses, accs: m.accs, imgPerSec: m.imgPerSec, compileMs: m.compileMs, size: m.size, mode, batch };
        $('train-log').textContent = JSON.stringify(log);
        for (const [id, bytes, type] of [
          ['dl-safetensors', m.safetensors, 'application/octet-stream'],
          ['dl-onnx', m.onnx, 'application/octet-stream'],
        ] as const) {
          const a = $<HTMLAnchorElement>(id);
          if (a.href) URL.revokeObjectURL(a.href);
          a.href = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
          a.hidden = false;
        }
        setTrainStatus(`done: ${m.losses.length} steps, ${m.imgPerSec.toFixed(1)} img/s, loss ${m.losses[0].toFixed(3)} → ${m.losses[m.losses.length - 1].toFixed(3)}`);
        await loadBytes(m.safetensors, 'fine-tuned');
        resolve();
      }
    };
  });
  const msg: StartMsg = { type: 'start', checkpoint: modelToSafetensors(state.model), mode, steps, batch, lr, data, wasmPaths: WASM_PATHS_URL() };
  worker.postMessage(msg);
  try {
    await done;
  } finally {
    $('train-stop').hidden = true;
    worker?.terminate();
    worker = null;
  }
}

export function initFinetune(opts: { loadBytes: (b: Uint8Array, label: string) => Promise<void> }): void {
  const params = new URLSearchParams(location.search);
  for (const [k, id] of [
    ['steps', 'train-steps'],
    ['batch', 'train-batch'],
    ['lr', 'train-lr'],
    ['mode', 'train-mode'],
    ['train', 'train-data'],
  ] as const) {
    const v = params.get(k);
    if (v !== null) ($(id) as HTMLInputElement).value = v;
  }
  const dataSel = $<HTMLSelectElement>('train-data');
  const showClasses = () => ($('classes').hidden = dataSel.value !== 'mine');
  dataSel.addEventListener('change', showClasses);
  showClasses();
  $('add-class').addEventListener('click', addClass);
  addClass();
  addClass();
  const run = () =>
    start(opts.loadBytes).catch((e) => {
      console.error(e);
      setTrainStatus(`error: ${errorText(e)}`);
    });
  $('train-start').addEventListener('click', run);
  $('train-stop').addEventListener('click', () => worker?.postMessage({ type: 'stop' }));
  if (params.get('autostart') === '1') {
    const wait = () => ($('status').textContent === 'ready' ? void run() : setTimeout(wait, 100));
    wait();
  }
}
