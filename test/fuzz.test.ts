/**
 * Runs tools/fuzz for a bounded time (mutations of valid .pt, .pth.tar and safetensors files):
 * every input must load or be refused with a HybridVisionError, none may hang or take more than
 * 128 MiB + 64x its size in memory. The harness itself is checked first with injected faults.
 * HYBRIDVISION_FUZZ_SECONDS sets the main run's length (default 45).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import type { FuzzSummary } from '../tools/fuzz.js';
import { REPO_ROOT } from './helpers/golden.js';

const FUZZ = join(REPO_ROOT, 'dist', 'tools', 'fuzz.js');

function fuzz(args: string[], env: Record<string, string> = {}): { code: number | null; summary: FuzzSummary; err: string } {
  const r = spawnSync(process.execPath, [FUZZ, '--json', ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return { code: r.status, summary: JSON.parse(line) as FuzzSummary, err: r.stderr };
}

for (const kind of ['error', 'hang', 'memory'] as const) {
  test(`the fuzz harness reports an injected ${kind}`, () => {
    const r = fuzz(['--seconds', '6', '--per-input-ms', '2000'], { HV_FUZZ_SELFTEST: kind });
    assert.equal(r.code, 1);
    const f = r.summary.failures.find((x) => x.index === 3);
    assert.ok(f, JSON.stringify(r.summary.failures));
    assert.equal(f.kind, kind);
  });
}

test('fuzzing the checkpoint readers finds no raw error, hang or memory blow-up', () => {
  const seconds = process.env.HYBRIDVISION_FUZZ_SECONDS ?? '45';
  const r = fuzz(['--seconds', seconds, '--seed', String(Date.now() % 100000)]);
  const s = r.summary;
  console.log(`fuzz seed ${s.seed}: ${s.inputs} inputs in ${s.seconds} s, ${s.loaded} loaded, ${s.refused} refused, slowest ${s.slowestMs} ms`);
  assert.deepEqual(s.failures, [], `reproduce with: node dist/tools/fuzz.js --seed ${s.seed} --only INDEX --save DIR`);
  assert.equal(r.code, 0, r.err);
  assert.ok(s.inputs >= 1000, `only ${s.inputs} inputs ran`);
  assert.ok(s.refused > 0 && s.loaded > 0, 'both refused and loadable inputs were generated');
});
