/**
 * fp16 export of a lowered model.
 * - 'weights' (the default of `export --dtype fp16`): every float initializer is stored as float16
 *   and widened by a Cast at the start of the graph. Half the download; the engine folds the Casts at
 *   session start, so the model runs in fp32 at fp32 speed, with only the weights rounded.
 * - 'graph': the whole graph in float16 (input and logits stay float32 through Casts at the ends).
 *   onnxruntime's CPU engine has few float16 kernels and wraps the others in Casts, so on CPU it is
 *   slower and less exact (bench/export_dtypes.ts measures both); for engines with fp16 math.
 */
import { f32ToF16 } from '../half.js';
import { HybridVisionError } from '../tensor.js';
import { DT, floatsOf, node, tensor, type AttrP, type ModelP, type NodeP, type TensorP } from './proto.js';

export type Fp16Mode = 'weights' | 'graph';

const FP16_MAX = 65504;

function toHalf(t: TensorP, name = t.name!): TensorP {
  const f = floatsOf(t);
  for (const v of f) if (Math.abs(v) > FP16_MAX) throw new HybridVisionError(`${t.name}: value ${v} does not fit in float16`);
  return tensor(name, DT.float16, t.dims ?? [], f32ToF16(f));
}

export function toFp16(m: ModelP, mode: Fp16Mode = 'weights'): ModelP {
  const g = m.graph;
  if (mode === 'weights') {
    const casts: NodeP[] = [];
    g.initializer = g.initializer.map((t) => {
      // small constants (shape-like scalars, eps) stay float32: no size to gain
      if (t.dataType !== DT.float || (t.dims ?? []).reduce((a, b) => a * b, 1) <= 16) return t;
      casts.push(node('Cast', [`${t.name}__fp16`], [t.name!], { to: DT.float }));
      return toHalf(t, `${t.name}__fp16`);
    });
    g.node = [...casts, ...g.node];
    return m;
  }
  g.initializer = g.initializer.map((t) => (t.dataType === DT.float ? toHalf(t) : t));
  const halfAttr = (a: AttrP): AttrP => (a.t && a.t.dataType === DT.float ? { ...a, t: toHalf(a.t, a.t.name ?? '') } : a);
  for (const n of g.node) {
    n.attribute = n.attribute?.map(halfAttr);
    if (n.opType === 'Cast') for (const a of n.attribute ?? []) if (a.name === 'to' && a.i === DT.float) a.i = DT.float16;
  }
  const front: NodeP[] = [];
  for (const i of g.input) {
    if (i.type.tensorType.elemType !== DT.float) continue;
    const inner = `${i.name}__fp16`;
    for (const n of g.node) n.input = n.input.map((x) => (x === i.name ? inner : x));
    front.push(node('Cast', [i.name], [inner], { to: DT.float16 }));
  }
  const back: NodeP[] = [];
  for (const o of g.output) {
    if (o.type.tensorType.elemType !== DT.float) continue;
    const inner = `${o.name}__fp16`;
    for (const n of g.node) {
      n.output = n.output.map((x) => (x === o.name ? inner : x));
      n.input = n.input.map((x) => (x === o.name ? inner : x));
    }
    back.push(node('Cast', [inner], [o.name], { to: DT.float }));
  }
  g.node = [...front, ...g.node, ...back];
  return m;
}
