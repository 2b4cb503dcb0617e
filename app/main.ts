/**
 * The app: classify, look inside, fine-tune. Address contract (kept stable for automated checks):
 * ?model=NAME (zoo name or 'default', the shipped default), &image=URL, &weights=URL (a checkpoint
 * for NAME), &view=classify|inside|finetune|scenes, &scene=URL (the image the scenes view opens
 * with), &backend=webgpu, &threads=N. It writes its top-5 as JSON into data-testid="predictions" and
 * its state ('loading', 'ready', 'error: …') into data-testid="status"; the scenes view writes its
 * own (see scenes.ts).
 */
import {
  createWebModel,
  decodeWebImage,
  fetchBytes,
  imagesToBatch,
  listModels,
  loadModelFromFile,
  modelFromCheckpoint,
  setupWeb,
  topK,
  type HybridModel,
  type WebImageInput,
} from '../src/web/index.js';
import { imageCanvas } from './heatmap.js';
import { $, changed, errorText, setStatus, state } from './state.js';
import { initInside } from './inside.js';
import { initFinetune } from './finetune.js';
import { WASM_PATHS_URL } from './paths.js';
import { initScenes, sceneClassMap, showScenes } from './scenes.js';
import { sampleList, shippedModelUrl } from './shipped.js';

const params = new URLSearchParams(location.search);
const here = new URL('./', location.href);

interface Timings {
  /** ms from navigation start to the first result on screen. */
  coldStartMs?: number;
  weightsMs?: number;
  weightsCached?: boolean;
  /** First forward at this input shape (includes compiling the graph and creating the session). */
  firstForwardMs?: number;
  /** Later forwards at the same shape (session reused). */
  warmForwardMs?: number;
}
const timings: Timings = {};
let modelToken = 0;
let started = false;

async function loadModel(name: string, source: { url?: string; file?: File } = {}): Promise<void> {
  const token = ++modelToken;
  setStatus('loading');
  const t0 = performance.now();
  let m: HybridModel;
  let cached = false;
  const arch = name === 'default' ? undefined : name;
  const onProgress = (p: { loaded: number; total: number; cached: boolean }) => {
    cached = p.cached;
    $('runtime').dataset.progress = p.total ? `${Math.round((100 * p.loaded) / p.total)}%` : `${p.loaded} bytes`;
  };
  if (source.file) {
    m = await loadModelFromFile(source.file, { name: arch });
    state.modelLabel = source.file.name;
  } else {
    let url = source.url ?? (name === 'default' ? await shippedModelUrl('file', here) : new URL(`weights/${name}.safetensors`, here).href);
    let bytes: Uint8Array | null = null;
    try {
      bytes = await fetchBytes(url, { onProgress });
    } catch (e) {
      if (source.url || name === 'default') throw e;
      url = '';
    }
    m = bytes ? await modelFromCheckpoint(bytes, { name: arch, fileLabel: url.split('/').pop() }) : await createWebModel(name);
    state.modelLabel = bytes ? name : `${name} (random weights: choose a checkpoint file for trained ones)`;
  }
  if (token !== modelToken) return void m.dispose();
  timings.weightsMs = performance.now() - t0;
  timings.weightsCached = cached;
  const old = state.model;
  state.model = m;
  void old?.dispose();
  $('runtime').textContent = `${state.modelLabel} · ${m.numClasses} classes · ${m.cfg.inputSize.join('×')}`;
  if (state.image) await setImage(state.image);
}

async function setImage(input: WebImageInput): Promise<void> {
  const m = state.model;
  if (!m) return;
  setStatus('loading');
  const img = await decodeWebImage(input);
  state.image = img;
  const pv = $<HTMLCanvasElement>('preview');
  const ctx = pv.getContext('2d')!;
  ctx.clearRect(0, 0, pv.width, pv.height);
  const s = Math.min(pv.width / img.width, pv.height / img.height);
  ctx.drawImage(imageCanvas(img), (pv.width - img.width * s) / 2, (pv.height - img.height * s) / 2, img.width * s, img.height * s);
  state.batch = await imagesToBatch(m, [img]);
  const t0 = performance.now();
  const logits = await m.forward(state.batch);
  const dt = performance.now() - t0;
  if (timings.firstForwardMs === undefined) timings.firstForwardMs = dt;
  else timings.warmForwardMs = dt;
  const top = topK(m, logits, 5)[0];
  $('predictions').textContent = JSON.stringify(top);
  $('logits').textContent = JSON.stringify(Array.from(logits.data as Float32Array));
  const bars = $('bars');
  bars.replaceChildren(
    ...top.map((p) => {
      const li = document.createElement('li');
      li.innerHTML = `<span></span><div class="bar"></div>`;
      li.querySelector('span')!.textContent = `${p.label} — ${(100 * p.score).toFixed(1)}%`;
      (li.querySelector('.bar') as HTMLElement).style.width = `${Math.max(1, 100 * p.score)}%`;
      return li;
    }),
  );
  timings.coldStartMs ??= performance.now();
  $('timings').textContent = `weights ${timings.weightsMs?.toFixed(0)} ms${timings.weightsCached ? ' (cached)' : ''} · first forward ${timings.firstForwardMs?.toFixed(0)} ms${
    timings.warmForwardMs !== undefined ? ` · warm ${timings.warmForwardMs.toFixed(1)} ms` : ''
  } · first result ${timings.coldStartMs.toFixed(0)} ms after navigation`;
  setStatus('ready');
  changed();
}

