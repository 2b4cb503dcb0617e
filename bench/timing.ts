/**
 * Sessions and timers for the same-run benches: the engine's session options (runtime/ort_common.ts)
 * with thread spinning off unless asked for. On a machine shared with other jobs, wall time swings
 * with their load; the process CPU time per run (all engine threads) swings much less when no
 * thread burns time waiting. CPU time is not latency (it adds up both threads), so the benches
 * print both.
 */
import * as ort from 'onnxruntime-node';

export type OrtSession = Awaited<ReturnType<typeof ort.InferenceSession.create>>;

export function createSession(bytes: Uint8Array, threads = 2, spin = false): Promise<OrtSession> {
  return ort.InferenceSession.create(bytes, {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    logSeverityLevel: 3,
    ...(spin ? {} : { extra: { session: { intra_op: { allow_spinning: '0' } } } }),
  });
}

export const ortInput = (data: Float32Array, shape: number[]): Record<string, ort.Tensor> => ({ input: new ort.Tensor('float32', data, shape) });

export async function timeRuns(s: OrtSession, feeds: Record<string, ort.Tensor>, n: number): Promise<{ wall: number[]; cpu: number[] }> {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < n; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await s.run(feeds);
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  return { wall, cpu };
}
