/**
 * Constant folding on a lowered model, for the transforms that need weights in their final layout:
 * Transpose / Reshape / Slice of a float initializer, Add / Sub / Mul / Div of two (numpy
 * broadcasting) and a 2-D MatMul of two become initializers, and a BatchNormalization (inference
 * form) right after a Conv with constant weights folds into that Conv's weight and bias.
 * The engine does the same at session start for fp32 graphs; the q8 transform needs it done before
 * it quantizes (a folded weight, not a weight then a float affine map).
 */
import { broadcastShapes } from '../graph/ir.js';
import { attrOf, floatsOf, floatTensor, GraphIndex, int64sOf, numelOf, prune, type ModelP, type NodeP, type TensorP } from './proto.js';

function transposeData(x: Float32Array, dims: number[], perm: number[]): { data: Float32Array; dims: number[] } {
  const out = perm.map((p) => dims[p]);
  const inStride = dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));
  const y = new Float32Array(x.length);
  const idx = new Array(out.length).fill(0);
  for (let o = 0; o < y.length; o++) {
    let src = 0;
    for (let k = 0; k < out.length; k++) src += idx[k] * inStride[perm[k]];
    y[o] = x[src];
    for (let k = out.length - 1; k >= 0; k--) {
      if (++idx[k] < out[k]) break;
      idx[k] = 0;
    }
  }
  return { data: y, dims: out };
}

function sliceData(x: Float32Array, dims: number[], starts: number[], ends: number[], axes: number[]): { data: Float32Array; dims: number[] } {
  const lo = dims.map(() => 0);
  const hi = [...dims];
  axes.forEach((a0, i) => {
    const a = a0 < 0 ? a0 + dims.length : a0;
    const clamp = (v: number) => Math.max(0, Math.min(dims[a], v < 0 ? v + dims[a] : v));
    lo[a] = clamp(starts[i]);
    hi[a] = Math.max(lo[a], clamp(ends[i]));
  });
  const out = dims.map((_, i) => hi[i] - lo[i]);
  const stride = dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));
  const y = new Float32Array(out.reduce((a, b) => a * b, 1));
  const idx = new Array(out.length).fill(0);
  for (let o = 0; o < y.length; o++) {
    let src = 0;
    for (let k = 0; k < out.length; k++) src += (idx[k] + lo[k]) * stride[k];
    y[o] = x[src];
    for (let k = out.length - 1; k >= 0; k--) {
      if (++idx[k] < out[k]) break;
      idx[k] = 0;
    }
  }
  return { data: y, dims: out };
}

const ELEMENTWISE: Record<string, (a: number, b: number) => number> = {
  Add: (a, b) => a + b,
  Sub: (a, b) => a - b,
  Mul: (a, b) => a * b,
  Div: (a, b) => a / b,
};

/** f(a, b) elementwise with numpy broadcasting, in float32 as the engine computes it. */
function broadcastData(a: Float32Array, ad: number[], b: Float32Array, bd: number[], f: (a: number, b: number) => number): { data: Float32Array; dims: number[] } {
  const dims = broadcastShapes('constant folding', ad, bd);
  const rank = dims.length;
  const pad = (d: number[]) => [...new Array(rank - d.length).fill(1), ...d];
  const [pa, pb] = [pad(ad), pad(bd)];
  const strides = (d: number[]) => d.map((n, i) => (n === 1 ? 0 : d.slice(i + 1).reduce((x, y) => x * y, 1)));
  const [sa, sb] = [strides(pa), strides(pb)];
  const y = new Float32Array(dims.reduce((x, n) => x * n, 1));
  const idx = new Array(rank).fill(0);
  for (let o = 0; o < y.length; o++) {
    let ia = 0;
    let ib = 0;
    for (let k = 0; k < rank; k++) {
      ia += idx[k] * sa[k];
      ib += idx[k] * sb[k];
    }
    y[o] = f(a[ia], b[ib]);
    for (let k = rank - 1; k >= 0; k--) {
      if (++idx[k] < dims[k]) break;
      idx[k] = 0;
    }
  }
  return { data: y, dims };
}

function matmul2d(a: Float32Array, [m, k]: number[], b: Float32Array, n: number): Float32Array {
  const y = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let p = 0; p < k; p++) acc += a[i * k + p] * b[p * n + j];
      y[i * n + j] = acc;
    }
  }
  return y;
}

function reshapeDims(dims: number[], shape: number[]): number[] {
  const n = dims.reduce((a, b) => a * b, 1);
  const s = shape.map((d, i) => (d === 0 ? dims[i] : d));
  const known = s.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  return s.map((d) => (d === -1 ? n / known : d));
}