/** Runs `fn` and turns any failure into the one-line status. */
async function guarded(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    console.error(e);
    setStatus(`error: ${errorText(e)}`);
  }
}

function showView(v: string): void {
  for (const s of document.querySelectorAll<HTMLElement>('main > section')) s.hidden = s.dataset.view !== v;
  for (const b of document.querySelectorAll<HTMLElement>('nav .tab')) b.classList.toggle('active', b.dataset.view === v);
  // the scenes view loads its models once the classifier's start-up is over (one engine at a time)
  if (v === 'scenes' && started) showScenes(params.get('scene'));
  const u = new URL(location.href);
  u.searchParams.set('view', v);
  history.replaceState(null, '', u);
  changed();
}

function wireInputs(): void {
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer?.files[0];
    if (f) void guarded(() => setImage(f));
  });
  document.addEventListener('paste', (e) => {
    const f = [...(e.clipboardData?.files ?? [])].find((x) => x.type.startsWith('image/'));
    if (f) void guarded(() => setImage(f));
  });
  $<HTMLInputElement>('image-file').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void guarded(() => setImage(f));
  });
  const video = $<HTMLVideoElement>('video');
  $('camera').addEventListener('click', () =>
    guarded(async () => {
      if (!navigator.mediaDevices?.getUserMedia) throw new Error('this browser gives no camera access here (needs https or localhost)');
      video.srcObject = await navigator.mediaDevices.getUserMedia({ video: true });
      video.hidden = false;
      $('capture').hidden = false;
      await video.play();
    }),
  );
  $('capture').addEventListener('click', () => guarded(() => setImage(video)));
  const select = $<HTMLSelectElement>('model');
  select.addEventListener('change', () =>
    guarded(async () => {
      const u = new URL(location.href);
      u.searchParams.set('model', select.value);
      u.searchParams.delete('weights');
      history.replaceState(null, '', u);
      await loadModel(select.value);
    }),
  );
  $<HTMLInputElement>('checkpoint').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void guarded(() => loadModel(select.value, { file: f }));
  });
  for (const b of document.querySelectorAll<HTMLElement>('nav .tab')) b.addEventListener('click', () => showView(b.dataset.view!));
}

/** Hooks for tests and bench/browser.ts. */
const hv = {
  state,
  timings,
  classify: (url: string) => guarded(() => setImage(url)),
  sceneClassMap,
  loadModel: (name: string, url?: string) => guarded(() => loadModel(name, { url })),
  /** `runs` forwards of the current batch after `warmMs` of warm-up: median and best ms (the session is reused). */
  async bench(runs = 20, warmMs = 0): Promise<{ median: number; best: number; times: number[] }> {
    const m = state.model!;
    const x = state.batch!;
    // warm-up: forwards for at least `warmMs` (V8 recompiles the hot wasm functions in the background first)
    const warmFrom = performance.now();
    do await m.forward(x);
    while (performance.now() - warmFrom < warmMs);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await m.forward(x);
      times.push(performance.now() - t0);
    }
    const s = [...times].sort((a, b) => a - b);
    return { median: s[Math.floor(s.length / 2)], best: s[0], times };
  },
};
(window as unknown as { hv: typeof hv }).hv = hv;

async function main(): Promise<void> {
  const backend = params.get('backend') === 'webgpu' ? 'webgpu' : 'wasm';
  const threads = params.has('threads') ? Number(params.get('threads')) : undefined;
  const rt = await setupWeb({ wasmPaths: WASM_PATHS_URL(), backend, threads });
  $('runtime').title = `onnxruntime-web ${rt.backend}, ${rt.threads} thread(s)${rt.crossOriginIsolated ? ', cross-origin isolated' : ''}`;
  const name = params.get('model') ?? 'default';
  const select = $<HTMLSelectElement>('model');
  for (const n of ['default', ...listModels()]) select.add(new Option(n === 'default' ? 'default (shipped)' : n, n));
  select.value = name;
  if (select.value !== name) throw new Error(`unknown model '${name}' (try one of: default, ${listModels().join(', ')})`);
  wireInputs();
  initInside();
  initScenes();
  initFinetune({ loadBytes: (b, label) => guarded(() => useFinetuned(b, label)) });
  const list = await sampleList('samples', here);
  $('samples').replaceChildren(
    ...list.map((f) => {
      const im = document.createElement('img');
      im.src = new URL(`samples/${f}`, here).href;
      im.title = f;
      im.addEventListener('click', () => guarded(() => setImage(im.src)));
      return im;
    }),
  );
  showView(params.get('view') ?? 'classify');
  await loadModel(name, { url: params.get('weights') ?? undefined });
  const image = params.get('image') ?? (list[0] ? new URL(`samples/${list[0]}`, here).href : null);
  if (image) await setImage(image);
  else setStatus('ready');
  started = true;
  if (new URL(location.href).searchParams.get('view') === 'scenes') showScenes(params.get('scene'));
}

async function useFinetuned(bytes: Uint8Array, label: string): Promise<void> {
  setStatus('loading');
  const m = await modelFromCheckpoint(bytes, { fileLabel: label });
  const old = state.model;
  state.model = m;
  state.modelLabel = label;
  void old?.dispose();
  $('runtime').textContent = `${label} · ${m.numClasses} classes · ${m.cfg.inputSize.join('×')}`;
  if (state.image) await setImage(state.image);
  else setStatus('ready');
}

void guarded(main);
