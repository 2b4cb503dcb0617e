/**
 * Finite-difference checks of every op's VJP rule, evaluated through ONNX Runtime: for a random
 * cotangent r and a random direction d on one input, the autodiff directional derivative
 * <∂(Σ y·r)/∂x, d> must match the central difference of Σ y·r (float64 sums of float32 outputs,
 * Richardson-extrapolated over steps h and h/2).
 */
import '../src/node.js';
import { test } from 'node:test';
import { normals } from './helpers/random.js';
import assert from 'node:assert/strict';
import { grad } from '../src/graph/autodiff.js';
import { Graph, type Value, type VDType } from '../src/graph/ir.js';
import type { ConvLowering, GraphOptionsInit } from '../src/graph/options.js';
import * as op from '../src/graph/ops/index.js';
import { channelShuffle, batchNormTrain, batchNormTrainComposite, gelu, hardSwish, linear, relu6, resizeBilinear, silu } from '../src/nn/functional.js';
import { lowerToOnnx } from '../src/onnx/lower.js';
import { getEngine } from '../src/runtime/engine.js';
import { numel, type HostTensor } from '../src/tensor.js';
import { crossEntropy, softTargetCrossEntropy } from '../src/train/loss.js';


interface InSpec {
  shape: number[];
  /** Initial data (default: N(0,1)); `map` transforms the default samples (e.g. keep away from a kink). */
  data?: Float32Array | BigInt64Array;
  map?: (v: number) => number;
  dtype?: VDType;
  /** Not differentiated (labels, targets). */
  fixed?: boolean;
}

let seedCounter = 1;

/**
 * Builds out = f(inputs), checks the VJP of every non-fixed input by central differences, and
 * returns the worst relative error.
 */
async function checkVjp(label: string, specs: InSpec[], f: (...xs: Value[]) => Value, opts: { h?: number; tol?: number; graph?: GraphOptionsInit } = {}): Promise<number> {
  const h = opts.h ?? 1e-2;
  const tol = opts.tol ?? 2e-3;
  const g = new Graph(opts.graph);
  const xs = specs.map((s, i) => g.input(`x${i}`, s.shape, s.dtype ?? 'float32'));
  const y = f(...xs);
  const r = normals(y.size, seedCounter++);
  const diff = xs.filter((_, i) => !specs[i].fixed);
  const gs = grad([y], [g.constant({ dtype: 'float32', shape: [...y.shape], data: r })], diff);
  const outputs = [{ name: 'y', value: y }];
  gs.forEach((gv, i) => {
    assert.ok(gv, `${label}: no gradient for input ${i}`);
    outputs.push({ name: `g${i}`, value: gv! });
  });
  const model = lowerToOnnx(g, { outputs, params: 'input' });
  const session = await getEngine().createSession(model.bytes, { threads: 1 });
  const base: HostTensor[] = specs.map((s) => {
    if (s.data) return { dtype: s.data instanceof BigInt64Array ? 'int64' : 'float32', shape: s.shape, data: s.data };
    const d = normals(numel(s.shape), seedCounter++);
    if (s.map) for (let i = 0; i < d.length; i++) d[i] = s.map(d[i]);
    return { dtype: 'float32', shape: s.shape, data: d };
  });
  const feeds = (over?: { k: number; data: Float32Array }) => {
    const fd: Record<string, HostTensor> = {};
    base.forEach((t, i) => (fd[`x${i}`] = over && over.k === i ? { ...t, data: over.data } : t));
    return fd;
  };
  const out0 = await session.run(feeds());
  const L = async (k: number, d: Float32Array, step: number): Promise<number> => {
    const x = base[k].data as Float32Array;
    const xp = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) xp[i] = x[i] + step * d[i];
    const yv = (await session.run(feeds({ k, data: xp })))['y'].data as Float32Array;
    let s = 0;
    for (let i = 0; i < yv.length; i++) s += yv[i] * r[i];
    return s;
  };
  let worstRel = 0;
  let di = 0;
  for (let k = 0; k < specs.length; k++) {
    if (specs[k].fixed) continue;
    const gk = out0[`g${di++}`].data as Float32Array;
    assert.equal(gk.length, numel(specs[k].shape), `${label}: gradient ${k} has the input's size`);
    const d = normals(gk.length, seedCounter++);
    let ad = 0;
    let gn = 0;
    let dn = 0;
    for (let i = 0; i < gk.length; i++) {
      ad += gk[i] * d[i];
      gn += gk[i] * gk[i];
      dn += d[i] * d[i];
    }
    const D1 = ((await L(k, d, h)) - (await L(k, d, -h))) / (2 * h);
    const D2 = ((await L(k, d, h / 2)) - (await L(k, d, -h / 2))) / h;
    const fd = (4 * D2 - D1) / 3;
    const scale = Math.max(Math.abs(ad), 0.05 * Math.sqrt(gn * dn), 1e-6);
    const rel = Math.abs(fd - ad) / scale;
    worstRel = Math.max(worstRel, rel);
    assert.ok(rel <= tol, `${label}: input ${k}: autodiff ${ad} vs finite difference ${fd} (rel ${rel.toExponential(2)})`);
  }
  await session.release();
  return worstRel;
}

