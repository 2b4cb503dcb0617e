import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from './helpers/golden.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Layers from the bottom up: a file may import only from its own layer and those below. */
const BELOW: Record<string, string[]> = {
  graph: [],
  onnx: ['graph'],
  runtime: ['graph', 'onnx'],
  nn: ['graph'],
};

test('dependencies point one way: graph < onnx < runtime, nn over graph; runtime never reaches models', () => {
  const bad: string[] = [];
  for (const [layer, allowed] of Object.entries(BELOW)) {
    for (const f of sources(join(REPO_ROOT, 'src', layer))) {
      for (const m of readFileSync(f, 'utf8').matchAll(/from\s+['"]\.\.\/(?:\.\.\/)?([a-z_]+)\//g)) {
        if (m[1] !== layer && !allowed.includes(m[1])) bad.push(`${f.slice(REPO_ROOT.length + 1)} imports ${m[1]}/`);
      }
    }
  }
  assert.deepEqual(bad, []);
});

test('one seam from graph to engine: only runtime/program.ts opens sessions', () => {
  const bad = sources(join(REPO_ROOT, 'src'))
    .filter((f) => !/src\/runtime\/(program|engine|node|web|ort_common)\.ts$/.test(f))
    .filter((f) => /\.createSession\(/.test(readFileSync(f, 'utf8')))
    .map((f) => f.slice(REPO_ROOT.length + 1));
  assert.deepEqual(bad, []);
});
