/**
 * A lowered ONNX model as a plain object (the fields of ONNX_SCHEMA, int64 as numbers), for the
 * post-lowering transforms in this folder (fp16, q8, dynamic batch, constant folding).
 */
import protobuf from 'protobufjs/light.js';
import { HybridVisionError } from '../tensor.js';
import { ATTR_TYPE, ONNX_DTYPE, ONNX_SCHEMA } from './schema.js';

const root = protobuf.Root.fromJSON(ONNX_SCHEMA);
const ModelProto = root.lookupType('onnx.ModelProto');
const GraphProto = root.lookupType('onnx.GraphProto');
const TensorProto = root.lookupType('onnx.TensorProto');

export interface TensorP {
  name?: string;
  dims?: number[];
  dataType: number;
  rawData?: Uint8Array;
  floatData?: number[];
  int64Data?: number[];
}
export interface AttrP {
  name: string;
  type: number;
  i?: number;
  f?: number;
  s?: Uint8Array;
  t?: TensorP;
  ints?: number[];
  floats?: number[];
}
export interface NodeP {
  opType: string;
  input: string[];
  output: string[];
  name?: string;
  domain?: string;
  attribute?: AttrP[];
}
export interface ValueInfoP {
  name: string;
  type: { tensorType: { elemType: number; shape: { dim: { dimValue?: number; dimParam?: string }[] } } };
}
export interface GraphP {
  name?: string;
  node: NodeP[];
  initializer: TensorP[];
  input: ValueInfoP[];
  output: ValueInfoP[];
  valueInfo?: ValueInfoP[];
}
export interface ModelP {
  irVersion: number;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  opsetImport: { domain?: string; version: number }[];
  metadataProps?: { key: string; value: string }[];
  graph: GraphP;
}

export function decodeModel(bytes: Uint8Array): ModelP {
  const m = ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, arrays: true }) as ModelP;
  for (const k of ['node', 'initializer', 'input', 'output'] as const) m.graph[k] ??= [] as never;
  for (const n of m.graph.node) (n.input ??= []), (n.output ??= []), (n.attribute ??= []);
  return m;
}

/** Field tags (field number << 3 | 2, length-delimited) of the fields written by hand below. */
const TAG = { modelGraph: (7 << 3) | 2, graphInitializer: (5 << 3) | 2, tensorRawData: (9 << 3) | 2 };
const varintSize = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);
function putVarint(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[pos++] = n;
  return pos;
}

/**
 * Serialises a model into one buffer of exactly its size, copying each initializer's raw data once.
 * protobufjs grows its write buffer by doubling and copies it again in finish(): for a model with
 * 54 MB of weights (Mobile-Former-508M) lowering left about 100 MB of garbage beside the file at its
 * peak. Here protobufjs encodes everything but the raw data (the model without its graph, the graph
 * without its initializers, each initializer without raw_data) and the rest is laid out by hand;
 * protobuf lets a message's fields come in any order, so the bytes parse as the same model.
 */
export function encodeModel(m: ModelP): Uint8Array {
  const { graph, ...rest } = m;
  const head = ModelProto.encode(ModelProto.fromObject(rest)).finish();
  const graphHead = GraphProto.encode(GraphProto.fromObject({ ...graph, initializer: [] })).finish();
  const inits = graph.initializer.map((t) => {
    const { rawData, ...meta } = t;
    const h = TensorProto.encode(TensorProto.fromObject(meta)).finish();
    const raw = rawData?.length ? rawData : null;
    return { h, raw, size: h.length + (raw ? 1 + varintSize(raw.length) + raw.length : 0) };
  });
  const graphSize = graphHead.length + inits.reduce((n, t) => n + 1 + varintSize(t.size) + t.size, 0);
  const out = new Uint8Array(head.length + 1 + varintSize(graphSize) + graphSize);
  out.set(head, 0);
  let pos = head.length;
  out[pos++] = TAG.modelGraph;
  pos = putVarint(out, pos, graphSize);
  out.set(graphHead, pos);
  pos += graphHead.length;
  for (const t of inits) {
    out[pos++] = TAG.graphInitializer;
    pos = putVarint(out, pos, t.size);
    out.set(t.h, pos);
    pos += t.h.length;
    if (t.raw) {
      out[pos++] = TAG.tensorRawData;
      pos = putVarint(out, pos, t.raw.length);
      out.set(t.raw, pos);
      pos += t.raw.length;
    }
  }
  return out;
}