/** Keeps samples at least `gap` away from each kink. */
const awayFrom =
  (kinks: number[], gap = 0.15) =>
  (v: number) => {
    for (const k of kinks) if (Math.abs(v - k) < gap) return v < k ? k - gap - Math.abs(v - k) : k + gap + Math.abs(v - k);
    return v;
  };

const results: string[] = [];
async function check(label: string, specs: InSpec[], f: (...xs: Value[]) => Value, opts?: { h?: number; tol?: number; graph?: GraphOptionsInit }) {
  const rel = await checkVjp(label, specs, f, opts);
  results.push(`${label}: ${rel.toExponential(1)}`);
}

test('VJP: elementwise ops with broadcasting', async () => {
  await check('add bcast', [{ shape: [2, 3, 4] }, { shape: [3, 1] }], (a, b) => op.add(a, b));
  await check('sub bcast', [{ shape: [3, 1] }, { shape: [2, 3, 4] }], (a, b) => op.sub(a, b));
  await check('mul bcast', [{ shape: [2, 3, 4] }, { shape: [4] }], (a, b) => op.mul(a, b));
  await check('mul scalar', [{ shape: [2, 5] }], (a) => op.mul(a, 1.7));
  await check('div bcast', [{ shape: [2, 3, 4] }, { shape: [1, 3, 1], map: (v) => 1.5 + Math.abs(v) }], (a, b) => op.div(a, b));
  await check('div scalar numerator', [{ shape: [6], map: (v) => 1 + Math.abs(v) }], (a) => op.div(2, a));
  await check('neg', [{ shape: [7] }], (a) => op.neg(a));
  await check('exp', [{ shape: [3, 4] }], (a) => op.exp(a));
  await check('log', [{ shape: [3, 4], map: (v) => 0.5 + Math.abs(v) }], (a) => op.log(a));
  await check('sqrt', [{ shape: [3, 4], map: (v) => 0.5 + Math.abs(v) }], (a) => op.sqrt(a));
  await check('sigmoid', [{ shape: [3, 4] }], (a) => op.sigmoid(a));
  await check('relu', [{ shape: [4, 5], map: awayFrom([0]) }], (a) => op.relu(a));
  await check('erf', [{ shape: [4, 5] }], (a) => op.erf(a));
  await check('clip', [{ shape: [4, 5], map: (v) => awayFrom([-0.5, 0.7])(v) }], (a) => op.clip(a, -0.5, 0.7));
  await check('hardSigmoid', [{ shape: [4, 6], map: (v) => awayFrom([-3, 3])(v * 3) }], (a) => op.hardSigmoid(a));
  await check('maximum (no ties)', [{ shape: [3, 4] }, { shape: [4], map: (v) => v + 0.05 }], (a, b) => op.maximum(a, b));
  await check('silu (fused op)', [{ shape: [3, 4] }], (a) => silu(a));
  await check('silu composite', [{ shape: [3, 4] }], (a) => op.mul(a, op.sigmoid(a)));
  await check('gelu', [{ shape: [3, 4] }], (a) => gelu(a));
  await check('hardSwish', [{ shape: [4, 6], map: (v) => awayFrom([-3, 3])(v * 3) }], (a) => hardSwish(a));
  await check('relu6', [{ shape: [4, 6], map: (v) => awayFrom([0, 6])(v * 4) }], (a) => relu6(a));
});

