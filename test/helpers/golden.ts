import { REPO_ROOT } from '../../tools/repo_root.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** The golden conformance folder, or null (tests then skip with a loud notice). */
export function goldenDir(): string | null {
  const candidates = [process.env.HYBRIDVISION_GOLDEN, join(REPO_ROOT, '..', 'shared', 'golden')].filter(Boolean) as string[];
  for (const c of candidates) if (existsSync(join(c, 'README.md'))) return c;
  return null;
}

let warned = false;
/** Returns the golden dir, or a skip reason for `test(..., { skip })`. */
export function goldenOrSkip(): { dir: string; skip: false } | { dir: ''; skip: string } {
  const dir = goldenDir();
  if (dir) return { dir, skip: false };
  if (!warned) {
    warned = true;
    console.error('\n*** GOLDEN DATA NOT FOUND (../shared/golden or $HYBRIDVISION_GOLDEN): conformance tests are SKIPPED ***\n');
  }
  return { dir: '', skip: 'golden data not found' };
}

export { REPO_ROOT };
