/** Latency/throughput of models through the engine, and the engine's matrix-product ceiling (CLI `bench`, bench/). */
import { Graph } from '../graph/ir.js';
import { matmul } from '../graph/ops/matmul.js';
import { Program } from '../runtime/program.js';
import type { HostTensor } from '../tensor.js';
import type { HybridModel } from './model.js';

export interface Timing {
  medianMs: number;
  bestMs: number;
  runs: number;
}

/** Median and best of `runs` runs of a compiled program after `warmup` runs. */
export async function timeProgram(p: Program, feeds: Record<string, HostTensor>, runs = 20, warmup = 3): Promise<Timing> {
  for (let i = 0; i < warmup; i++) await p.run(feeds);
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await p.run(feeds);
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return { medianMs: t[t.length >> 1], bestMs: t[0], runs };
}

function randomInput(shape: number[]): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = s / 2 ** 32 - 0.5;
  }
  return { dtype: 'float32', shape, data };
}

/** Median latency of the whole model at one input shape (a program of its own, as a fresh session). */
export async function benchModel(model: HybridModel, shape: number[], runs = 20, warmup = 3): Promise<Timing> {
  const x = randomInput(shape);
  await model.forward(x); // builds and caches the model's own session
  const p = await Program.compile(model.programSpec(shape));
  try {
    return await timeProgram(p, { input: x }, runs, warmup);
  } finally {
    await p.release();
  }
}

/**
 * MAdds/s of one large square MatMul run by the same engine: the ceiling the efficiency column
 * divides by. The right operand is an initializer, as model weights are (the engine prepacks it).
 */
export async function matmulCeiling(threads = 2, n = 1024): Promise<{ maddsPerSec: number; ms: number }> {
  const g = new Graph();
  const a = g.input('a', [n, n]);
  const b = g.param('b', [n, n]);
  const weights = new Map([['b', randomInput([n, n])]]);
  const p = await Program.compile({ graph: g, outputs: [{ name: 'y', value: matmul(a, b) }], params: 'initializer', weights, threads });
  try {
    const t = await timeProgram(p, { a: randomInput([n, n]) }, 20, 3);
    return { maddsPerSec: (n * n * n) / (t.medianMs / 1000), ms: t.medianMs };
  } finally {
    await p.release();
  }
}