test('VJP: maximum splits the gradient at ties (torch.maximum)', async () => {
  const g = new Graph();
  const a = g.input('a', [4]);
  const b = g.input('b', [4]);
  const y = op.maximum(a, b);
  const seed = g.constant({ dtype: 'float32', shape: [4], data: new Float32Array([1, 2, 3, 4]) });
  const [ga, gb] = grad([y], [seed], [a, b]);
  const m = lowerToOnnx(g, { outputs: [{ name: 'ga', value: ga! }, { name: 'gb', value: gb! }], params: 'input' });
  const s = await getEngine().createSession(m.bytes, { threads: 1 });
  const out = await s.run({ a: { dtype: 'float32', shape: [4], data: new Float32Array([1, 5, 2, -1]) }, b: { dtype: 'float32', shape: [4], data: new Float32Array([1, 3, 2, 0]) } });
  assert.deepEqual([...(out['ga'].data as Float32Array)], [0.5, 2, 1.5, 0]);
  assert.deepEqual([...(out['gb'].data as Float32Array)], [0.5, 0, 1.5, 4]);
  await s.release();
});

test('VJP: matmul (with batch broadcasting), softmax, log-softmax, reductions', async () => {
  await check('matmul 2d', [{ shape: [3, 4] }, { shape: [4, 5] }], (a, b) => op.matmul(a, b));
  await check('matmul batched', [{ shape: [2, 3, 4] }, { shape: [2, 4, 5] }], (a, b) => op.matmul(a, b));
  await check('matmul bcast batch', [{ shape: [2, 1, 3, 4] }, { shape: [5, 4, 2] }], (a, b) => op.matmul(a, b));
  await check('matmul bcast 2d rhs', [{ shape: [2, 3, 3, 4] }, { shape: [4, 2] }], (a, b) => op.matmul(a, b));
  await check('matmul per-head weights', [{ shape: [3, 1, 2, 4] }, { shape: [2, 4, 5] }], (a, b) => op.matmul(a, b));
  await check('matmul bcast 2d lhs', [{ shape: [3, 4] }, { shape: [2, 3, 4, 2] }], (a, b) => op.matmul(a, b));
  await check('matmul x·Wᵀ', [{ shape: [2, 3, 4] }, { shape: [5, 4] }], (a, b) => op.matmul(a, op.transpose(b, [1, 0])));
  await check('matmul q·kᵀ', [{ shape: [2, 3, 4] }, { shape: [2, 5, 4] }], (a, b) => op.matmul(a, op.transpose(b, [0, 2, 1])));
  await check('matmul aᵀ·b bcast', [{ shape: [4, 3] }, { shape: [2, 4, 5] }], (a, b) => op.matmul(op.transpose(a, [1, 0]), b));
  await check('matmul mixed bcast', [{ shape: [2, 1, 3, 2, 4] }, { shape: [1, 3, 1, 4, 2] }], (a, b) => op.matmul(a, b));
  await check('linear', [{ shape: [2, 3, 4] }, { shape: [5, 4] }, { shape: [5] }], (x, w, b) => linear(x, w, b));
  await check('softmax last', [{ shape: [3, 5] }], (a) => op.softmax(a, -1));
  await check('softmax axis1', [{ shape: [2, 4, 3] }], (a) => op.softmax(a, 1));
  await check('logSoftmax', [{ shape: [3, 6] }], (a) => op.logSoftmax(a, 1));
  await check('reduceSum axis', [{ shape: [2, 3, 4] }], (a) => op.reduceSum(a, [1]));
  await check('reduceSum keepdims', [{ shape: [2, 3, 4] }], (a) => op.reduceSum(a, [0, 2], true));
  await check('reduceSum all', [{ shape: [2, 3] }], (a) => op.reduceSum(a, [0, 1]));
  await check('reduceSum leading axes (as a product with ones)', [{ shape: [32, 16, 20] }], (a) => op.reduceSum(a, [0, 1]));
  await check('reduceSum leading axis keepdims', [{ shape: [600, 17] }], (a) => op.reduceSum(a, [0], true));
  await check('reduceMean', [{ shape: [2, 3, 4, 5] }], (a) => op.reduceMean(a, [2, 3], true));
  await check('reduceMean negative axis', [{ shape: [3, 4] }], (a) => op.reduceMean(a, [-1]));
  await check('reduceMean trailing axes (gradient as a product with ones)', [{ shape: [4, 80, 3, 3] }], (a) => op.reduceMean(a, [2, 3]));
  await check('reduceSum trailing axis, larger', [{ shape: [300, 5] }], (a) => op.reduceSum(a, [1], true));
});

