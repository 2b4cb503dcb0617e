/**
 * Post-lowering export transforms (src/onnx): constant folding, fp16, q8 and dynamic batch. Each
 * exported graph is loaded in onnxruntime and compared with `run` (the model's own fp32 forward)
 * or with the golden PyTorch logits, within the tolerance stated per test.
 */
import '../src/node.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as ortWeb from 'onnxruntime-web';
import { createModel } from '../src/models/registry.js';
import { getEngine } from '../src/runtime/engine.js';
import { webEngine } from '../src/runtime/web.js';
import { decodeModel, encodeModel } from '../src/onnx/proto.js';
import { foldConstants } from '../src/onnx/fold.js';
import { calibrationBatches, convertDtype } from '../src/runtime/export_dtype.js';
import { dynamicBatch, DYNAMIC_BATCH_PROBES } from '../src/onnx/dynamic_batch.js';
import { loadModelFile } from '../src/models/model_file_node.js';
import { defaultModelPath } from '../src/cli/assets.js';
import { loadData } from '../src/cli/data.js';
import { renderEvalBatch } from '../src/train/evaluate.js';
import type { HostTensor } from '../src/tensor.js';
import { goldenOrSkip } from './helpers/golden.js';
import { loadCase } from './helpers/compare.js';

const g = goldenOrSkip();
const FMNIST = existsSync('/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz');

function input(shape: number[], seed = 1): HostTensor {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37 + seed) * 1.5;
  return { dtype: 'float32', shape, data };
}

