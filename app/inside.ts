/**
 * Look inside: attention maps from the model's graph taps (extra outputs of the same compiled
 * graph) drawn over the image, one row (token / patch position) at a time, and input-gradient saliency.
 */
import { Inspector, type AttentionMap, type RgbImage } from '../src/web/index.js';
import { drawHeatmap } from './heatmap.js';
import { $, errorText, state } from './state.js';

const HELP: Record<string, string> = {
  mobile_to_former: 'Mobile→Former: where global token t reads from the feature map (softmax over pixels, mean over heads).',
  former_to_mobile: 'Former→Mobile: how strongly each pixel reads global token t (softmax over tokens, mean over heads).',
  patch_attention: 'MobileViT: where patch position q attends in the feature map (mean over heads and the 4 pixel offsets).',
};

let inspector: Inspector | null = null;
let maps: AttentionMap[] = [];
let computedFor: unknown = null;

/** The model's own input view (after resize, crop and padding), de-normalised: what the maps are aligned to. */
function inputView(): RgbImage | null {
  const x = state.batch;
  const m = state.model;
  if (!x || !m) return null;
  const [, , h, w] = x.shape;
  const d = x.data as Float32Array;
  const out = new Uint8Array(h * w * 3);
  for (let c = 0; c < 3; c++) {
    const src = m.cfg.channelOrder === 'BGR' ? 2 - c : c;
    for (let i = 0; i < h * w; i++) out[i * 3 + src] = Math.max(0, Math.min(255, Math.round((d[c * h * w + i] * m.cfg.std[c] + m.cfg.mean[c]) * 255)));
  }
  return { width: w, height: h, data: out };
}

/** The drawn map's raw range, for readers and automated checks. */
function writeStats(values: Float32Array, kind: string, scope: string, row: number): void {
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
  }
  $('map-stats').textContent = JSON.stringify({ kind, scope, row, min, max, mean: sum / values.length });
}

function setInsideStatus(s: string): void {
  $('inside-status').textContent = s;
}

function drawSelected(): void {
  const i = Number($<HTMLSelectElement>('map-select').value);
  const m = maps[i];
  if (!m) return;
  const row = Math.min(Number($<HTMLInputElement>('row').value), m.rows - 1);
  $<HTMLInputElement>('row').max = String(m.rows - 1);
  $('row-value').textContent = String(row);
  $('row-label').textContent = m.kind === 'patch_attention' ? 'Patch' : 'Token';
  $('map-help').textContent = HELP[m.kind] ?? m.kind;
  const values = m.data.subarray(row * m.h * m.w, (row + 1) * m.h * m.w);
  drawHeatmap($<HTMLCanvasElement>('heatmap'), inputView(), values, m.h, m.w);
  writeStats(values, m.kind, m.scope, row);
}

async function refresh(): Promise<void> {
  if ($('view-inside').hidden || !state.model || !state.batch) return;
  if (computedFor === state.batch) return;
  computedFor = state.batch;
  setInsideStatus('loading');
  try {
    if (inspector?.model !== state.model) {
      void inspector?.release();
      inspector = new Inspector(state.model);
    }
    const r = await inspector.attention(state.batch);
    maps = r.maps;
    const sel = $<HTMLSelectElement>('map-select');
    sel.replaceChildren(...maps.map((m, i) => new Option(`${m.scope} · ${m.kind} (${m.rows}×${m.h}×${m.w})`, String(i))));
    if (maps.length === 0) {
      $('map-help').textContent = 'This model has no attention maps; try Saliency.';
      setInsideStatus('ready');
      return;
    }
    drawSelected();
    setInsideStatus('ready');
  } catch (e) {
    console.error(e);
    setInsideStatus(`error: ${errorText(e)}`);
  }
}

export function initInside(): void {
  state.listeners.push(() => void refresh());
  $('map-select').addEventListener('change', drawSelected);
  $('row').addEventListener('input', drawSelected);
  $('saliency').addEventListener('click', async () => {
    if (!state.model || !state.batch) return;
    setInsideStatus('loading');
    try {
      if (inspector?.model !== state.model) inspector = new Inspector(state.model);
      const s = await inspector.saliency(state.batch);
      drawHeatmap($<HTMLCanvasElement>('heatmap'), inputView(), s.map, s.h, s.w);
      writeStats(s.map, 'saliency', `class ${s.label}`, 0);
      $('map-help').textContent = `Saliency: |∂ logit / ∂ input| for class ${s.label}, max over colour channels.`;
      setInsideStatus('ready');
    } catch (e) {
      console.error(e);
      setInsideStatus(`error: ${errorText(e)}`);
    }
  });
}
