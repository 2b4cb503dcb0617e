/**
 * int8 export of a lowered model (standard ONNX ops; onnxruntime-node and onnxruntime-web run them):
 * - MatMul by a constant matrix: dynamic quantization. DynamicQuantizeLinear (uint8, per tensor, at
 *   run time) -> MatMulInteger with the weight as int8, symmetric, one scale per output column (and
 *   per batch slice of a batched weight) ->
 *   Cast -> Mul by (activation scale x column scales). The engine fuses the chain into one kernel.
 * - Conv with constant weights (BatchNorm folded first): static QDQ. Weights int8 symmetric per
 *   output channel, bias int32 at scale x_scale*w_scale, activations uint8 with ranges calibrated
 *   on a few images; Q/DQ pairs around each Conv, which the engine turns into QLinearConv.
 * - Or, with `convs: 'weights'` (`export --dtype q8-weights`), convolutions keep float activations:
 *   their weights are stored int8 per output channel and widened by Cast · scale, which the engine
 *   folds at session start, as it folds fp16's Casts. The file is as small; the convolutions run in
 *   float32. On this CPU (no int8 dot-product instructions) the QDQ convolutions made Mobile-Former-26M
 *   2.6-3.1x slower than fp32 and MobileViTv3-XXS 1.2-1.3x; folded int8 weights ran at 0.97-0.99x.
 * Everything else (attention products, norms, activations) stays float32.
 */
import { HybridVisionError } from '../tensor.js';
import { foldConstants } from './fold.js';
import { DT, floatsOf, floatTensor, GraphIndex, node, numelOf, prune, tensor, type ModelP, type NodeP, type TensorP } from './proto.js';

export interface Range {
  min: number;
  max: number;
}

/** Folds constants in place and lists the tensors whose ranges the conv quantization needs. */
export function q8CalibrationTargets(m: ModelP): string[] {
  foldConstants(m);
  const ix = new GraphIndex(m.graph);
  const names = new Set<string>();
  for (const n of m.graph.node) {
    if (n.opType === 'Conv' && isConstFloat(ix, n.input[1])) names.add(n.input[0]).add(n.output[0]);
  }
  return [...names];
}

/** A copy of the model that also outputs `names` (for calibration runs). */
export function withExtraOutputs(m: ModelP, names: string[]): ModelP {
  const have = new Set(m.graph.output.map((o) => o.name));
  const extra = names.filter((n) => !have.has(n)).map((name) => ({ name, type: { tensorType: { elemType: DT.float, shape: { dim: [] } } } }));
  // no shape: the engine infers it
  for (const e of extra) delete (e.type.tensorType as { shape?: unknown }).shape;
  return { ...m, graph: { ...m.graph, output: [...m.graph.output, ...extra] } };
}

const isConstFloat = (ix: GraphIndex, name: string | undefined): TensorP | undefined => {
  const t = name ? ix.inits.get(name) : undefined;
  return t && t.dataType === DT.float ? t : undefined;
};

function uint8Params(r: Range): { scale: number; zp: number } {
  const lo = Math.min(0, r.min);
  const hi = Math.max(0, r.max);
  const scale = hi > lo ? (hi - lo) / 255 : 1;
  return { scale, zp: Math.max(0, Math.min(255, Math.round(-lo / scale))) };
}

/**
 * int8 symmetric with one scale per slice along `reduce` (0 < reduce < rank): the scale tensor has
 * the weight's dims with dims[reduce] = 1. Conv weights reduce over everything but axis 0 (pass
 * reduce = -1); MatMul weights [..., K, N] reduce over K.
 */
function int8Symmetric(w: Float32Array, dims: number[], reduce: number): { q: Int8Array; scale: Float32Array; scaleDims: number[] } {
  const outer = reduce < 0 ? dims[0] : dims.slice(0, reduce).reduce((a, b) => a * b, 1);
  const k = reduce < 0 ? w.length / dims[0] : dims[reduce];
  const inner = reduce < 0 ? 1 : dims.slice(reduce + 1).reduce((a, b) => a * b, 1);
  const scale = new Float32Array(outer * inner);
  const q = new Int8Array(w.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const at = (j: number) => (o * k + j) * inner + i;
      let m = 0;
      for (let j = 0; j < k; j++) m = Math.max(m, Math.abs(w[at(j)]));
      const s = m > 0 ? m / 127 : 1;
      scale[o * inner + i] = s;
      for (let j = 0; j < k; j++) q[at(j)] = Math.max(-127, Math.min(127, Math.round(w[at(j)] / s)));
    }
  }
  const scaleDims = reduce < 0 ? [dims[0]] : dims.map((d, i) => (i === reduce ? 1 : d));
  return { q, scale, scaleDims };
}

export interface Q8Report {
  matmuls: number;
  convs: number;
}

/** How q8 treats convolutions: 'static', QDQ with calibrated activation ranges; 'weights', int8 weights only. */
export type Q8Convs = 'static' | 'weights';

/**
 * Rewrites in place (after q8CalibrationTargets, which also folds constants); `ranges` holds each
 * calibration target's range ('static' convolutions only: 'weights' needs none).
 */
