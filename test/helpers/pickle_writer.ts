/**
 * Test helpers: a tiny pickle writer, plus builders for torch.save-style zip checkpoints, legacy
 * (non-zip) torch checkpoints and plain zip archives. Independent of src/io on purpose.
 */
import { deflateRawSync } from 'node:zlib';
import { concatBytes } from '../../src/io/bytes.js';

// ---- pickle value model

export class Tuple {
  constructor(readonly items: PyNode[]) {}
}
export class PyFloat {
  constructor(readonly value: number) {}
}
export class Global {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
}
/** callable(*args) via REDUCE */
export class Call {
  constructor(
    readonly fn: PyNode,
    readonly args: PyNode[],
  ) {}
}
/** cls.__new__(cls, *args) via NEWOBJ */
export class NewObj {
  constructor(
    readonly cls: PyNode,
    readonly args: PyNode[],
  ) {}
}
/** obj, then BUILD with state */
export class Build {
  constructor(
    readonly obj: PyNode,
    readonly state: PyNode,
  ) {}
}
/** BINPERSID of the pid */
export class Persid {
  constructor(readonly pid: PyNode) {}
}
/** Raw opcode bytes spliced in verbatim. */
export class Raw {
  constructor(readonly bytes: number[]) {}
}

export type PyNode =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyNode[]
  | Map<PyNode, PyNode>
  | Tuple
  | PyFloat
  | Global
  | Call
  | NewObj
  | Build
  | Persid
  | Raw;

export class PickleWriter {
  private out: number[] = [];
  private memo = new Map<string, number>();
  constructor(readonly protocol = 2) {}

  byte(...b: number[]): this {
    for (const x of b) this.out.push(x & 0xff);
    return this;
  }
  u16(v: number): this {
    return this.byte(v, v >>> 8);
  }
  u32(v: number): this {
    return this.byte(v, v >>> 8, v >>> 16, v >>> 24);
  }
  u64(v: number): this {
    return this.u32(v % 2 ** 32).u32(Math.floor(v / 2 ** 32));
  }
  raw(b: ArrayLike<number>): this {
    for (let i = 0; i < b.length; i++) this.out.push(b[i]!);
    return this;
  }
  text(s: string): this {
    return this.raw(new TextEncoder().encode(s));
  }

  private put(): void {
    if (this.protocol >= 4) this.byte(0x94); // MEMOIZE
    else {
      const i = this.memoCount++;
      if (i < 256) this.byte(0x71, i);
      else this.byte(0x72).u32(i);
    }
  }
  private memoCount = 0;
  private memoIndex(): number {
    return this.protocol >= 4 ? this.memoCount++ : this.memoCount;
  }

