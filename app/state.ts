/** What the views share: the current model, image and its model-ready batch, and the status line. */
import type { HostTensor, HybridModel, RgbImage } from '../src/web/index.js';

export interface AppState {
  model: HybridModel | null;
  /** 'default', a zoo name, or a file name. */
  modelLabel: string;
  image: RgbImage | null;
  batch: HostTensor | null;
  listeners: Array<() => void>;
}

export const state: AppState = { model: null, modelLabel: '', image: null, batch: null, listeners: [] };

export const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} missing`);
  return e as T;
};

/** Writes the app state into data-testid="status": 'loading', 'ready' or 'error: …'. */
export function setStatus(s: string): void {
  const el = $('status');
  el.textContent = s;
  el.dataset.state = s.startsWith('error') ? 'error' : s;
}

export function errorText(e: unknown): string {
  return String((e as Error)?.message ?? e).split('\n')[0];
}

/** Called when the model or image changes. */
export function changed(): void {
  for (const f of state.listeners) f();
}
