/** Running the built CLI in a child process, and the one-line error contract every bad input keeps. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../../tools/repo_root.js';

export const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

export function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A bad input must give exactly one 'hybridvision: error:' line, no stack trace, exit code 1. */
export function assertOneLineError(r: ReturnType<typeof cli>, pattern: RegExp) {
  assert.equal(r.code, 1, `exit code (stderr: ${r.err})`);
  const lines = r.err.trim().split('\n');
  assert.equal(lines.length, 1, `one line, got:\n${r.err}`);
  assert.match(lines[0], /^hybridvision: error: /);
  assert.match(lines[0], pattern);
}
