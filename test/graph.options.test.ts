import '../src/node.js';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Graph } from '../src/graph/ir.js';
import { lowering } from '../src/graph/options.js';
import { Conv2dOp } from '../src/graph/ops/conv.js';
import { createModel } from '../src/models/registry.js';
import { REPO_ROOT } from './helpers/golden.js';
import { mul } from '../src/graph/ops/elementwise.js';
import { fold, unfold } from '../src/nn/patches.js';
import { lowerToOnnx } from '../src/onnx/lower.js';
import { getEngine } from '../src/runtime/engine.js';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

test('no module-level mutable state in src/graph: no `export let`, no top-level `let`/`var`', () => {
  const files = sources(join(REPO_ROOT, 'src', 'graph'));
  assert.ok(files.length > 10);
  const bad: string[] = [];
  for (const f of files) {
    readFileSync(f, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (/^\s*export\s+let\b/.test(line) || /^(let|var)\s/.test(line)) bad.push(`${f.slice(REPO_ROOT.length + 1)}:${i + 1}: ${line.trim()}`);
      });
  }
  assert.deepEqual(bad, []);
});

test('graph options: per-mode lowering defaults, merged overrides, frozen once given', () => {
  const e = new Graph();
  assert.equal(e.training, false);
  assert.deepEqual(e.options.lowering, lowering('eval'));
  const t = new Graph({ mode: 'train', lowering: { conv: { depthwiseWeight: 'taps' }, fusedSilu: false }, dropout: { seed: 3 } });
  assert.equal(t.training, true);
  assert.equal(t.options.lowering.conv.depthwiseWeight, 'taps');
  assert.equal(t.options.lowering.conv.denseDepthwiseMaxMatrix, lowering('train').conv.denseDepthwiseMaxMatrix);
  assert.equal(t.options.lowering.fusedSilu, false);
  assert.equal(t.options.lowering.attention, 'fused');
  assert.equal(t.options.dropout?.seed, 3);
  assert.throws(() => ((t.options.lowering.conv as { depthwiseWeight: string }).depthwiseWeight = 'conv'));
});

test('two graphs built side by side keep their own lowering (nothing leaks through module state)', () => {
  const m = createModel('mobilevitv3_xxs', { numClasses: 10 });
  const a = m.build([2, 3, 32, 32], { mode: 'train' });
  const b = m.build([2, 3, 32, 32], { mode: 'train', lowering: { conv: { denseDepthwiseMaxMatrix: 0 }, attention: 'perHead' } });
  const c = m.build([2, 3, 32, 32]);
  const convs = (g: Graph) => g.nodes.filter((n) => n.op === Conv2dOp && n.attrs.groups > 1).length;
  assert.ok(convs(b.graph) > convs(a.graph), 'dense depthwise only where the options say so');
  assert.equal(convs(c.graph), convs(b.graph));
  const splits = (g: Graph) => g.nodes.filter((n) => n.op.name === 'split').length;
  assert.ok(splits(a.graph) > 0 && splits(b.graph) === 0, 'fused attention only in a');
});

test('patch unfold/fold: the SpaceToDepth lowering moves every value where the 6-D Transpose does (engine run)', async () => {
  const x = Float32Array.from({ length: 2 * 3 * 4 * 6 }, (_, i) => i);
  const run = async (patches: 'transpose' | 'spaceToDepth') => {
    const g = new Graph({ lowering: { patches } });
    const xin = g.input('x', [2, 3, 4, 6]);
    const t = unfold(xin);
    const y = fold(mul(t, 2), 2, 4, 6);
    const m = lowerToOnnx(g, { outputs: [{ name: 't', value: t }, { name: 'y', value: y }], params: 'input' });
    const s = await getEngine().createSession(m.bytes, { threads: 1 });
    const out = await s.run({ x: { dtype: 'float32', shape: [2, 3, 4, 6], data: x } });
    await s.release();
    return { t: Array.from(out.t.data as Float32Array), y: Array.from(out.y.data as Float32Array) };
  };
  const a = await run('transpose');
  const b = await run('spaceToDepth');
  assert.deepEqual(b.t, a.t);
  assert.deepEqual(b.y, a.y);
  assert.deepEqual(a.y, Array.from(x, (v) => 2 * v), 'fold inverts unfold');
  // token p·N + n (N = 6) of sample 0 holds pixel (2·⌊n/3⌋ + ⌊p/2⌋, 2·(n mod 3) + p mod 2): p 1, n 4 -> (2, 3)
  assert.deepEqual(a.t.slice(3 * 10, 3 * 11), [0, 1, 2].map((c) => c * 24 + 2 * 6 + 3));
});