async function runBytes(bytes: Uint8Array, x: HostTensor, engine = getEngine()): Promise<Float32Array> {
  const s = await engine.createSession(bytes, { threads: 2 });
  try {
    return (await s.run({ input: x })).logits.data as Float32Array;
  } finally {
    await s.release();
  }
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
/** A golden classification case as an fp32 export: its model (golden weights), input, golden logits and ONNX bytes. */
function goldenFp32(name: string) {
  const c = loadCase(g.dir, name);
  const m = createModel(c.manifest.variant ?? name.replace(/_nc\d+_\d+$/, ''), { numClasses: c.manifest.num_classes, weights: c.weights! });
  const x = c.io.get('input')!;
  const gl = c.io.get('logits')!.data as Float32Array;
  return { c, m, x, gl, fp32: m.toOnnx(x.shape).bytes };
}

const argmaxRows = (a: Float32Array, c: number) => Array.from({ length: a.length / c }, (_, r) => a.subarray(r * c, (r + 1) * c).reduce((k, v, i, row) => (v > row[k] ? i : k), 0));

test('constant folding (Transpose/Reshape/Slice/Add/Mul/MatMul of weights, Conv+BatchNorm) leaves no weights-only node and keeps the logits (atol 1e-4 * max|logit|)', async () => {
  for (const name of ['mobilevitv3_xxs', 'mobilevitv3_0.5', 'mobile_former_26m']) {
    const m = createModel(name, { seed: 5 });
    const x = input([2, 3, 64, 64]);
    const bytes = m.toOnnx(x.shape).bytes;
    const model = decodeModel(bytes);
    const before = model.graph.node.length;
    const removed = foldConstants(model);
    assert.ok(removed > 0 && model.graph.node.length === before - removed, `${name}: folded ${removed} nodes`);
    if (name.startsWith('mobilevit')) assert.ok(!model.graph.node.some((n) => n.opType === 'BatchNormalization'), `${name}: every eval BatchNorm follows a conv and is folded`);
    const inits = new Set(model.graph.initializer.map((t) => t.name));
    // (Expand broadcasts Mobile-Former's tokens over the batch: folding it would store B copies.)
    const weightsOnly = model.graph.node.filter((n) => !['BatchNormalization', 'Expand'].includes(n.opType) && n.input.every((k) => !k || inits.has(k)));
    assert.deepEqual(weightsOnly.map((n) => n.opType), [], `${name}: nodes computing from weights alone`);
    const ref = (await m.forward(x)).data as Float32Array;
    const y = await runBytes(encodeModel(model), x);
    assert.ok(maxAbsDiff(y, ref) <= 1e-4 * maxAbs(ref), `${name}: folded graph differs by ${maxAbsDiff(y, ref)}`);
    await m.dispose();
  }
});

test('fp16 export: half the bytes; weights-only fp16 within fp16 rounding of `run`, whole-fp16 graph within 2% of the logit range', async () => {
  const m = createModel('mobilevitv3_xxs', { seed: 2 });
  const x = input([2, 3, 96, 96]);
  const fp32 = m.toOnnx(x.shape).bytes;
  const ref = (await m.forward(x)).data as Float32Array;
  const half = await convertDtype(fp32, 'fp16');
  assert.ok(half.bytes.length < 0.52 * fp32.length, `fp16 file ${half.bytes.length} vs fp32 ${fp32.length}`);
  const y = await runBytes(half.bytes, x);
  const d = maxAbsDiff(y, ref);
  // weights rounded to 11 significant bits; everything else in fp32
  assert.ok(d > 0 && d <= 5e-3 * maxAbs(ref), `fp16 weights: max |diff| ${d} (max |logit| ${maxAbs(ref)})`);
  assert.deepEqual(argmaxRows(y, 1000), argmaxRows(ref, 1000));
  const full = await convertDtype(fp32, 'fp16-graph');
  const yf = await runBytes(full.bytes, x);
  assert.ok(maxAbsDiff(yf, ref) <= 2e-2 * maxAbs(ref), `fp16 graph: max |diff| ${maxAbsDiff(yf, ref)}`);
  await m.dispose();
});

test('q8 export of the golden MobileViTv3-XXS and Mobile-Former-26M: int8 weights, logits within 15% of their range, top-1 kept beyond that; onnxruntime-web runs it too', { skip: g.skip }, async () => {
  for (const name of ['mobilevitv3_xxs_nc1000_256', 'mobile_former_26m_nc1000_224']) {
    const { c, m, x, gl, fp32 } = goldenFp32(name);
    // calibrate on the other golden input, resized by the engine-independent path: its own graph
    const cal = calibrationBatches(input(x.shape, 7), x.shape[0]);
    const q = await convertDtype(fp32, 'q8', { calibration: cal });
    assert.ok(q.q8!.convs > 0 && q.q8!.matmuls > 0, JSON.stringify(q.q8));
    assert.ok(q.bytes.length < 0.45 * fp32.length, `q8 file ${q.bytes.length} vs fp32 ${fp32.length}`);
    const y = await runBytes(q.bytes, x);
    const d = maxAbsDiff(y, gl);
    assert.ok(d <= 0.15 * maxAbs(gl), `${name}: q8 max |diff| ${d}, max |logit| ${maxAbs(gl)}`);
    // top-1 must hold wherever the golden margin (first minus second logit) exceeds twice the deviation
    const C = c.manifest.num_classes;
    const [ya, ga] = [argmaxRows(y, C), argmaxRows(gl, C)];
    for (let r = 0; r < ga.length; r++) {
      const row = [...gl.subarray(r * C, (r + 1) * C)].sort((u, v) => v - u);
      if (row[0] - row[1] > 2 * d) assert.equal(ya[r], ga[r], `${name} row ${r}: top-1 (margin ${row[0] - row[1]}, deviation ${d})`);
    }
    console.log(`# ${name}: q8 max |logit - golden| ${d.toFixed(4)} (max |logit| ${maxAbs(gl).toFixed(3)}), top-1 ${ya.join(',')} vs golden ${ga.join(',')}`);
    const web = await runBytes(q.bytes, x, webEngine(ortWeb, { threads: 1 }));
    assert.ok(maxAbsDiff(web, y) <= 0.05 * maxAbs(gl), `${name}: onnxruntime-web vs -node on the q8 graph: ${maxAbsDiff(web, y)}`);
    await m.dispose();
  }
});

test('q8-weights export of the golden models: every conv weight stored int8 and widened by Cast x scale (no QDQ), matmuls dynamic; logits within 5% of their range, top-1 kept; onnxruntime-web runs it too', { skip: g.skip }, async () => {
  for (const name of ['mobilevitv3_xxs_nc1000_256', 'mobile_former_26m_nc1000_224']) {
    const { c, m, x, gl, fp32 } = goldenFp32(name);
    const q = await convertDtype(fp32, 'q8-weights');
    const qm = decodeModel(q.bytes);
    const convs = qm.graph.node.filter((n) => n.opType === 'Conv');
    const int8 = new Map(qm.graph.initializer.filter((t) => t.dataType === 3).map((t) => [t.name, t]));
    const producers = new Map(qm.graph.node.flatMap((n) => n.output.map((o) => [o, n] as const)));
    for (const cv of convs) {
      const mul = producers.get(cv.input[1]);
      const cast = mul && producers.get(mul.input[0]);
      assert.ok(mul?.opType === 'Mul' && cast?.opType === 'Cast' && int8.has(cast.input[0]), `${name}: conv ${cv.output[0]} reads int8 weights through Cast x scale`);
    }
    assert.equal(q.q8!.convs, convs.length);
    assert.ok(q.q8!.matmuls > 0 && !qm.graph.node.some((n) => n.opType === 'QuantizeLinear'), JSON.stringify(q.q8));
    assert.ok(q.bytes.length < 0.45 * fp32.length, `q8-weights file ${q.bytes.length} vs fp32 ${fp32.length}`);
    const y = await runBytes(q.bytes, x);
    const d = maxAbsDiff(y, gl);
    assert.ok(d <= 0.05 * maxAbs(gl), `${name}: q8-weights max |diff| ${d}, max |logit| ${maxAbs(gl)}`);
    assert.deepEqual(argmaxRows(y, c.manifest.num_classes), argmaxRows(gl, c.manifest.num_classes));
    console.log(`# ${name}: q8-weights max |logit - golden| ${d.toFixed(4)} (max |logit| ${maxAbs(gl).toFixed(3)}), ${convs.length} convs`);
    const web = await runBytes(q.bytes, x, webEngine(ortWeb, { threads: 1 }));
    // Dynamic quantization rounds activations at run time. The engines' float kernels differ in the
    // last bit (the first LayerNorm already does), which can move an activation by one quantization
    // step, so the page's engine is held to node's bound against PyTorch, not to node's exact output.
    const dw = maxAbsDiff(web, gl);
    assert.ok(dw <= 0.05 * maxAbs(gl), `${name}: onnxruntime-web on the q8-weights graph: max |logit - golden| ${dw}`);
    assert.deepEqual(argmaxRows(web, c.manifest.num_classes), argmaxRows(gl, c.manifest.num_classes));
    await m.dispose();
  }
});

test('q8 export of the shipped Fashion-MNIST model: >= 98% of 500 test predictions unchanged vs fp32', { skip: FMNIST ? false : 'Fashion-MNIST not installed' }, async () => {
  const m = await loadModelFile(defaultModelPath());
  const size = m.cfg.inputSize[0];
  const data = await loadData('fashion-mnist', { size });
  const view = { size, pad: m.cfg.pad ?? data.pad, norm: m.cfg };
  const B = 100;
  const fp32 = m.toOnnx([B, 3, size, size]).bytes;
  const cal = [{ dtype: 'float32' as const, shape: [B, 3, size, size], data: renderEvalBatch(data.train, 0, B, B, view) }];
  const q = await convertDtype(fp32, 'q8', { calibration: cal });
  let same = 0;
  for (let from = 0; from < 500; from += B) {
    const x = { dtype: 'float32' as const, shape: [B, 3, size, size], data: renderEvalBatch(data.test!, from, B, B, view) };
    const a = argmaxRows(await runBytes(q.bytes, x), 10);
    const b = argmaxRows((await m.forward(x)).data as Float32Array, 10);
    same += a.filter((v, i) => v === b[i]).length;
  }
  assert.ok(same >= 490, `${same}/500 predictions unchanged`);
  await m.dispose();
});

test('dynamic batch: one graph runs batch 1 and 5 with the logits of `run` (atol 1e-5 * max|logit|)', async () => {
  for (const name of ['mobilevitv3_xxs', 'mobilevitv3_0.5', 'mobile_former_26m']) {
    const m = createModel(name, { seed: 3 });
    const [p, q] = DYNAMIC_BATCH_PROBES.map((n) => decodeModel(m.toOnnx([n, 3, 64, 64]).bytes));
    const d = dynamicBatch(p, q);
    assert.equal(d.graph.input[0].type.tensorType.shape.dim[0].dimParam, 'batch');
    const bytes = encodeModel(d);
    for (const b of [1, 5]) {
      const x = input([b, 3, 64, 64], b);
      const ref = (await m.forward(x)).data as Float32Array;
      const y = await runBytes(bytes, x);
      assert.equal(y.length, ref.length);
      assert.ok(maxAbsDiff(y, ref) <= 1e-5 * maxAbs(ref), `${name} batch ${b}: ${maxAbsDiff(y, ref)}`);
    }
    await m.dispose();
  }
});

test('dynamic batch refuses graphs that differ beyond batch-multiple shape constants', () => {
  const m = createModel('mobilevitv3_xxs');
  const a = decodeModel(m.toOnnx([2, 3, 64, 64]).bytes);
  const b = decodeModel(m.toOnnx([3, 3, 96, 96]).bytes);
  assert.throws(() => dynamicBatch(a, b, [2, 3]), /depends on the batch size/);
});

test('CLI export --dynamic-batch --dtype fp16 of the shipped model: one file, batch 3 equals `run` (its weights are stored in fp16); a bad dtype is a usage error', async () => {
  const { exportCommand } = await import('../src/cli/commands/export.js');
  const { readFileSync, rmSync, mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(join(tmpdir(), 'hv-export-'));
  const out = join(dir, 'm.onnx');
  const log = console.log;
  console.log = () => {};
  try {
    await exportCommand(['mobilevitv3_xxs', '--weights', defaultModelPath(), '-o', out, '--dynamic-batch', '--dtype', 'fp16']);
  } finally {
    console.log = log;
  }
  const m = await loadModelFile(defaultModelPath());
  const x = input([3, 3, 44, 44]);
  const ref = (await m.forward(x)).data as Float32Array;
  const y = await runBytes(readFileSync(out), x);
  assert.ok(maxAbsDiff(y, ref) <= 1e-5 * maxAbs(ref), `max |diff| ${maxAbsDiff(y, ref)}`);
  rmSync(dir, { recursive: true, force: true });
  await m.dispose();
  await assert.rejects(exportCommand(['mobilevitv3_xxs', '--weights', defaultModelPath(), '-o', '/tmp/never.onnx', '--dtype', 'int3']), /--dtype must be one of/);
});
