/** Lowers an IR graph to an ONNX ModelProto (opset 17) and encodes it (proto.ts encodeModel). */
import { HybridVisionError, numel, type HostTensor } from '../tensor.js';
import type { Graph, Value } from '../graph/ir.js';
import type { Attr, LowerCtx } from '../graph/op.js';
import { ATTR_TYPE, ONNX_DTYPE } from './schema.js';
import { encodeModel, type ModelP } from './proto.js';

export const OPSET = 17;


export interface LowerOptions {
  outputs: { name: string; value: Value }[];
  /** 'initializer': weights are baked into the file; 'input': each parameter is a graph input named by its key. */
  params: 'initializer' | 'input';
  weights?: Map<string, HostTensor>;
  docString?: string;
  metadata?: Record<string, string>;
}

export interface LoweredModel {
  bytes: Uint8Array;
  inputs: { name: string; shape: number[]; dtype: string }[];
  outputs: string[];
  nodeCount: number;
}

function bytesOf(t: HostTensor): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

function tensorProto(name: string, t: HostTensor): object {
  const dt = ONNX_DTYPE[t.dtype as keyof typeof ONNX_DTYPE];
  if (!dt) throw new HybridVisionError(`cannot store a ${t.dtype} tensor in ONNX`);
  return { name, dims: t.shape, dataType: dt, rawData: bytesOf(t) };
}

function valueInfo(name: string, shape: readonly number[], dtype: string): object {
  return {
    name,
    type: { tensorType: { elemType: ONNX_DTYPE[dtype as keyof typeof ONNX_DTYPE], shape: { dim: shape.map((d) => ({ dimValue: d })) } } },
  };
}

function attrProto(name: string, a: Attr): object {
  switch (a.kind) {
    case 'int':
      return { name, type: ATTR_TYPE.int, i: a.v };
    case 'float':
      return { name, type: ATTR_TYPE.float, f: a.v };
    case 'ints':
      return { name, type: ATTR_TYPE.ints, ints: a.v };
    case 'floats':
      return { name, type: ATTR_TYPE.floats, floats: a.v };
    case 'string':
      return { name, type: ATTR_TYPE.string, s: new TextEncoder().encode(a.v) };
    case 'tensor':
      return { name, type: ATTR_TYPE.tensor, t: tensorProto('', a.v) };
  }
}

export function lowerToOnnx(g: Graph, opts: LowerOptions): LoweredModel {
  // Liveness: only nodes that feed an output are emitted.
  const live = new Set<number>();
  const liveNodes = new Set<number>();
  const stack = opts.outputs.map((o) => o.value);
  while (stack.length) {
    const v = stack.pop()!;
    if (live.has(v.id)) continue;
    live.add(v.id);
    if (v.node && !liveNodes.has(v.node.id)) {
      liveNodes.add(v.node.id);
      stack.push(...v.node.inputs);
    }
  }

  const nodes: object[] = [];
  const initializers: object[] = [];
  const graphInputs: object[] = [];
  const inputsInfo: LoweredModel['inputs'] = [];
  const names = new Map<number, string>();
  const outputNameOf = new Map<number, string>();
  for (const o of opts.outputs) if (o.value.kind === 'op' && !outputNameOf.has(o.value.id)) outputNameOf.set(o.value.id, o.name);
  const intCache = new Map<string, string>();
  const floatCache = new Map<string, string>();
  let tmp = 0;

  const ctx: LowerCtx = {
    name(v: Value): string {
      const known = names.get(v.id);
      if (known !== undefined) return known;
      let n: string;
      if (v.kind === 'input' || v.kind === 'param') n = v.name;
      else if (v.kind === 'const') {
        n = `const_${v.id}`;
        initializers.push(tensorProto(n, g.consts.get(v.id)!));
      } else n = live.has(v.id) ? outputNameOf.get(v.id) ?? `t${v.id}` : '';
      names.set(v.id, n);
      return n;
    },
    emit(opType, inputs, outputs, attrs) {
      let k = outputs.length;
      while (k > 1 && outputs[k - 1] === '') k--;
      nodes.push({
        opType,
        input: inputs,
        output: outputs.slice(0, k),
        name: `n${nodes.length}_${opType}`,
        attribute: Object.entries(attrs ?? {}).map(([n, a]) => attrProto(n, a)),
      });
    },
    ints(values) {
      const key = values.join(',');
      let n = intCache.get(key);
      if (!n) {
        n = `ints_${intCache.size}`;
        intCache.set(key, n);
        initializers.push(tensorProto(n, { dtype: 'int64', shape: [values.length], data: BigInt64Array.from(values.map((x) => BigInt(x))) }));
      }
      return n;
    },
    floats(values, shape = [values.length]) {
      // small constants and constant fills (e.g. the ones/zeros of a LayerNormalization without an
      // affine map, as wide as its row) are stored once per value and shape
      const uniform = values.length > 16 && values.every((v) => v === values[0]);
      const key = values.length <= 16 ? `${shape.join('x')}:${values.join(',')}` : uniform ? `${shape.join('x')}:all:${values[0]}` : '';
      if (key && floatCache.has(key)) return floatCache.get(key)!;
      const n = `floats_${tmp++}`;
      if (key) floatCache.set(key, n);
      initializers.push(tensorProto(n, { dtype: 'float32', shape, data: Float32Array.from(values) }));
      return n;
    },
    fresh(hint = 'tmp') {
      return `${hint}_${tmp++}`;
    },
  };

  for (const v of g.inputs) {
    if (!live.has(v.id)) continue;
    graphInputs.push(valueInfo(v.name, v.shape, v.dtype));
    inputsInfo.push({ name: v.name, shape: [...v.shape], dtype: v.dtype });
  }
  for (const [key, v] of g.params) {
    if (!live.has(v.id)) continue;
    if (opts.params === 'input') {
      graphInputs.push(valueInfo(key, v.shape, v.dtype));
      inputsInfo.push({ name: key, shape: [...v.shape], dtype: v.dtype });
    } else {
      const w = opts.weights?.get(key);
      if (!w) throw new HybridVisionError(`no weight for parameter ${key}`);
      if (numel(w.shape) !== v.size) throw new HybridVisionError(`weight ${key} has shape [${w.shape}], the model needs [${v.shape}]`);
      initializers.push(tensorProto(key, { ...w, shape: [...v.shape] }));
    }
  }
  for (const n of g.nodes) if (liveNodes.has(n.id)) n.op.lower(ctx, n);

  const outputs: object[] = [];
  for (const o of opts.outputs) {
    const inner = ctx.name(o.value);
    if (inner !== o.name) ctx.emit('Identity', [inner], [o.name]);
    outputs.push(valueInfo(o.name, o.value.shape, o.value.dtype));
  }

  const model = {
    irVersion: 8,
    producerName: 'hybridvision',
    producerVersion: '0.1.0',
    docString: opts.docString ?? '',
    opsetImport: [{ domain: '', version: OPSET }],
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: { name: 'hybridvision', node: nodes, initializer: initializers, input: graphInputs, output: outputs },
  };
  const bytes = encodeModel(model as unknown as ModelP);
  return { bytes, inputs: inputsInfo, outputs: opts.outputs.map((o) => o.name), nodeCount: nodes.length };
}
