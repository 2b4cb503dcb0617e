import '../src/node.js';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Graph } from '../src/graph/ir.js';
import { createModel, getModelSpec } from '../src/models/registry.js';
import { MOBILE_FORMER_CFGS, MOBILE_FORMER_SPECS } from '../src/models/mobile_former.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { syntheticWeights } from '../src/io/synthetic.js';
import type { HostTensor } from '../src/tensor.js';
import { goldenOrSkip } from './helpers/golden.js';

const g = goldenOrSkip();
const VARIANTS = ['26m', '52m', '96m', '151m', '214m', '294m', '508m'].map((s) => `mobile_former_${s}`);

const readTensors = (path: string) => readSafetensors(readFileSync(path)).tensors;
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

/** Builds a variant's graph for one input shape without creating (initialising) a model. */
function buildGraph(variant: string, inputShape: number[], numClasses = 1000) {
  const graph = new Graph();
  const out = getModelSpec(variant).build(numClasses).forward(graph.input('input', inputShape));
  return { graph, out };
}

function maxAbs(t: HostTensor): number {
  let m = 0;
  for (const v of t.data as Float32Array) m = Math.max(m, Math.abs(v));
  return m;
}

/** Asserts |ours - ref| <= atol + rtol*|ref| elementwise; returns max |ours - ref|. */
function assertClose(ours: HostTensor | undefined, ref: HostTensor, atol: number, rtol: number, label: string): number {
  assert.ok(ours, `${label}: missing`);
  assert.deepEqual(ours.shape, ref.shape, `${label}: shape`);
  const a = ours.data as Float32Array;
  const b = ref.data as Float32Array;
  let maxDiff = 0;
  for (let i = 0; i < b.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= atol + rtol * Math.abs(b[i]))) assert.fail(`${label}: element ${i} ours ${a[i]} ref ${b[i]} (atol ${atol}, rtol ${rtol})`);
    maxDiff = Math.max(maxDiff, d);
  }
  return maxDiff;
}

