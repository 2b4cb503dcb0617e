/**
 * onnxruntime-web set-up for the browser: wasm with SIMD, as many threads as the page may use (two
 * or more only when it is cross-origin isolated), WebGPU on request. Idempotent: the first call
 * wins, later calls return the same settings.
 *
 * Where ORT's runtime files come from (`wasmPaths`): a folder URL holding
 * `ort-wasm-simd-threaded.mjs` and `.wasm` (and `ort-wasm-simd-threaded.asyncify.*` for WebGPU),
 * copied from node_modules/onnxruntime-web/dist/. Setting it also keeps ORT's thread workers on
 * that small file: without it, a bundled page's workers re-run the whole bundle.
 */
import * as ortWasm from 'onnxruntime-web/wasm';
import { Graph } from '../graph/ir.js';
import { add } from '../graph/ops/elementwise.js';
import { setEngine } from '../runtime/engine.js';
import { Program } from '../runtime/program.js';
import { ortEngine, type OrtModule } from '../runtime/ort_common.js';
import { HybridVisionError } from '../tensor.js';

export interface WebSetup {
  /** Folder URL (ending in '/') of ORT's .mjs/.wasm runtime files; default: next to ORT's own module. */
  wasmPaths?: string;
  /** wasm threads; default: min(4, hardwareConcurrency) when cross-origin isolated, else 1. */
  threads?: number;
  /** 'webgpu' runs sessions on the GPU when the browser has WebGPU (else falls back to wasm with a console note). */
  backend?: 'wasm' | 'webgpu';
  /** Log the set-up to the console (default true). */
  verbose?: boolean;
}

export interface WebRuntime {
  backend: 'wasm' | 'webgpu';
  threads: number;
  crossOriginIsolated: boolean;
  wasmPaths: string | null;
}

type OrtEnv = { env: { wasm: { numThreads?: number; simd?: boolean; wasmPaths?: string; proxy?: boolean }; logLevel?: string } };

let current: Promise<WebRuntime> | null = null;

const g = globalThis as { crossOriginIsolated?: boolean; navigator?: { hardwareConcurrency?: number; gpu?: { requestAdapter(): Promise<unknown> } } };

/** Sets up onnxruntime-web as hybridvision's engine (called for you by the web pipeline and loaders). */
export function setupWeb(opts: WebSetup = {}): Promise<WebRuntime> {
  current ??= init(opts);
  return current;
}

/** The settings in force, or null before setupWeb. */
export function webRuntime(): Promise<WebRuntime> | null {
  return current;
}

/** A one-op session: the first session pays for the wasm runtime's start-up. */
async function warmUp(): Promise<void> {
  const g = new Graph();
  const a = g.input('a', [1]);
  try {
    const p = await Program.compile({ graph: g, outputs: [{ name: 'b', value: add(a, a) }], params: 'initializer', weights: new Map(), threads: 1 });
    await p.release();
  } catch {
    // a real session reports the problem
  }
}

async function init(opts: WebSetup): Promise<WebRuntime> {
  const isolated = g.crossOriginIsolated === true;
  const cores = g.navigator?.hardwareConcurrency ?? 1;
  let threads = opts.threads ?? (isolated ? Math.max(1, Math.min(4, cores)) : 1);
  if (threads > 1 && !isolated) {
    console.info(`hybridvision: ${threads} wasm threads need a cross-origin isolated page (COOP: same-origin, COEP: require-corp); using 1`);
    threads = 1;
  } else if (!isolated && opts.threads === undefined && opts.verbose !== false) {
    console.info('hybridvision: page is not cross-origin isolated, so onnxruntime-web runs on 1 thread (serve with COOP/COEP headers for more)');
  }
  let backend = opts.backend ?? 'wasm';
  let ort: OrtModule & OrtEnv = ortWasm as unknown as OrtModule & OrtEnv;
  if (backend === 'webgpu') {
    const adapter = g.navigator?.gpu ? await g.navigator.gpu.requestAdapter().catch(() => null) : null;
    if (!adapter) {
      console.info('hybridvision: WebGPU was requested but this browser has no WebGPU adapter; using wasm');
      backend = 'wasm';
    } else {
      ort = (await import('onnxruntime-web/webgpu')) as unknown as OrtModule & OrtEnv;
    }
  }
  const env = ort.env.wasm;
  env.numThreads = threads;
  env.simd = true;
  if (opts.wasmPaths) {
    if (!opts.wasmPaths.endsWith('/')) throw new HybridVisionError(`wasmPaths must be a folder URL ending in '/', got ${opts.wasmPaths}`);
    env.wasmPaths = opts.wasmPaths;
  }
  ort.env.logLevel = 'error';
  // 'extended', not 'all': level 'all' adds the NCHWc layout transform, which on wasm makes session
  // creation 3x slower and Mobile-Former's forward ~4x slower (measured, onnxruntime-web 1.30).
  const sessionOptions = { graphOptimizationLevel: 'extended', ...(backend === 'webgpu' ? { executionProviders: ['webgpu'] } : {}) };
  setEngine(ortEngine(ort, `onnxruntime-web (${backend})`, sessionOptions));
  // Instantiate the wasm runtime (compile, start its threads) now, while the caller fetches weights.
  void warmUp();
  const rt: WebRuntime = { backend, threads, crossOriginIsolated: isolated, wasmPaths: opts.wasmPaths ?? null };
  if (opts.verbose !== false) console.info(`hybridvision: onnxruntime-web ${backend}, ${threads} thread(s)`);
  return rt;
}