test('VJP: layout ops (reshape, transpose, concat, slice, split, pad, expand, channel shuffle)', async () => {
  await check('reshape', [{ shape: [2, 3, 4] }], (a) => op.reshape(a, [6, 4]));
  await check('transpose', [{ shape: [2, 3, 4, 5] }], (a) => op.transpose(a, [0, 2, 3, 1]));
  await check('transpose of transpose', [{ shape: [2, 3, 4] }], (a) => op.mul(op.transpose(op.transpose(a, [1, 2, 0]), [0, 2, 1]), 1.5));
  await check('transpose moving size-1 axes', [{ shape: [3, 1, 4] }], (a) => op.transpose(a, [1, 0, 2]));
  // pieces used with different weights; the middle one unused (a zero block in the gradient)
  await check('split', [{ shape: [2, 7, 3] }], (a) => {
    const [p, , r] = op.split(a, [2, 1, 4], 1);
    return op.concat([op.mul(p, 2), op.mul(r, -0.5)], 1);
  });
  await check('concat', [{ shape: [2, 3, 4] }, { shape: [2, 1, 4] }, { shape: [2, 2, 4] }], (a, b, c) => op.concat([a, b, c], 1));
  await check('slice', [{ shape: [5, 6] }], (a) => op.slice(a, [1, 2], [4, -1], [0, 1]));
  await check('slice one axis', [{ shape: [2, 7, 3] }], (a) => op.slice(a, [3], [7], [1]));
  await check('pad', [{ shape: [2, 3, 4] }], (a) => op.pad(a, [0, 1, 2], [1, 0, 3]));
  await check('expand', [{ shape: [3, 1] }], (a) => op.expand(a, [2, 3, 4]));
  await check('channelShuffle', [{ shape: [2, 6, 2, 3] }], (a) => channelShuffle(a, 3));
  await check('spaceToDepth', [{ shape: [2, 3, 4, 6] }], (a) => op.spaceToDepth(a));
  await check('depthToSpace', [{ shape: [2, 8, 3, 2] }], (a) => op.depthToSpace(a));
});