  int(v: number | bigint): this {
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 256) return this.byte(0x4b, v);
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 65536) return this.byte(0x4d).u16(v);
    if (typeof v === 'number' && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31) return this.byte(0x4a).u32(v >>> 0);
    // LONG1, little-endian two's complement
    let b = BigInt(v);
    const bytes: number[] = [];
    for (;;) {
      bytes.push(Number(b & 0xffn));
      b >>= 8n;
      const last = bytes[bytes.length - 1]!;
      if ((b === 0n && (last & 0x80) === 0) || (b === -1n && (last & 0x80) !== 0)) break;
    }
    return this.byte(0x8a, bytes.length).raw(bytes);
  }
  float(v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, false);
    return this.byte(0x47).raw(b);
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    if (this.protocol >= 4 && b.length < 256) this.byte(0x8c, b.length);
    else this.byte(0x58).u32(b.length);
    return this.raw(b);
  }
  bytes(b: Uint8Array): this {
    if (b.length < 256) this.byte(0x43, b.length);
    else this.byte(0x42).u32(b.length);
    return this.raw(b);
  }
  global(module: string, name: string): this {
    const key = `${module}\n${name}`;
    const hit = this.memo.get(key);
    if (hit !== undefined) return hit < 256 ? this.byte(0x68, hit) : this.byte(0x6a).u32(hit);
    if (this.protocol >= 4) {
      this.str(module).str(name).byte(0x93);
    } else {
      this.byte(0x63).text(`${module}\n${name}\n`);
    }
    const idx = this.memoIndex();
    this.put();
    this.memo.set(key, idx);
    return this;
  }

  value(v: PyNode): this {
    if (v === null) return this.byte(0x4e);
    if (v === true) return this.byte(0x88);
    if (v === false) return this.byte(0x89);
    if (typeof v === 'number') return Number.isInteger(v) ? this.int(v) : this.float(v);
    if (typeof v === 'bigint') return this.int(v);
    if (typeof v === 'string') return this.str(v);
    if (v instanceof Uint8Array) return this.bytes(v);
    if (v instanceof PyFloat) return this.float(v.value);
    if (v instanceof Raw) return this.raw(v.bytes);
    if (v instanceof Global) return this.global(v.module, v.name);
    if (v instanceof Tuple) {
      const n = v.items.length;
      if (n === 0) return this.byte(0x29);
      if (n <= 3) {
        for (const it of v.items) this.value(it);
        return this.byte([0x85, 0x86, 0x87][n - 1]!);
      }
      this.byte(0x28);
      for (const it of v.items) this.value(it);
      return this.byte(0x74);
    }
    if (Array.isArray(v)) {
      this.byte(0x5d);
      if (v.length === 0) return this;
      this.byte(0x28);
      for (const it of v) this.value(it);
      return this.byte(0x65);
    }
    if (v instanceof Map) {
      this.byte(0x7d);
      if (v.size === 0) return this;
      this.byte(0x28);
      for (const [k, x] of v) this.value(k).value(x);
      return this.byte(0x75);
    }
    if (v instanceof Call) return this.value(v.fn).value(new Tuple(v.args)).byte(0x52);
    if (v instanceof NewObj) return this.value(v.cls).value(new Tuple(v.args)).byte(0x81);
    if (v instanceof Build) return this.value(v.obj).value(v.state).byte(0x62);
    if (v instanceof Persid) return this.value(v.pid).byte(0x51);
    throw new Error('unsupported pickle node');
  }

  /** The complete pickle: PROTO, (FRAME for protocol >= 4), body, STOP. */
  finish(): Uint8Array {
    const body = [...this.out, 0x2e];
    const head: number[] = [0x80, this.protocol];
    if (this.protocol >= 4) {
      const len = body.length;
      head.push(0x95, len & 0xff, (len >>> 8) & 0xff, (len >>> 16) & 0xff, (len >>> 24) & 0xff, 0, 0, 0, 0);
    }
    return Uint8Array.from([...head, ...body]);
  }
}

export function dumps(v: PyNode, protocol = 2): Uint8Array {
  return new PickleWriter(protocol).value(v).finish();
}

// ---- torch-style tensors

export interface FakeTensor {
  storageKey: string;
  /** e.g. 'FloatStorage', 'LongStorage', 'DoubleStorage', 'HalfStorage' */
  storageClass: string;
  storageNumel: number;
  offset?: number;
  size: number[];
  stride?: number[];
  /** legacy format only: (view_key, offset, size) */
  view?: [string, number, number];
}

export function contiguousStride(size: number[]): number[] {
  const st = new Array<number>(size.length);
  let s = 1;
  for (let i = size.length - 1; i >= 0; i--) {
    st[i] = s;
    s *= size[i]!;
  }
  return st;
}

/** OrderedDict(): REDUCE with no args, then SETITEMS; optional trailing BUILD of `_metadata`. */
export class OrderedDictNode extends Raw {
  constructor(
    readonly entries: [PyNode, PyNode][],
    readonly metadata?: Map<PyNode, PyNode>,
  ) {
    super([]);
  }
}