export function applyQ8(m: ModelP, ranges: Map<string, Range>, convs: Q8Convs = 'static'): Q8Report {
  const g = m.graph;
  const ix = new GraphIndex(g);
  const inits: TensorP[] = [];
  const out: NodeP[] = [];
  const dq = new Map<string, string>(); // float tensor -> its Q/DQ'd copy
  const report: Q8Report = { matmuls: 0, convs: 0 };
  const zero8 = 'q8_zero_int8';
  inits.push(tensor(zero8, DT.int8, [], new Int8Array(1)));

  const qdq = (name: string, into?: string): string => {
    const known = dq.get(name);
    if (known) return known;
    const r = ranges.get(name);
    if (!r) throw new HybridVisionError(`q8: no calibration range for ${name}`);
    const { scale, zp } = uint8Params(r);
    const s = `${name}__qs`;
    const z = `${name}__qz`;
    inits.push(floatTensor(s, [scale], []), tensor(z, DT.uint8, [], Uint8Array.of(zp)));
    const target = into ?? `${name}__dq`;
    out.push(node('QuantizeLinear', [name, s, z], [`${name}__q`]), node('DequantizeLinear', [`${name}__q`, s, z], [target]));
    dq.set(into ?? name, target);
    return target;
  };

  for (const n of g.node) {
    const w = isConstFloat(ix, n.input[1]);
    if (n.opType === 'MatMul' && w && w.dims!.length >= 2) {
      const { q, scale, scaleDims } = int8Symmetric(floatsOf(w), w.dims!, w.dims!.length - 2);
      const y = n.output[0];
      const wq = `${n.input[1]}__q8`;
      const ws = `${n.input[1]}__q8s`;
      inits.push(tensor(wq, DT.int8, w.dims!, q), floatTensor(ws, scale, scaleDims.length === 2 ? [scaleDims[1]] : scaleDims));
      out.push(
        node('DynamicQuantizeLinear', [n.input[0]], [`${y}__aq`, `${y}__as`, `${y}__az`]),
        node('MatMulInteger', [`${y}__aq`, wq, `${y}__az`, zero8], [`${y}__i32`]),
        node('Cast', [`${y}__i32`], [`${y}__f`], { to: DT.float }),
        node('Mul', [`${y}__as`, ws], [`${y}__s`]),
        node('Mul', [`${y}__f`, `${y}__s`], [y]),
      );
      report.matmuls++;
      continue;
    }
    if (n.opType === 'Conv' && w && convs === 'weights') {
      const { q, scale } = int8Symmetric(floatsOf(w), w.dims!, -1);
      const wq = `${n.input[1]}__q8`;
      const ws = `${n.input[1]}__q8s`;
      inits.push(tensor(wq, DT.int8, w.dims!, q), floatTensor(ws, scale, [w.dims![0], ...w.dims!.slice(1).map(() => 1)]));
      out.push(node('Cast', [wq], [`${wq}__f`], { to: DT.float }), node('Mul', [`${wq}__f`, ws], [`${wq}__dq`]));
      out.push({ ...n, input: [n.input[0], `${wq}__dq`, ...n.input.slice(2)] });
      report.convs++;
      continue;
    }
    if (n.opType === 'Conv' && w) {
      const cout = w.dims![0];
      const { q, scale } = int8Symmetric(floatsOf(w), w.dims!, -1);
      const xs = uint8Params(ranges.get(n.input[0]) ?? { min: NaN, max: NaN }).scale;
      const bias = n.input[2] ? isConstFloat(ix, n.input[2]) : undefined;
      if (n.input[2] && !bias) {
        out.push(n);
        continue;
      }
      const xin = qdq(n.input[0]);
      const wq = `${n.input[1]}__q8`;
      const ws = `${n.input[1]}__q8s`;
      const wz = `${n.input[1]}__q8z`;
      inits.push(tensor(wq, DT.int8, w.dims!, q), floatTensor(ws, scale, [cout]), tensor(wz, DT.int8, [cout], new Int8Array(cout)));
      out.push(node('DequantizeLinear', [wq, ws, wz], [`${wq}__dq`], { axis: 0 }));
      const inputs = [xin, `${wq}__dq`];
      if (bias) {
        const b = floatsOf(bias);
        const bs = scale.map((s) => s * xs);
        const bq = Int32Array.from(b, (v, c) => Math.round(v / bs[c]));
        const bn = `${n.input[2]}__q32`;
        inits.push(tensor(bn, DT.int32, [cout], bq), floatTensor(`${bn}s`, bs, [cout]), tensor(`${bn}z`, DT.int32, [cout], new Int32Array(cout)));
        out.push(node('DequantizeLinear', [bn, `${bn}s`, `${bn}z`], [`${bn}__dq`], { axis: 0 }));
        inputs.push(`${bn}__dq`);
      }
      const y = n.output[0];
      out.push({ ...n, input: inputs, output: [`${y}__f`] });
      // the conv's output, quantized, under its old name for every consumer
      const r = ranges.get(y);
      if (!r) throw new HybridVisionError(`q8: no calibration range for ${y}`);
      dq.delete(y);
      ranges.set(`${y}__f`, r);
      qdq(`${y}__f`, y);
      dq.set(y, y);
      report.convs++;
      continue;
    }
    out.push(n);
  }
  g.node = out;
  g.initializer.push(...inits);
  prune(g);
  return report;
}

export const q8Size = (m: ModelP): number => m.graph.initializer.reduce((a, t) => a + (t.rawData?.length ?? numelOf(t) * 4), 0);