interface ConvCase {
  label: string;
  x: number[];
  w: number[];
  stride: [number, number];
  pads: [number, number, number, number];
  groups: number;
  bias?: boolean;
  dilation?: [number, number];
}
const convCases: ConvCase[] = [
  { label: '3x3 s1 p1 g1', x: [2, 3, 7, 6], w: [4, 3, 3, 3], stride: [1, 1], pads: [1, 1, 1, 1], groups: 1, bias: true },
  { label: '3x3 s2 p1 g1 odd', x: [2, 3, 7, 9], w: [4, 3, 3, 3], stride: [2, 2], pads: [1, 1, 1, 1], groups: 1 },
  { label: '3x3 s2 p1 g1 even (stem)', x: [1, 3, 8, 8], w: [5, 3, 3, 3], stride: [2, 2], pads: [1, 1, 1, 1], groups: 1, bias: true },
  { label: '3x3 s2 p0 unread rows', x: [1, 2, 8, 8], w: [3, 2, 3, 3], stride: [2, 2], pads: [0, 0, 0, 0], groups: 1 },
  { label: 'depthwise 3x3 s1', x: [2, 4, 5, 6], w: [4, 1, 3, 3], stride: [1, 1], pads: [1, 1, 1, 1], groups: 4 },
  { label: 'depthwise 3x3 s2 odd', x: [2, 4, 7, 5], w: [4, 1, 3, 3], stride: [2, 2], pads: [1, 1, 1, 1], groups: 4, bias: true },
  { label: 'depthwise x2 multiplier', x: [1, 3, 6, 5], w: [6, 1, 3, 3], stride: [1, 1], pads: [1, 1, 1, 1], groups: 3 },
  { label: 'depthwise 5x5 s2', x: [1, 3, 9, 8], w: [3, 1, 5, 5], stride: [2, 2], pads: [2, 2, 2, 2], groups: 3 },
  { label: 'grouped g2', x: [2, 4, 5, 5], w: [6, 2, 3, 3], stride: [1, 1], pads: [1, 1, 1, 1], groups: 2, bias: true },
  { label: 'grouped g2 s2', x: [1, 4, 6, 7], w: [4, 2, 3, 3], stride: [2, 2], pads: [1, 1, 1, 1], groups: 2 },
  { label: '1x1 s1', x: [2, 5, 4, 3], w: [3, 5, 1, 1], stride: [1, 1], pads: [0, 0, 0, 0], groups: 1, bias: true },
  { label: '1x1 s2', x: [2, 3, 5, 5], w: [4, 3, 1, 1], stride: [2, 2], pads: [0, 0, 0, 0], groups: 1 },
  { label: '1x1 grouped g3', x: [1, 6, 3, 4], w: [9, 2, 1, 1], stride: [1, 1], pads: [0, 0, 0, 0], groups: 3 },
  { label: '1x1 small map (one GEMM over the batch)', x: [2, 16, 1, 2], w: [12, 16, 1, 1], stride: [1, 1], pads: [0, 0, 0, 0], groups: 1, bias: true },
  { label: '1x1 small map grouped g2', x: [2, 16, 2, 1], w: [8, 8, 1, 1], stride: [1, 1], pads: [0, 0, 0, 0], groups: 2 },
  { label: '1x1 small map s2', x: [2, 12, 3, 3], w: [10, 12, 1, 1], stride: [2, 2], pads: [0, 0, 0, 0], groups: 1 },
  { label: 'asym kernel 1x3 asym pads', x: [1, 2, 5, 6], w: [3, 2, 1, 3], stride: [1, 1], pads: [0, 2, 1, 0], groups: 1 },
  { label: 'asym kernel 3x2 stride (2,1)', x: [1, 2, 7, 6], w: [3, 2, 3, 2], stride: [2, 1], pads: [1, 0, 0, 1], groups: 1 },
  { label: 'asym pads depthwise s2', x: [1, 3, 6, 7], w: [3, 1, 3, 3], stride: [2, 2], pads: [0, 1, 1, 0], groups: 3 },
  { label: 'depthwise 3x2 stride (2,1) p0 unread rows', x: [2, 3, 8, 6], w: [3, 1, 3, 2], stride: [2, 1], pads: [0, 0, 0, 1], groups: 3 },
  // dilation (DeepLabv3 ASPP, dilated MobileViT layers): pads = d·(k−1)/2, pads beyond the map (centre tap only)
  { label: 'dilated 3x3 d2 p2', x: [2, 3, 7, 6], w: [4, 3, 3, 3], stride: [1, 1], pads: [2, 2, 2, 2], groups: 1, bias: true, dilation: [2, 2] },
  { label: 'dilated 3x3 d6 p6 (pads beyond a 5x4 map)', x: [1, 3, 5, 4], w: [2, 3, 3, 3], stride: [1, 1], pads: [6, 6, 6, 6], groups: 1, dilation: [6, 6] },
  { label: 'dilated 3x3 d3 p3 on 8x3 (active along H only)', x: [1, 2, 8, 3], w: [3, 2, 3, 3], stride: [1, 1], pads: [3, 3, 3, 3], groups: 1, dilation: [3, 3] },
  { label: 'depthwise dilated 3x3 d2 p2', x: [2, 4, 6, 5], w: [4, 1, 3, 3], stride: [1, 1], pads: [2, 2, 2, 2], groups: 4, bias: true, dilation: [2, 2] },
  { label: 'depthwise dilated 3x3 d4 p4', x: [1, 3, 6, 7], w: [3, 1, 3, 3], stride: [1, 1], pads: [4, 4, 4, 4], groups: 3, dilation: [4, 4] },
  { label: 'dilated asym (2,1) stride 2 asym pads', x: [1, 2, 9, 7], w: [3, 2, 3, 2], stride: [2, 2], pads: [2, 1, 1, 0], groups: 1, dilation: [2, 1] },
  { label: 'depthwise dilated d2 stride 2 odd', x: [2, 3, 9, 8], w: [3, 1, 3, 3], stride: [2, 2], pads: [2, 2, 2, 2], groups: 3, dilation: [2, 2] },
];

test('VJP: conv2d (strides 1/2, groups 1/depthwise/grouped, odd sizes, asymmetric kernels and pads), every gradient lowering', async () => {
  for (const lw of [
    { stridedInput: 'convTranspose', depthwiseWeight: 'conv', denseWeight: 'conv', denseDepthwiseMaxMatrix: 0 },
    { stridedInput: 'zeroInsert', depthwiseWeight: 'taps', denseWeight: 'taps', denseDepthwiseMaxMatrix: 0 },
    { stridedInput: 'convTranspose', depthwiseWeight: 'rows', denseWeight: 'conv', denseDepthwiseMaxMatrix: 0 },
    // training graphs: depthwise convs as per-channel dense matrices (./depthwise_dense.ts)
    { stridedInput: 'convTranspose', depthwiseWeight: 'auto', denseWeight: 'conv', denseDepthwiseMaxMatrix: Infinity },
  ] as ConvLowering[]) {
    const dense = lw.denseDepthwiseMaxMatrix > 0;
    for (const c of convCases) {
      const specs: InSpec[] = [{ shape: c.x }, { shape: c.w }];
      if (c.bias) specs.push({ shape: [c.w[0]] });
      const label = `conv ${c.label} [${lw.stridedInput}, weight ${lw.depthwiseWeight}/${lw.denseWeight}${dense ? ', dense depthwise' : ''}]`;
      const graph: GraphOptionsInit = { mode: dense ? 'train' : 'eval', lowering: { conv: lw } };
      await check(label, specs, (x, w, b) => op.conv2d(x, w, b ?? null, { stride: c.stride, pads: c.pads, groups: c.groups, ...(c.dilation ? { dilation: c.dilation } : {}) }), { graph });
    }
  }
});

