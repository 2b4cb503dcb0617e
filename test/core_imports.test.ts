import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from './helpers/golden.js';

/** Every module reachable from the core entry, by static import/export-from. */
function reachable(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    const src = readFileSync(file, 'utf8');
    const specs = [...src.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\s+['"]([^'"]+)['"]/g)].map((m) => m[1] ?? m[2]);
    seen.set(file, specs);
    for (const s of specs) if (s.startsWith('.')) visit(resolve(dirname(file), s));
  };
  visit(entry);
  return seen;
}

test('the core entry (browser-safe) reaches no Node built-ins, sharp or onnxruntime-node', () => {
  const mods = reachable(join(REPO_ROOT, 'dist', 'src', 'index.js'));
  assert.ok(mods.size > 30, `only ${mods.size} modules reached`);
  const bad: string[] = [];
  for (const [file, specs] of mods) for (const s of specs) if (/^node:|^(fs|path|os|zlib|crypto|child_process)$|^sharp$|^onnxruntime-node$/.test(s)) bad.push(`${file.slice(REPO_ROOT.length + 1)} imports ${s}`);
  assert.deepEqual(bad, []);
});