export function tensorNode(t: FakeTensor, legacy = false): PyNode {
  const pid: PyNode[] = ['storage', new Global('torch', t.storageClass), t.storageKey, 'cpu', t.storageNumel];
  if (legacy) pid.push(t.view ? new Tuple([t.view[0], t.view[1], t.view[2]]) : null);
  return new Call(new Global('torch._utils', '_rebuild_tensor_v2'), [
    new Persid(new Tuple(pid)),
    t.offset ?? 0,
    new Tuple(t.size),
    new Tuple(t.stride ?? contiguousStride(t.size)),
    false,
    new Call(new Global('collections', 'OrderedDict'), []),
  ]);
}

/** Serialises a value whose OrderedDictNode parts are written the way torch writes state_dicts. */
export function dumpsTorch(v: PyNode, protocol = 2): Uint8Array {
  const w = new PickleWriter(protocol);
  const emit = (x: PyNode): void => {
    if (x instanceof OrderedDictNode) {
      w.value(new Call(new Global('collections', 'OrderedDict'), []));
      if (x.entries.length) {
        w.byte(0x28);
        for (const [k, val] of x.entries) {
          emit(k);
          emit(val);
        }
        w.byte(0x75);
      }
      if (x.metadata) {
        emit(x.metadata);
        w.byte(0x62); // BUILD (sets _metadata)
      }
      return;
    }
    if (x instanceof Map) {
      w.byte(0x7d);
      if (x.size) {
        w.byte(0x28);
        for (const [k, val] of x) {
          emit(k);
          emit(val);
        }
        w.byte(0x75);
      }
      return;
    }
    w.value(x);
  };
  emit(v);
  return w.finish();
}

// ---- zip archives