const isFloatInit = (ix: GraphIndex, name: string): TensorP | undefined => {
  const t = ix.inits.get(name);
  return t && t.dataType === 1 ? t : undefined;
};

/** Folds in place; returns the number of nodes removed. */
export function foldConstants(m: ModelP): number {
  const g = m.graph;
  const before = g.node.length;
  let changed = true;
  while (changed) {
    changed = false;
    const ix = new GraphIndex(g);
    const drop = new Set<NodeP>();
    for (const n of g.node) {
      const w = isFloatInit(ix, n.input[0]);
      if (n.opType === 'Transpose' && w) {
        const dims = w.dims ?? [];
        const perm = attrOf(n, 'perm')?.ints ?? dims.map((_, i) => dims.length - 1 - i);
        const t = transposeData(floatsOf(w), dims, perm);
        g.initializer.push(floatTensor(n.output[0], t.data, t.dims));
        drop.add(n);
      } else if (n.opType === 'Reshape' && w && ix.inits.has(n.input[1])) {
        g.initializer.push(floatTensor(n.output[0], floatsOf(w), reshapeDims(w.dims ?? [], int64sOf(ix.inits.get(n.input[1])!))));
        drop.add(n);
      } else if (n.opType === 'Slice' && w && n.input.slice(1).every((k) => !k || ix.inits.has(k))) {
        const [starts, ends, axes, steps] = [1, 2, 3, 4].map((i) => (n.input[i] ? int64sOf(ix.inits.get(n.input[i])!) : null));
        if (steps?.some((s) => s !== 1)) continue;
        const t = sliceData(floatsOf(w), w.dims ?? [], starts!, ends!, axes ?? starts!.map((_, i) => i));
        g.initializer.push(floatTensor(n.output[0], t.data, t.dims));
        drop.add(n);
      } else if (n.opType in ELEMENTWISE && w && isFloatInit(ix, n.input[1])) {
        const b = isFloatInit(ix, n.input[1])!;
        const t = broadcastData(floatsOf(w), w.dims ?? [], floatsOf(b), b.dims ?? [], ELEMENTWISE[n.opType]);
        g.initializer.push(floatTensor(n.output[0], t.data, t.dims));
        drop.add(n);
      } else if (n.opType === 'MatMul' && w?.dims?.length === 2 && isFloatInit(ix, n.input[1])?.dims?.length === 2) {
        const b = isFloatInit(ix, n.input[1])!;
        g.initializer.push(floatTensor(n.output[0], matmul2d(floatsOf(w), w.dims, floatsOf(b), b.dims![1]), [w.dims[0], b.dims![1]]));
        drop.add(n);
      } else if (n.opType === 'BatchNormalization' && n.output.length === 1) {
        const conv = ix.producer.get(n.input[0]);
        const cw = conv?.opType === 'Conv' ? isFloatInit(ix, conv.input[1]) : undefined;
        const p = n.input.slice(1).map((k) => isFloatInit(ix, k));
        if (!conv || !cw || p.some((t) => !t) || !ix.soleUse(n.input[0], n) || ix.consumers.get(conv.input[1])!.length !== 1) continue;
        const [scale, bias, mean, v] = p.map((t) => floatsOf(t!));
        const eps = attrOf(n, 'epsilon')?.f ?? 1e-5;
        const cout = cw.dims![0];
        const per = numelOf(cw) / cout;
        const wd = floatsOf(cw).slice();
        const cb = conv.input[2] ? floatsOf(isFloatInit(ix, conv.input[2]) ?? floatTensor('', new Float32Array(cout))) : new Float32Array(cout);
        if (conv.input[2] && !isFloatInit(ix, conv.input[2])) continue;
        const nb = new Float32Array(cout);
        for (let c = 0; c < cout; c++) {
          const k = scale[c] / Math.sqrt(v[c] + eps);
          for (let j = 0; j < per; j++) wd[c * per + j] *= k;
          nb[c] = (cb[c] - mean[c]) * k + bias[c];
        }
        const wName = `${conv.input[1]}_bnfolded`;
        const bName = `${n.output[0]}_bnbias`;
        g.initializer.push(floatTensor(wName, wd, cw.dims), floatTensor(bName, nb, [cout]));
        conv.input = [conv.input[0], wName, bName];
        conv.output = [n.output[0]];
        drop.add(n);
      }
    }
    if (drop.size) {
      g.node = g.node.filter((n) => !drop.has(n));
      changed = true;
    }
  }
  prune(g);
  return before - g.node.length;
}