test('depthwise conv as per-channel dense matrices equals the engine Conv (training graphs)', async () => {
  {
    for (const c of convCases.filter((k) => k.w[1] === 1 && k.w[0] === k.x[1])) {
      const g = new Graph({ mode: 'train', lowering: { conv: { denseDepthwiseMaxMatrix: Infinity } } });
      const x = g.input('x', c.x);
      const w = g.input('w', c.w);
      const a = { stride: c.stride, pads: c.pads, groups: c.groups, ...(c.dilation ? { dilation: c.dilation } : {}) };
      const dense = op.conv2d(x, w, null, a);
      assert.notEqual(dense.node?.op, op.Conv2dOp, `${c.label}: the dense form is used`);
      const ref = g.apply1(op.Conv2dOp, [x, w], a);
      const model = lowerToOnnx(g, { outputs: [{ name: 'dense', value: dense }, { name: 'ref', value: ref }], params: 'input' });
      const session = await getEngine().createSession(model.bytes, { threads: 1 });
      const out = await session.run({ x: { dtype: 'float32', shape: c.x, data: normals(numel(c.x), 11) }, w: { dtype: 'float32', shape: c.w, data: normals(numel(c.w), 12) } });
      await session.release();
      assert.deepEqual(out.dense.shape, out.ref.shape);
      const d = out.dense.data as Float32Array;
      const r = out.ref.data as Float32Array;
      for (let i = 0; i < r.length; i++) assert.ok(Math.abs(d[i] - r[i]) <= 1e-5 * (1 + Math.abs(r[i])), `${c.label}: element ${i}: ${d[i]} vs ${r[i]}`);
    }
  }
});

test('VJP: normalisation (layerNorm, batchNorm eval and train) and bilinear resize', async () => {
  await check('layerNorm last axis affine', [{ shape: [2, 3, 8] }, { shape: [8] }, { shape: [8] }], (x, w, b) => op.layerNorm(x, w, b, -1, 1e-5));
  await check('layerNorm axis 1 (GroupNorm(1))', [{ shape: [2, 3, 2, 4] }], (x) => op.layerNorm(x, null, null, 1, 1e-5));
  await check(
    'batchNormEval',
    [{ shape: [2, 3, 4, 2] }, { shape: [3] }, { shape: [3] }, { shape: [3], fixed: true }, { shape: [3], fixed: true, data: new Float32Array([0.5, 1.2, 2]) }],
    (x, w, b, m, v) => op.batchNormEval(x, w, b, m, v, 1e-5),
  );
  const bnTrain = (x: Value, w: Value, b: Value, m: Value, v: Value) => batchNormTrain(x, { weight: w, bias: b, runningMean: m, runningVar: v }, 1e-5, 0.1).y;
  await check(
    'batchNormTrain 2d',
    [{ shape: [2, 3, 3, 2] }, { shape: [3] }, { shape: [3] }, { shape: [3], fixed: true }, { shape: [3], fixed: true, data: new Float32Array([1, 1, 1]) }],
    bnTrain,
  );
  await check(
    'batchNormTrain 1d',
    [{ shape: [4, 5] }, { shape: [5] }, { shape: [5] }, { shape: [5], fixed: true }, { shape: [5], fixed: true, data: new Float32Array(5).fill(1) }],
    bnTrain,
  );
  const bnComp = (x: Value, w: Value, b: Value, m: Value, v: Value) => batchNormTrainComposite(x, { weight: w, bias: b, runningMean: m, runningVar: v }, 1e-5, 0.1).y;
  await check(
    'batchNormTrain composite (reference)',
    [{ shape: [2, 3, 3, 2] }, { shape: [3] }, { shape: [3] }, { shape: [3], fixed: true }, { shape: [3], fixed: true, data: new Float32Array([1, 1, 1]) }],
    bnComp,
  );
  await check('channelAffine', [{ shape: [2, 3, 2, 2] }, { shape: [3] }, { shape: [3] }], (x, s, b) => op.channelAffine(x, s, b));
  await check('channelAffine 2d', [{ shape: [4, 3] }, { shape: [3] }, { shape: [3] }], (x, s, b) => op.channelAffine(x, s, b));
  await check('resize up align_corners=false', [{ shape: [1, 2, 3, 5] }], (x) => resizeBilinear(x, 4, 6, false));
  await check('resize down odd align_corners=false', [{ shape: [2, 2, 6, 6] }], (x) => resizeBilinear(x, 3, 5, false));
  await check('resize align_corners=true', [{ shape: [1, 3, 5, 3] }], (x) => resizeBilinear(x, 6, 4, true));
  await check('resize nearest 2x (FPN top-down)', [{ shape: [2, 3, 3, 4] }], (x) => op.resizeNearest(x, 6, 8));
  await check('resize nearest, uneven factors', [{ shape: [1, 2, 3, 5] }], (x) => op.resizeNearest(x, 7, 8));
  await check('resize nearest down', [{ shape: [1, 2, 6, 5] }], (x) => op.resizeNearest(x, 4, 3));
});

