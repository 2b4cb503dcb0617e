/** The CLI in a child process with a heap limit, a wall-clock limit and its peak RSS measured. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './golden.js';

export interface LimitedRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string;
  err: string;
  /** Peak resident set size of the child in bytes (0 if it died before reporting). */
  peakRss: number;
  ms: number;
}

const PROBE = join(REPO_ROOT, 'dist', 'test', 'helpers', 'rss_probe.js');

export function runLimited(args: string[], opts: { heapMb?: number; timeoutMs?: number; cwd?: string } = {}): LimitedRun {
  const dir = mkdtempSync(join(tmpdir(), 'hv-rss-'));
  const rssFile = join(dir, 'rss');
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [`--max-old-space-size=${opts.heapMb ?? 256}`, PROBE, ...args], {
    encoding: 'utf8',
    timeout: opts.timeoutMs ?? 60_000,
    killSignal: 'SIGKILL',
    cwd: opts.cwd,
    env: { ...process.env, HV_RSS_OUT: rssFile, HYBRIDVISION_DEBUG: '' },
  });
  const ms = performance.now() - t0;
  let peakRss = 0;
  try {
    peakRss = Number(readFileSync(rssFile, 'utf8'));
  } catch {
    /* killed before exit */
  }
  rmSync(dir, { recursive: true, force: true });
  return { code: r.status, signal: r.signal, out: r.stdout ?? '', err: r.stderr ?? '', peakRss, ms };
}