test('Mobile-Former specs: seven variants, timm cfg as the registry has it', () => {
  assert.deepEqual(
    MOBILE_FORMER_SPECS.map((s) => s.name),
    VARIANTS,
  );
  for (const s of MOBILE_FORMER_SPECS) {
    assert.equal(s.family, 'mobile_former');
    assert.deepEqual(s.headPrefixes, ['classifier.']);
    assert.equal(s.cfg.channelOrder, 'RGB');
    assert.deepEqual(s.cfg.inputSize, [224, 224]);
    assert.equal(s.cfg.cropPct, 0.875);
    assert.deepEqual(s.cfg.mean, [0.485, 0.456, 0.406]);
    assert.equal(s.cfg.fileName, `mobile-former-${s.name.slice('mobile_former_'.length)}.pth.tar`);
    assert.match(s.cfg.url!, /^https:\/\/drive\.google\.com\/file\/d\//);
  }
});

test('Mobile-Former feature outputs: blocks, tokens [T,N,D], stages by output stride, pre-logits', () => {
  for (const v of VARIANTS) {
    const cfg = MOBILE_FORMER_CFGS[v];
    const { out } = buildGraph(v, [2, 3, 67, 45], 7);
    const f = new Map(out.features.map((x) => [x.name, x.value.shape]));
    const nBlocks = cfg.blocks.reduce((n, r) => n + r[3], 0);
    assert.deepEqual(f.get('out_stage0'), [2, cfg.stem, 34, 23]);
    for (let i = 0; i < nBlocks; i++) assert.deepEqual(f.get(`out_block${i}_tokens`), [cfg.tokens, 2, cfg.tokenDim], `${v} block ${i}`);
    // Stages are the resolutions the blocks run at, in order: 1/4…1/32 for 26m/52m, 1/2…1/32 where the
    // first block keeps the stem's stride (96m…508m), as the golden taps name them.
    const first = cfg.blocks[0][4] === 1 ? 1 : 2;
    const last = 5 - first + 1;
    for (let k = 1; k <= last; k++) {
      const s = 2 ** (k + first - 1);
      const shape = f.get(`out_stage${k}`)!;
      assert.deepEqual(shape.slice(2), [Math.ceil(67 / s), Math.ceil(45 / s)], `${v} stage ${k}`);
      assert.deepEqual(f.get(`out_stage${k}_tokens`), [cfg.tokens, 2, cfg.tokenDim]);
    }
    assert.equal(f.get(`out_stage${last + 1}`), undefined);
    assert.deepEqual(f.get(`out_stage${last}`), f.get(`out_block${nBlocks - 1}`));
    assert.deepEqual(f.get('out_final_tokens'), [cfg.tokens, 2, cfg.tokenDim]);
    assert.deepEqual(out.logits.shape, [2, 7]);
    assert.deepEqual(out.preLogits.shape, [2, cfg.numFeatures]);
  }
});

const STORED = [
  { variant: 'mobile_former_26m', kase: 'mobile_former_26m_nc1000_224' },
  { variant: 'mobile_former_52m', kase: 'mobile_former_52m_nc10_128' },
  { variant: 'mobile_former_96m', kase: 'mobile_former_96m_nc10_128' },
];

for (const { variant, kase } of STORED) {
  test(`golden ${kase}: logits (io, io2) and every stored intermediate`, { skip: g.skip }, async (t) => {
    const man = readJson(join(g.dir, `${kase}.json`));
    const m = createModel(variant, { numClasses: man.num_classes, weights: readTensors(join(g.dir, `${kase}.weights.safetensors`)) });
    assert.equal(m.numParams(), man.num_params);
    const tol = man.tolerance_suggestion;
    for (const io of ['io', 'io2']) {
      const ref = readTensors(join(g.dir, `${kase}.${io}.safetensors`));
      const input = ref.get('input')!;
      const label = `${kase} ${input.shape.join('x')}`;
      const inter = [...ref.keys()].filter((k) => k.startsWith('out_'));
      if (variant === 'mobile_former_26m') assert.equal(inter.length, man.intermediates.length, `${label}: intermediates stored`);
      const out = inter.length ? await m.forwardFeatures(input) : { logits: await m.forward(input) };
      const atol = io === 'io' ? tol.logits_atol : man.second_input?.logits_atol ?? tol.logits_atol;
      const d = assertClose(out.logits, ref.get('logits')!, atol, tol.logits_rtol, `${label} logits`);
      t.diagnostic(`${label}: max |logits diff| ${d.toExponential(2)} (atol ${atol})`);
      for (const k of inter) {
        const r = ref.get(k)!;
        assertClose((out as Record<string, HostTensor>)[k], r, 1e-4 * maxAbs(r), 1e-3, `${label} ${k}`);
      }
    }
    await m.dispose();
  });
}

test('golden synthetic-weight cases: every Mobile-Former variant', { skip: g.skip }, async (t) => {
  const shapes = readJson(join(g.dir, 'state_dict_shapes.json'));
  for (const v of VARIANTS) {
    const kase = `synth_${v}_nc1000_64x64_b2_s4242`;
    const man = readJson(join(g.dir, 'synthetic', `${kase}.json`));
    const io = readTensors(join(g.dir, 'synthetic', `${kase}.io.safetensors`));
    const m = createModel(v, { weights: syntheticWeights(shapes[v].state_dict, man.synth_seed) });
    assert.equal(m.numParams(), shapes[v].num_params, `${v} params`);
    const logits = await m.forward(io.get('input')!);
    const tol = man.tolerance_suggestion;
    const d = assertClose(logits, io.get('logits')!, tol.logits_atol, tol.logits_rtol, `synthetic ${v}`);
    t.diagnostic(`${kase}: max |logits diff| ${d.toExponential(2)} (atol ${tol.logits_atol})`);
    await m.dispose();
  }
});