test('resizeNearest reads torch legacy nearest source indices (floor(dst·in/out)) in the engine', async () => {
  for (const [h, w, oh, ow] of [[3, 4, 6, 8], [3, 5, 7, 8], [6, 5, 4, 3], [5, 7, 10, 13]]) {
    const g = new Graph();
    const x = g.input('x', [1, 1, h, w]);
    const model = lowerToOnnx(g, { outputs: [{ name: 'y', value: op.resizeNearest(x, oh, ow) }], params: 'input' });
    const session = await getEngine().createSession(model.bytes, { threads: 1 });
    const data = Float32Array.from({ length: h * w }, (_, i) => i);
    const y = (await session.run({ x: { dtype: 'float32', shape: [1, 1, h, w], data } }))['y'].data as Float32Array;
    for (let i = 0; i < oh; i++) for (let j = 0; j < ow; j++) {
      const want = op.nearestSource(i, h, oh) * w + op.nearestSource(j, w, ow);
      assert.equal(y[i * ow + j], want, `${h}x${w}->${oh}x${ow} at (${i}, ${j})`);
    }
    await session.release();
  }
});

test('VJP: losses (label-smoothed cross-entropy from int labels, soft targets)', async () => {
  const labels = new BigInt64Array([2n, 0n, 4n]);
  await check('crossEntropy smoothing 0.1', [{ shape: [3, 5] }, { shape: [3], dtype: 'int64', fixed: true, data: labels }], (z, y) => crossEntropy(z, y, 0.1));
  await check('crossEntropy no smoothing', [{ shape: [3, 5] }, { shape: [3], dtype: 'int64', fixed: true, data: labels }], (z, y) => crossEntropy(z, y, 0));
  const q = new Float32Array([0.7, 0.1, 0.1, 0.05, 0.05, 0, 0, 1, 0, 0, 0.2, 0.2, 0.2, 0.2, 0.2]);
  await check('softTargetCrossEntropy', [{ shape: [3, 5] }, { shape: [3, 5], fixed: true, data: q }], (z, t) => softTargetCrossEntropy(z, t));
  console.log(`VJP finite-difference worst relative errors:\n  ${results.join('\n  ')}`);
});

test('fused train-mode BatchNorm matches the composite (output, running statistics)', async () => {
  for (const shape of [[4, 3, 5, 2], [6, 5]]) {
    const g = new Graph();
    const c = shape[1];
    const x = g.input('x', shape);
    const p = { weight: g.input('w', [c]), bias: g.input('b', [c]), runningMean: g.input('m', [c]), runningVar: g.input('v', [c]) };
    const a = batchNormTrain(x, p, 1e-5, 0.1);
    const b = batchNormTrainComposite(x, p, 1e-5, 0.1);
    const outs = [
      { name: 'ya', value: a.y },
      { name: 'yb', value: b.y },
      { name: 'ma', value: a.mean },
      { name: 'mb', value: b.mean },
      { name: 'va', value: a.var },
      { name: 'vb', value: b.var },
    ];
    const s = await getEngine().createSession(lowerToOnnx(g, { outputs: outs, params: 'input' }).bytes, { threads: 1 });
    const xd = normals(numel(shape), 77);
    for (let i = 0; i < xd.length; i++) xd[i] = 3 + 2 * xd[i]; // a mean well away from 0
    const vec = (seed: number, off: number) => ({ dtype: 'float32' as const, shape: [c], data: normals(c, seed).map((v) => off + 0.2 * v) });
    const out = await s.run({ x: { dtype: 'float32', shape, data: xd }, w: vec(1, 1), b: vec(2, 0), m: vec(3, 0), v: vec(4, 1) });
    for (const k of ['y', 'm', 'v']) {
      const A = out[`${k}a`].data as Float32Array;
      const B = out[`${k}b`].data as Float32Array;
      for (let i = 0; i < A.length; i++) assert.ok(Math.abs(A[i] - B[i]) <= 2e-6 * (1 + Math.abs(B[i])), `${k}[${i}]: ${A[i]} vs ${B[i]}`);
    }
    await s.release();
  }
});

