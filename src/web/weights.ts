/**
 * Model files in the browser: fetched from a URL (progress events; kept in the Cache API, so a second
 * visit loads offline) or read from a user's File. Safetensors, .pt and .pth.tar all go through the
 * core importer, which unpickles against an allowlist and never runs code.
 */
import { concatBytes } from '../io/bytes.js';
import { modelFromBytes } from '../models/model_file.js';
import { createModel } from '../models/registry.js';
import type { CreateOptions, HybridModel } from '../models/model.js';
import { HybridVisionError } from '../tensor.js';
import { setupWeb } from './ort.js';

export interface Progress {
  loaded: number;
  /** Bytes expected (Content-Length), or 0 when the server does not say. */
  total: number;
  /** Whether the bytes came from the Cache API. */
  cached: boolean;
}

export interface FetchOptions {
  onProgress?: (p: Progress) => void;
  /** Cache API bucket (default 'hybridvision-weights-v1'); null: do not cache. */
  cache?: string | null;
  signal?: AbortSignal;
}

const DEFAULT_CACHE = 'hybridvision-weights-v1';

async function openCache(name: string | null | undefined): Promise<Cache | null> {
  if (name === null || typeof caches === 'undefined') return null;
  try {
    return await caches.open(name ?? DEFAULT_CACHE);
  } catch {
    return null; // opaque origins and some private modes have no Cache API
  }
}

async function readBody(res: Response, cached: boolean, onProgress?: (p: Progress) => void): Promise<Uint8Array> {
  const total = Number(res.headers.get('content-length') ?? 0);
  if (!res.body) {
    const b = new Uint8Array(await res.arrayBuffer());
    onProgress?.({ loaded: b.length, total: b.length, cached });
    return b;
  }
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let loaded = 0;
  onProgress?.({ loaded: 0, total, cached });
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    loaded += value.length;
    onProgress?.({ loaded, total, cached });
  }
  return concatBytes(parts);
}

/** Bytes of a URL, from the Cache API when there, else fetched (and then cached). */
export async function fetchBytes(url: string | URL, opts: FetchOptions = {}): Promise<Uint8Array> {
  const href = new URL(String(url), typeof location !== 'undefined' ? location.href : undefined).href;
  const cache = await openCache(opts.cache);
  const hit = await cache?.match(href);
  if (hit) return readBody(hit, true, opts.onProgress);
  let res: Response;
  try {
    res = await fetch(href, { signal: opts.signal });
  } catch (e) {
    if ((e as Error)?.name === 'AbortError') throw e;
    throw new HybridVisionError(`cannot fetch ${href} (offline and not cached?)`);
  }
  if (!res.ok) throw new HybridVisionError(`cannot fetch ${href}: HTTP ${res.status}`);
  const bytes = await readBody(res, false, opts.onProgress);
  if (cache) {
    const headers = { 'content-type': res.headers.get('content-type') ?? 'application/octet-stream', 'content-length': String(bytes.length) };
    await cache.put(href, new Response(bytes as Uint8Array<ArrayBuffer>, { headers })).catch(() => {});
  }
  return bytes;
}

/** Whether a URL's bytes are in the Cache API. */
export async function isCached(url: string | URL, cache?: string): Promise<boolean> {
  const c = await openCache(cache);
  const href = new URL(String(url), typeof location !== 'undefined' ? location.href : undefined).href;
  return !!(await c?.match(href));
}

export interface LoadOptions extends FetchOptions {
  /** The architecture, for checkpoints that do not name it (official .pt / .pth.tar / safetensors). */
  name?: string;
  threads?: number;
}

async function threadsFor(opts: { threads?: number }): Promise<number> {
  return opts.threads ?? (await setupWeb()).threads;
}

/** A model from checkpoint bytes (hybridvision safetensors name their model; others need `name`). */
export async function modelFromCheckpoint(bytes: Uint8Array, opts: LoadOptions & { fileLabel?: string } = {}): Promise<HybridModel> {
  const threads = await threadsFor(opts);
  return modelFromBytes(bytes, opts.name, { threads, fileLabel: opts.fileLabel });
}

/** A model from a checkpoint URL (cached). */
export async function loadModelFromUrl(url: string | URL, opts: LoadOptions = {}): Promise<HybridModel> {
  const bytes = await fetchBytes(url, opts);
  return modelFromCheckpoint(bytes, { ...opts, fileLabel: String(url).split('/').pop() });
}

/** A model from a user's file (drop or <input type=file>): .safetensors, .pt, .pth, .pth.tar. */
export async function loadModelFromFile(file: Blob & { name?: string }, opts: LoadOptions = {}): Promise<HybridModel> {
  const label = file.name ?? 'the file';
  if (file.size === 0) throw new HybridVisionError(`${label} is empty`);
  const bytes = new Uint8Array(await file.arrayBuffer());
  return modelFromCheckpoint(bytes, { ...opts, fileLabel: label });
}

/** A zoo model with random weights (or `weights` given), its engine threads set for this page. */
export async function createWebModel(name: string, opts: CreateOptions = {}): Promise<HybridModel> {
  const threads = await threadsFor(opts);
  return createModel(name, { ...opts, threads });
}