let crcTable: Uint32Array | null = null;
export function crc32(b: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = crcTable[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export interface ZipInput {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
}

/** Builds a zip archive; `zip64` forces ZIP64 extra fields and the ZIP64 end records. */
export function buildZip(entries: ZipInput[], opts: { zip64?: boolean; dataDescriptor?: boolean } = {}): Uint8Array {
  const chunks: number[] = [];
  const push = (...bs: number[]) => {
    for (const b of bs) chunks.push(b & 0xff);
  };
  const u16 = (v: number) => push(v, v >>> 8);
  const u32 = (v: number) => push(v, v >>> 8, v >>> 16, v >>> 24);
  const u64 = (v: number) => {
    u32(v % 2 ** 32);
    u32(Math.floor(v / 2 ** 32));
  };
  const bytes = (b: Uint8Array) => {
    for (let i = 0; i < b.length; i++) chunks.push(b[i]!);
  };
  const cds: { name: Uint8Array; crc: number; csize: number; size: number; offset: number; method: number }[] = [];
  for (const e of entries) {
    const name = new TextEncoder().encode(e.name);
    const comp = e.deflate ? new Uint8Array(deflateRawSync(e.data)) : e.data;
    const method = e.deflate ? 8 : 0;
    const crc = crc32(e.data);
    const offset = chunks.length;
    const dd = opts.dataDescriptor ?? false;
    u32(0x04034b50);
    u16(20);
    u16(0x0800 | (dd ? 8 : 0));
    u16(method);
    u16(0);
    u16(0);
    u32(dd ? 0 : crc);
    u32(dd ? 0 : comp.length);
    u32(dd ? 0 : e.data.length);
    u16(name.length);
    u16(0);
    bytes(name);
    bytes(comp);
    if (dd) {
      u32(0x08074b50);
      u32(crc);
      u32(comp.length);
      u32(e.data.length);
    }
    cds.push({ name, crc, csize: comp.length, size: e.data.length, offset, method });
  }
  const cdStart = chunks.length;
  for (const c of cds) {
    u32(0x02014b50);
    u16(45);
    u16(45);
    u16(0x0800);
    u16(c.method);
    u16(0);
    u16(0);
    u32(c.crc);
    if (opts.zip64) {
      u32(0xffffffff);
      u32(0xffffffff);
    } else {
      u32(c.csize);
      u32(c.size);
    }
    u16(c.name.length);
    u16(opts.zip64 ? 28 : 0);
    u16(0);
    u16(0);
    u16(0);
    u32(0);
    u32(opts.zip64 ? 0xffffffff : c.offset);
    bytes(c.name);
    if (opts.zip64) {
      u16(0x0001);
      u16(24);
      u64(c.size);
      u64(c.csize);
      u64(c.offset);
    }
  }
  const cdSize = chunks.length - cdStart;
  if (opts.zip64) {
    const e64 = chunks.length;
    u32(0x06064b50);
    u64(44);
    u16(45);
    u16(45);
    u32(0);
    u32(0);
    u64(cds.length);
    u64(cds.length);
    u64(cdSize);
    u64(cdStart);
    u32(0x07064b50);
    u32(0);
    u64(e64);
    u32(1);
  }
  u32(0x06054b50);
  u16(0);
  u16(0);
  u16(opts.zip64 ? 0xffff : cds.length);
  u16(opts.zip64 ? 0xffff : cds.length);
  u32(opts.zip64 ? 0xffffffff : cdSize);
  u32(opts.zip64 ? 0xffffffff : cdStart);
  u16(0);
  return Uint8Array.from(chunks);
}

/** A torch.save-style zip: <prefix>/data.pkl, <prefix>/data/<key>, <prefix>/version (+ byteorder). */
export function buildTorchZip(
  prefix: string,
  pickle: Uint8Array,
  storages: Map<string, Uint8Array>,
  opts: { byteorder?: string; deflate?: boolean; zip64?: boolean } = {},
): Uint8Array {
  const entries: ZipInput[] = [{ name: `${prefix}/data.pkl`, data: pickle }];
  if (opts.byteorder !== undefined) entries.push({ name: `${prefix}/byteorder`, data: new TextEncoder().encode(opts.byteorder) });
  for (const [k, b] of storages) entries.push({ name: `${prefix}/data/${k}`, data: b, deflate: opts.deflate });
  entries.push({ name: `${prefix}/version`, data: new TextEncoder().encode('3\n') });
  return buildZip(entries, { zip64: opts.zip64, dataDescriptor: true });
}

/**
 * A legacy (non-zip) torch.save file: magic, protocol 1001, sys_info, the main pickle, the storage
 * key list, then per storage an int64 LE element count and the raw bytes.
 */
export function buildLegacyCheckpoint(
  mainPickle: Uint8Array,
  storages: { key: string; elemSize: number; data: Uint8Array }[],
  opts: { littleEndian?: boolean } = {},
): Uint8Array {
  const magic = dumps(0x1950a86a20f9469cfc6cn);
  const proto = dumps(1001);
  const sysInfo = dumps(
    new Map<PyNode, PyNode>([
      ['protocol_version', 1001],
      ['little_endian', opts.littleEndian ?? true],
      [
        'type_sizes',
        new Map<PyNode, PyNode>([
          ['short', 2],
          ['int', 4],
          ['long', 4],
        ]),
      ],
    ]),
  );
  const keys = dumps(storages.map((s) => s.key));
  const parts: Uint8Array[] = [magic, proto, sysInfo, mainPickle, keys];
  for (const s of storages) {
    const head = new Uint8Array(8);
    new DataView(head.buffer).setBigInt64(0, BigInt(s.data.length / s.elemSize), true);
    parts.push(head, s.data);
  }
  return concatBytes(parts);
}

export function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}
export function f64Bytes(values: number[]): Uint8Array {
  return new Uint8Array(Float64Array.from(values).buffer);
}
export function i64Bytes(values: number[]): Uint8Array {
  return new Uint8Array(BigInt64Array.from(values.map((v) => BigInt(v))).buffer);
}
export function hexBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
