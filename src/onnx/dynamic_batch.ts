/**
 * One graph for any batch, made from two lowerings of the same model at two batch sizes: every
 * int64 constant that differs between them must be an exact multiple of the batch, element by
 * element (reshape/expand/slice shapes); it becomes base + batch * k, computed at run time from the
 * input's leading dimension. Input and output dims that follow the batch become the symbolic
 * 'batch'. Any other difference (node structure, attributes, float constants) is refused: the
 * graph then really depends on the batch and needs the IR to carry a symbolic dimension.
 * The two batch sizes should be values no other constant holds (the lowering shares equal int
 * constants, so a coincidence would change names); DYNAMIC_BATCH_PROBES are such values.
 */
import { HybridVisionError } from '../tensor.js';
import { DT, int64sOf, int64Tensor, node, type ModelP, type NodeP, type TensorP } from './proto.js';

export const DYNAMIC_BATCH_PROBES: [number, number] = [97, 101];

const sameBytes = (a: TensorP, b: TensorP): boolean => {
  const x = a.rawData ?? new Uint8Array();
  const y = b.rawData ?? new Uint8Array();
  return a.dataType === b.dataType && JSON.stringify(a.dims) === JSON.stringify(b.dims) && x.length === y.length && x.every((v, i) => v === y[i]) && JSON.stringify(a.floatData ?? a.int64Data) === JSON.stringify(b.floatData ?? b.int64Data);
};

const nodeKey = (n: NodeP): string => JSON.stringify([n.opType, n.domain ?? '', n.input, n.output, (n.attribute ?? []).map((a) => [a.name, a.i, a.f, a.ints, a.floats, a.s ? [...a.s] : null, a.t ? [a.t.dims, a.t.rawData ? [...a.t.rawData] : null] : null])]);

export function dynamicBatch(a: ModelP, b: ModelP, batches: [number, number] = DYNAMIC_BATCH_PROBES): ModelP {
  const [ba, bb] = batches;
  const refuse = (why: string) => {
    throw new HybridVisionError(`--dynamic-batch: this graph depends on the batch size beyond its shape constants (${why})`);
  };
  const ga = a.graph;
  const gb = b.graph;
  if (ga.node.length !== gb.node.length) refuse(`${ga.node.length} vs ${gb.node.length} nodes`);
  ga.node.forEach((n, i) => nodeKey(n) !== nodeKey(gb.node[i]) && refuse(`node ${n.name} (${n.opType}) differs`));
  const initB = new Map(gb.initializer.map((t) => [t.name!, t]));
  if (initB.size !== ga.initializer.length) refuse('constants differ');

  const inputName = ga.input[0].name;
  const front: NodeP[] = [];
  const batchName = 'dynamic_batch__n';
  let used = false;
  const initializer: TensorP[] = [];
  for (const t of ga.initializer) {
    const u = initB.get(t.name!);
    if (!u) refuse(`constant ${t.name} missing`);
    if (sameBytes(t, u!)) {
      initializer.push(t);
      continue;
    }
    if (t.dataType !== DT.int64 || u!.dataType !== DT.int64 || (t.dims ?? []).length > 1) refuse(`constant ${t.name} is not a shape`);
    const va = int64sOf(t);
    const vb = int64sOf(u!);
    if (va.length !== vb.length) refuse(`constant ${t.name} changes length`);
    const k = va.map((v, i) => (vb[i] - v) / (bb - ba));
    va.forEach((v, i) => vb[i] !== v && (!Number.isInteger(k[i]) || v !== k[i] * ba) && refuse(`${t.name}[${i}] = ${v} at batch ${ba}, ${vb[i]} at batch ${bb}`));
    const base = va.map((v, i) => (k[i] ? 0 : v));
    initializer.push(int64Tensor(`${t.name}__base`, base, t.dims ?? []), int64Tensor(`${t.name}__k`, k, t.dims ?? []));
    front.push(node('Mul', [batchName, `${t.name}__k`], [`${t.name}__nk`]), node('Add', [`${t.name}__base`, `${t.name}__nk`], [t.name!]));
    used = true;
  }
  if (used) front.unshift(node('Shape', [inputName], [batchName], { start: 0, end: 1 }));
  const symbolic = (dims: { dimValue?: number; dimParam?: string }[], other: { dimValue?: number }[], what: string) =>
    dims.map((d, i) => {
      if (d.dimValue === other[i]?.dimValue) return d;
      if (d.dimValue === ba && other[i]?.dimValue === bb) return { dimParam: 'batch' };
      if (d.dimValue !== undefined && other[i]?.dimValue !== undefined && d.dimValue * bb === other[i].dimValue! * ba) return {};
      return refuse(`${what} dim ${i}`);
    });
  const input = ga.input.map((v, i) => ({ ...v, type: { tensorType: { ...v.type.tensorType, shape: { dim: symbolic(v.type.tensorType.shape.dim, gb.input[i].type.tensorType.shape.dim, v.name) } } } }));
  const output = ga.output.map((v, i) => ({ ...v, type: { tensorType: { ...v.type.tensorType, shape: { dim: symbolic(v.type.tensorType.shape.dim, gb.output[i].type.tensorType.shape.dim, v.name) } } } }));
  return { ...a, graph: { ...ga, node: [...front, ...ga.node], initializer, input, output } };
}