export const DT = { float: ONNX_DTYPE.float32, uint8: ONNX_DTYPE.uint8, int8: 3, int32: ONNX_DTYPE.int32, int64: ONNX_DTYPE.int64, float16: ONNX_DTYPE.float16 } as const;

const aligned = (b: Uint8Array): ArrayBuffer => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

export function floatsOf(t: TensorP): Float32Array {
  if (t.dataType !== DT.float) throw new HybridVisionError(`tensor ${t.name}: float32 expected, got ONNX type ${t.dataType}`);
  return t.rawData?.length ? new Float32Array(aligned(t.rawData)) : Float32Array.from(t.floatData ?? []);
}

export function int64sOf(t: TensorP): number[] {
  if (t.dataType !== DT.int64) throw new HybridVisionError(`tensor ${t.name}: int64 expected, got ONNX type ${t.dataType}`);
  return t.rawData?.length ? Array.from(new BigInt64Array(aligned(t.rawData)), Number) : [...(t.int64Data ?? [])];
}

const raw = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

export function tensor(name: string, dataType: number, dims: number[], data: Float32Array | Int8Array | Uint8Array | Int32Array | Uint16Array | BigInt64Array): TensorP {
  return { name, dims: [...dims], dataType, rawData: raw(data) };
}
export const int64Tensor = (name: string, values: number[], dims = [values.length]): TensorP =>
  tensor(name, DT.int64, dims, BigInt64Array.from(values.map((v) => BigInt(v))));
export const floatTensor = (name: string, values: ArrayLike<number>, dims = [values.length]): TensorP => tensor(name, DT.float, dims, Float32Array.from(values));

export const numelOf = (t: TensorP): number => (t.dims ?? []).reduce((a, b) => a * b, 1);

export function node(opType: string, input: string[], output: string[], attrs: Record<string, number | number[]> = {}, domain?: string): NodeP {
  const attribute = Object.entries(attrs).map(([name, v]): AttrP => (Array.isArray(v) ? { name, type: ATTR_TYPE.ints, ints: v } : { name, type: ATTR_TYPE.int, i: v }));
  return { opType, input, output, name: `${opType}_${output[0]}`, attribute, ...(domain ? { domain } : {}) };
}

export function attrOf(n: NodeP, name: string): AttrP | undefined {
  return n.attribute?.find((a) => a.name === name);
}

/** Lookups over one graph; rebuild after changing it. */
export class GraphIndex {
  readonly inits = new Map<string, TensorP>();
  readonly producer = new Map<string, NodeP>();
  readonly consumers = new Map<string, NodeP[]>();
  readonly outputs: Set<string>;
  constructor(readonly g: GraphP) {
    for (const t of g.initializer) this.inits.set(t.name!, t);
    for (const n of g.node) {
      for (const o of n.output) this.producer.set(o, n);
      for (const i of n.input) if (i) this.consumers.set(i, [...(this.consumers.get(i) ?? []), n]);
    }
    this.outputs = new Set(g.output.map((o) => o.name));
  }
  /** Only used by `n` (and not a graph output). */
  soleUse(name: string, n: NodeP): boolean {
    const c = this.consumers.get(name) ?? [];
    return !this.outputs.has(name) && c.length === 1 && c[0] === n;
  }
}

/** Drops initializers and nodes nothing reads (after a transform replaced their users). */
export function prune(g: GraphP): void {
  const need = new Set(g.output.map((o) => o.name));
  const keep: NodeP[] = [];
  for (let i = g.node.length - 1; i >= 0; i--) {
    const n = g.node[i];
    if (n.output.some((o) => need.has(o))) {
      keep.push(n);
      for (const x of n.input) if (x) need.add(x);
    }
  }
  g.node = keep.reverse();
  g.initializer = g.initializer.filter((t) => need.has(t.name!));
}