test('dropout / drop-path: seeded in-graph masks, gradient through the mask, identity outside training builds', async () => {
  const g = new Graph({ mode: 'train', dropout: { seed: 9 } });
  const x = g.input('x', [4, 64, 32]);
  const d = op.dropoutSeeded(x, 0.25, 1234);
  const seedT = g.constant({ dtype: 'float32', shape: [4, 64, 32], data: normals(4 * 64 * 32, 5) });
  const [gx] = grad([d.y], [seedT], [x]);
  const dp = op.dropPath(x, 0.5);
  const outs = [
    { name: 'y', value: d.y },
    { name: 'm', value: d.mask },
    { name: 'gx', value: gx! },
    { name: 'dp', value: dp },
  ];
  const bytes = lowerToOnnx(g, { outputs: outs, params: 'input' }).bytes;
  const s1 = await getEngine().createSession(bytes, { threads: 1 });
  const s2 = await getEngine().createSession(bytes, { threads: 1 });
  const xd = normals(4 * 64 * 32, 3).map((v) => v + 5); // no zeros in x
  const feed = { x: { dtype: 'float32' as const, shape: [4, 64, 32], data: xd } };
  const a1 = await s1.run(feed);
  const a2 = await s1.run(feed);
  const b1 = await s2.run(feed);
  const y = a1['y'].data as Float32Array;
  const m = a1['m'].data as Float32Array;
  const gxd = a1['gx'].data as Float32Array;
  const sd = seedT.graph.consts.get(seedT.id)!.data as Float32Array;
  let zeros = 0;
  for (let i = 0; i < y.length; i++) {
    assert.ok(m[i] === 0 || Math.abs(m[i] - 1 / 0.75) < 1e-6);
    assert.ok(Math.abs(y[i] - xd[i] * m[i]) < 1e-5 * Math.abs(xd[i]));
    assert.ok(Math.abs(gxd[i] - sd[i] * m[i]) < 1e-5 * (1 + Math.abs(sd[i])));
    if (m[i] === 0) zeros++;
  }
  const frac = zeros / y.length;
  assert.ok(Math.abs(frac - 0.25) < 0.03, `dropped fraction ${frac}`);
  assert.ok(maxAbsDiff(m, a2['m'].data as Float32Array) > 0, 'a new mask at every run');
  assert.equal(maxAbsDiff(m, b1['m'].data as Float32Array), 0, 'the same seed gives the same sequence');
  // drop-path zeroes whole samples
  const dpd = a1['dp'].data as Float32Array;
  const per = 64 * 32;
  for (let b = 0; b < 4; b++) {
    const r = dpd[b * per] / xd[b * per];
    assert.ok(Math.abs(r) < 1e-6 || Math.abs(r - 2) < 1e-5, `sample ${b} scale ${r}`);
    for (let i = 1; i < per; i += 97) assert.ok(Math.abs(dpd[b * per + i] - r * xd[b * per + i]) < 1e-4);
  }
  await s1.release();
  await s2.release();
  // outside a train-mode graph with dropout on, dropout is the identity
  const z0 = (o: GraphOptionsInit) => new Graph(o).input('z', [2, 3]);
  for (const o of [{}, { mode: 'train' }, { mode: 'eval', dropout: { seed: 1 } }, { mode: 'train', dropout: { seed: 1, scale: 0 } }] as GraphOptionsInit[]) {
    const z = z0(o);
    assert.equal(op.dropout(z, 0.5), z, JSON.stringify(o));
  }
  const z = z0({ mode: 'train', dropout: { seed: 1 } });
  assert.notEqual(op.dropout(z, 0.5), z);
});

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
