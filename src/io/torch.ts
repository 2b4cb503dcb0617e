/**
 * PyTorch checkpoint reader (core: no Node built-ins). Reads the zip format written by torch.save
 * (torch >= 1.6) and the legacy non-zip format (`_use_new_zipfile_serialization=False`, older
 * `.pth.tar` files). The pickles run on the safe VM in ./pickle.ts with a small allowlist of
 * pure-data constructors; nothing in a checkpoint can execute code.
 */
import { HybridVisionError, numel, type HostTensor } from '../tensor.js';
import { loadPickleAt, PyGlobal, PY_SETSTATE, type PyConstructor } from './pickle.js';
import { f16ToF32 } from '../half.js';
import { readSafetensors } from './safetensors.js';
import { describeValue, cleanText } from './text.js';
import { openZip, type ZipArchive } from './zip.js';

export interface TorchLoadOptions {
  /**
   * Which entry of a training checkpoint to use. Default: the first present of
   * state_dict, model_state_dict, model, model_state, state_dict_ema, ema_state_dict.
   * `state_dict` or `model` also accept a bare state_dict; `state_dict_ema` requires EMA weights.
   */
  prefer?: 'state_dict' | 'state_dict_ema' | 'model';
}

type StorageDType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';

const ELEM_SIZE: Readonly<Record<StorageDType, number>> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

const STORAGE_CLASSES: Readonly<Record<string, StorageDType>> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

const TORCH_DTYPES: Readonly<Record<string, StorageDType>> = {
  float32: 'float32',
  float: 'float32',
  float64: 'float64',
  double: 'float64',
  float16: 'float16',
  half: 'float16',
  bfloat16: 'bfloat16',
  int64: 'int64',
  long: 'int64',
  int32: 'int32',
  int: 'int32',
  int16: 'int16',
  short: 'int16',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
};

/** A lookup that sees only the table's own entries (never `__proto__`, `constructor`...). */
function own<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined;
}

/** torch.FloatStorage etc. (and torch.cuda.*, torch.UntypedStorage) -> element dtype. */
function storageClassDType(g: unknown): StorageDType {
  if (!(g instanceof PyGlobal)) throw new HybridVisionError('checkpoint storage reference has no storage type');
  const m = /^torch\.(?:cuda\.)?(\w+Storage)$/.exec(g.name);
  if (m) {
    if (m[1] === 'UntypedStorage' || m[1] === 'ByteStorage') return 'uint8';
    const dt = own(STORAGE_CLASSES, m[1]!);
    if (dt) return dt;
  }
  if (g.name === 'torch.storage.UntypedStorage' || g.name === 'torch.storage._UntypedStorage') return 'uint8';
  throw new HybridVisionError(`checkpoint uses unsupported storage type ${cleanText(g.name)}`);
}

function torchDType(g: unknown): StorageDType {
  if (g instanceof PyGlobal && g.name.startsWith('torch.')) {
    const dt = own(TORCH_DTYPES, g.name.slice(6));
    if (dt) return dt;
  }
  throw new HybridVisionError(`checkpoint uses unsupported tensor dtype ${g instanceof PyGlobal ? cleanText(g.name) : describeValue(g)}`);
}

/** A storage referenced by the pickle; its bytes are fetched after the pickle has run. */
class LazyStorage {
  constructor(
    readonly rootKey: string,
    readonly dtype: StorageDType,
    /** elements of `dtype` in the root storage */
    readonly rootNumel: number,
    /** legacy storage views: element offset and length inside the root storage */
    readonly viewOffset = 0,
    readonly viewNumel = rootNumel,
  ) {
    Object.freeze(this);
  }
}

/** A tensor as described by _rebuild_tensor_v2; materialised (contiguous copy) on demand. */
class TensorRef {
  constructor(
    readonly storage: LazyStorage,
    readonly offset: number,
    readonly size: number[],
    readonly stride: number[],
    readonly dtype: StorageDType,
  ) {
    Object.freeze(size);
    Object.freeze(stride);
    Object.freeze(this);
  }
}

function asInt(v: unknown, what: string): number {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return v;
  throw new HybridVisionError(`checkpoint tensor has an invalid ${what}: ${describeValue(v)}`);
}

function asIntList(v: unknown, what: string): number[] {
  if (!Array.isArray(v)) throw new HybridVisionError(`checkpoint tensor has an invalid ${what}: ${describeValue(v)}`);
  if (v.length > 64) throw new HybridVisionError(`checkpoint tensor has ${v.length} dimensions`);
  return v.map((x) => {
    const i = asInt(x, what);
    if (i < 0) throw new HybridVisionError(`checkpoint tensor has a negative ${what} entry ${i}`);
    return i;
  });
}

function rebuildTensor(args: unknown[], dtypeOverride?: StorageDType): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof LazyStorage)) throw new HybridVisionError('checkpoint tensor is not backed by a storage');
  const sz = asIntList(size, 'size');
  const st = asIntList(stride, 'stride');
  if (sz.length !== st.length) throw new HybridVisionError(`checkpoint tensor has size [${sz.join(',')}] but stride [${st.join(',')}]`);
  const off = asInt(offset, 'storage offset');
  if (off < 0) throw new HybridVisionError(`checkpoint tensor has a negative storage offset ${off}`);
  return new TensorRef(storage, off, sz, st, dtypeOverride ?? storage.dtype);
}

function notCallable(name: string): PyConstructor {
  return () => {
    throw new HybridVisionError(`checkpoint tries to call ${name}, which is not supported`);
  };
}

// ---- numpy data (scalars in training checkpoints), rebuilt without calling anything.

class NumpyDType {
  byteorder = '=';
  constructor(readonly spec: string) {}
  [PY_SETSTATE](state: unknown): void {
    if (Array.isArray(state) && typeof state[1] === 'string') this.byteorder = state[1];
  }
  static from(v: unknown): NumpyDType {
    if (typeof v !== 'string') throw new HybridVisionError(`checkpoint numpy dtype is ${describeValue(v)}, not a type code`);
    return new NumpyDType(v);
  }
}

class NumpyArray {
  shape: number[] = [];
  dtype: NumpyDType | null = null;
  data: Uint8Array = new Uint8Array(0);
  [PY_SETSTATE](state: unknown): void {
    if (!Array.isArray(state) || state.length < 5) return;
    if (Array.isArray(state[1])) this.shape = state[1].map((x) => (typeof x === 'number' ? x : NaN));
    if (state[2] instanceof NumpyDType) this.dtype = state[2];
    if (state[4] instanceof Uint8Array) this.data = state[4];
    else if (typeof state[4] === 'string') this.data = latin1Bytes(state[4]);
  }
}

function latin1Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) throw new HybridVisionError('checkpoint has a latin-1 byte string with characters above U+00FF');
    out[i] = c;
  }
  return out;
}

function numpyScalar(args: unknown[]): unknown {
  const [dt, raw] = args;
  if (!(dt instanceof NumpyDType)) throw new HybridVisionError('checkpoint numpy scalar has no dtype');
  const bytes = raw instanceof Uint8Array ? raw : typeof raw === 'string' ? latin1Bytes(raw) : null;
  if (!bytes) throw new HybridVisionError('checkpoint numpy scalar has no data');
  const m = /^([<>|=]?)([a-zA-Z])(\d*)$/.exec(dt.spec);
  if (!m) return null;
  const kind = m[2]!;
  const size = m[3] ? Number(m[3]) : bytes.length;
  if (bytes.length < size) throw new HybridVisionError('checkpoint numpy scalar is truncated');
  const le = !(m[1] === '>' || dt.byteorder === '>');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const big = (v: bigint): number | bigint => (v >= -(2n ** 53n) && v <= 2n ** 53n ? Number(v) : v);
  switch (`${kind}${size}`) {
    case 'f8':
    case 'd8':
      return dv.getFloat64(0, le);
    case 'f4':
      return dv.getFloat32(0, le);
    case 'f2':
    case 'e2': {
      const h = new Uint16Array([dv.getUint16(0, le)]);
      return f16ToF32(h)[0];
    }
    case 'i8':
    case 'q8':
      return big(dv.getBigInt64(0, le));
    case 'u8':
      return big(dv.getBigUint64(0, le));
    case 'i4':
      return dv.getInt32(0, le);
    case 'u4':
      return dv.getUint32(0, le);
    case 'i2':
      return dv.getInt16(0, le);
    case 'u2':
      return dv.getUint16(0, le);
    case 'i1':
      return dv.getInt8(0);
    case 'u1':
      return dv.getUint8(0);
    case 'b1':
    case '?1':
      return dv.getUint8(0) !== 0;
    default:
      return null;
  }
}

function codecsEncode(args: unknown[]): Uint8Array {
  const [s, enc] = args;
  if (typeof s !== 'string') throw new HybridVisionError('checkpoint _codecs.encode argument is not a string');
  const e = typeof enc === 'string' ? enc.toLowerCase().replace(/_/g, '-') : 'utf-8';
  if (e === 'latin1' || e === 'latin-1' || e === 'iso-8859-1' || e === 'iso8859-1') return latin1Bytes(s);
  if (e === 'utf-8' || e === 'utf8') return new TextEncoder().encode(s);
  throw new HybridVisionError(`checkpoint uses unsupported string encoding ${describeValue(enc)}`);
}

/** BUILD on attribute bags (argparse.Namespace, copyreg-rebuilt objects) adds string-keyed attributes. */
function setNamespaceState(this: Record<string, unknown>, state: unknown): void {
  // (dict_state, slot_state) or dict_state: own data properties, so '__proto__' stays a plain key
  const parts = Array.isArray(state) && state.length === 2 ? state : [state];
  for (const part of parts) {
    if (!(part instanceof Map)) continue;
    for (const [k, v] of part) {
      if (typeof k === 'string') Object.defineProperty(this, k, { value: v, writable: true, enumerable: true, configurable: true });
    }
  }
}

/** A prototype-less attribute bag; its setstate hook is a non-enumerable symbol-keyed property. */
function makeNamespace(): Record<string, unknown> {
  const ns = Object.create(null) as Record<string, unknown>;
  Object.defineProperty(ns, PY_SETSTATE, { value: setNamespaceState, enumerable: false });
  return ns;
}

/** A primitive argument as text (objects are refused: String() on them can throw or recurse). */
function primitiveText(v: unknown, what: string): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  throw new HybridVisionError(`checkpoint ${what} is ${describeValue(v)}, not a plain value`);
}

/** Builds the allowlist. Every entry only rearranges data; none calls anything outside this file. */
function torchGlobals(): Map<string, PyConstructor> {
  const g = new Map<string, PyConstructor>();
  g.set('collections.OrderedDict', (args) => {
    const m = new Map<unknown, unknown>();
    const init = args[0];
    if (init instanceof Map) for (const [k, v] of init) m.set(k, v);
    else if (Array.isArray(init)) {
      for (const kv of init) if (Array.isArray(kv) && kv.length === 2) m.set(kv[0], kv[1]);
    }
    return m;
  });
  g.set('torch._utils._rebuild_tensor_v2', (args) => rebuildTensor(args));
  g.set('torch._utils._rebuild_tensor', (args) => rebuildTensor(args));
  g.set('torch._utils._rebuild_tensor_v3', (args) => rebuildTensor(args, torchDType(args[6])));
  g.set('torch._utils._rebuild_parameter', (args) => args[0]);
  g.set('torch._utils._rebuild_parameter_with_state', (args) => args[0]);
  for (const cls of [...Object.keys(STORAGE_CLASSES), 'UntypedStorage']) {
    g.set(`torch.${cls}`, notCallable(`torch.${cls}`));
    g.set(`torch.cuda.${cls}`, notCallable(`torch.cuda.${cls}`));
  }
  g.set('torch.storage.UntypedStorage', notCallable('torch.storage.UntypedStorage'));
  g.set('torch.storage.TypedStorage', notCallable('torch.storage.TypedStorage'));
  for (const name of Object.keys(TORCH_DTYPES)) g.set(`torch.${name}`, notCallable(`torch.${name}`));
  g.set('torch.device', (args) => args.map((a) => primitiveText(a, 'device')).join(':'));
  g.set('torch.Size', (args) => (Array.isArray(args[0]) ? [...args[0]] : []));
  g.set('torch.torch_version.TorchVersion', (args) => primitiveText(args[0], 'torch version'));
  // harmless data-only containers found in training checkpoints
  g.set('argparse.Namespace', (_args, kwargs) => {
    const ns = makeNamespace();
    if (kwargs) for (const [k, v] of kwargs) if (typeof k === 'string') Object.defineProperty(ns, k, { value: v, writable: true, enumerable: true, configurable: true });
    return ns;
  });
  g.set('copyreg._reconstructor', (args) => {
    const cls = args[0];
    if (!(cls instanceof PyGlobal)) throw new HybridVisionError('checkpoint copyreg._reconstructor has no class');
    return cls.construct([]);
  });
  g.set('builtins.object', notCallable('builtins.object'));
  g.set('builtins.set', (args) => new Set(Array.isArray(args[0]) ? args[0] : args[0] instanceof Set ? args[0] : []));
  g.set('builtins.frozenset', (args) => new Set(Array.isArray(args[0]) ? args[0] : args[0] instanceof Set ? args[0] : []));
  g.set('builtins.bytearray', (args) => (args[0] instanceof Uint8Array ? args[0] : typeof args[0] === 'string' ? codecsEncode(args) : new Uint8Array(0)));
  g.set('builtins.slice', (args) => ({ start: args[0] ?? null, stop: args[1] ?? null, step: args[2] ?? null }));
  g.set('_codecs.encode', codecsEncode);
  for (const mod of ['numpy.core.multiarray', 'numpy._core.multiarray']) {
    g.set(`${mod}.scalar`, numpyScalar);
    g.set(`${mod}._reconstruct`, () => new NumpyArray());
  }
  g.set('numpy.dtype', (args) => NumpyDType.from(args[0]));
  g.set('numpy.ndarray', notCallable('numpy.ndarray'));
  for (const p of ['PosixPath', 'WindowsPath', 'PurePosixPath', 'PureWindowsPath', 'Path']) {
    g.set(`pathlib.${p}`, (args) => args.map((a) => primitiveText(a, 'path')).join('/'));
  }
  return g;
}

const GLOBALS = torchGlobals();

/** The names of the Python globals a torch checkpoint may reference (for docs and tests). */
export function torchAllowedGlobals(): string[] {
  return [...GLOBALS.keys()];
}

/**
 * Runs one pickle with the checkpoint allowlist (tensors need a persistent-load hook, so this is for
 * auxiliary pickles and tests: numpy scalars, argparse.Namespace, OrderedDict ...).
 */
export function loadTorchPickle(bytes: Uint8Array): unknown {
  return loadPickleAt(bytes, 0, { globals: GLOBALS }).value;
}

// ---- materialising tensors

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function swapInPlace(b: Uint8Array, size: number): void {
  if (size === 1) return;
  for (let i = 0; i < b.length; i += size) {
    for (let a = i, z = i + size - 1; a < z; a++, z--) {
      const t = b[a]!;
      b[a] = b[z]!;
      b[z] = t;
    }
  }
}

const MAX_TENSOR_BYTES = 2 ** 32;
/**
 * A tensor may repeat storage elements (stride 0 or overlapping strides, as `expand` makes) only up
 * to this size; beyond it, its bytes may not exceed its storage's. No model state needs more, and
 * it stops a few bytes of storage from becoming gigabytes.
 */
const MAX_EXPANDED_BYTES = 2 ** 20;
/** All tensors together: at most this many times the storage bytes they read, plus a fixed slack. */
const TOTAL_FACTOR = 4;
const TOTAL_SLACK = 64 * 2 ** 20;

/** Checks that a strided view stays inside its storage and does not expand it (see MAX_EXPANDED_BYTES). */
function checkView(storageBytes: Uint8Array, ref: TensorRef, name: string): void {
  const elem = ELEM_SIZE[ref.dtype];
  const n = numel(ref.size);
  const shown = cleanText(name);
  if (!(n * elem <= MAX_TENSOR_BYTES)) {
    throw new HybridVisionError(`checkpoint tensor '${shown}' (size [${ref.size.join(',')}]) is too large to load`);
  }
  if (n === 0) return;
  const capacity = Math.floor(storageBytes.length / elem);
  let maxIndex = ref.offset;
  for (let d = 0; d < ref.size.length; d++) maxIndex += (ref.size[d]! - 1) * ref.stride[d]!;
  if (!(maxIndex < capacity)) {
    throw new HybridVisionError(
      `checkpoint tensor '${shown}' (size [${ref.size.join(',')}], stride [${ref.stride.join(',')}], offset ${ref.offset}) reads past the end of its storage (${capacity} elements)`,
    );
  }
  if (n > capacity && n * elem > MAX_EXPANDED_BYTES) {
    throw new HybridVisionError(
      `checkpoint tensor '${shown}' (size [${ref.size.join(',')}], stride [${ref.stride.join(',')}]) has ${n} elements but its storage only ${capacity}; refusing to expand a stride-0 or overlapping view this large`,
    );
  }
}

/** Contiguous, aligned copy of a checked strided view, as raw little-endian element bytes. */
function gather(storageBytes: Uint8Array, ref: TensorRef): Uint8Array {
  const elem = ELEM_SIZE[ref.dtype];
  const n = numel(ref.size);
  const out = new Uint8Array(n * elem);
  if (n === 0) return out;
  // contiguous fast path
  let contiguous = true;
  let expect = 1;
  for (let d = ref.size.length - 1; d >= 0; d--) {
    if (ref.size[d] !== 1 && ref.stride[d] !== expect) contiguous = false;
    expect *= ref.size[d]!;
  }
  if (contiguous) {
    out.set(storageBytes.subarray(ref.offset * elem, (ref.offset + n) * elem));
    return out;
  }
  const rank = ref.size.length;
  const idx = new Array<number>(rank).fill(0);
  let src = ref.offset;
  for (let i = 0; i < n; i++) {
    out.set(storageBytes.subarray(src * elem, src * elem + elem), i * elem);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      src += ref.stride[d]!;
      if (idx[d]! < ref.size[d]!) break;
      src -= ref.stride[d]! * ref.size[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

function toHost(raw: Uint8Array, dtype: StorageDType, shape: number[]): HostTensor {
  if (!HOST_LITTLE_ENDIAN) swapInPlace(raw, ELEM_SIZE[dtype]);
  const buf = raw.buffer as ArrayBuffer; // raw is a fresh, offset-0 buffer from gather()
  switch (dtype) {
    case 'float32':
      return { dtype: 'float32', shape, data: new Float32Array(buf) };
    case 'float64':
      return { dtype: 'float32', shape, data: Float32Array.from(new Float64Array(buf)) };
    case 'float16':
      return { dtype: 'float32', shape, data: f16ToF32(new Uint16Array(buf)) };
    case 'bfloat16': {
      const src = new Uint16Array(buf);
      const bits = new Uint32Array(src.length);
      for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
      return { dtype: 'float32', shape, data: new Float32Array(bits.buffer) };
    }
    case 'int64':
      return { dtype: 'int64', shape, data: new BigInt64Array(buf) };
    case 'int32':
      return { dtype: 'int32', shape, data: new Int32Array(buf) };
    case 'int16':
      return { dtype: 'int32', shape, data: Int32Array.from(new Int16Array(buf)) };
    case 'int8':
      return { dtype: 'int32', shape, data: Int32Array.from(new Int8Array(buf)) };
    case 'uint8':
      return { dtype: 'uint8', shape, data: new Uint8Array(buf) };
    case 'bool':
      return { dtype: 'bool', shape, data: new Uint8Array(buf) };
  }
}

async function materialise(
  dict: Map<unknown, unknown>,
  storageBytes: (s: LazyStorage) => Promise<Uint8Array>,
): Promise<Map<string, HostTensor>> {
  const out = new Map<string, HostTensor>();
  const seen = new Set<Uint8Array>();
  let sourceBytes = 0;
  let madeBytes = 0;
  for (const [k, v] of dict) {
    if (typeof k !== 'string' || !(v instanceof TensorRef)) continue; // non-tensor entries are dropped
    const key = k.startsWith('module.') ? k.slice(7) : k;
    if (out.has(key)) throw new HybridVisionError(`checkpoint has the tensor '${cleanText(key)}' twice (with and without 'module.')`);
    const root = await storageBytes(v.storage);
    if (!seen.has(root)) {
      seen.add(root);
      sourceBytes += root.length;
    }
    const sElem = ELEM_SIZE[v.storage.dtype];
    const begin = v.storage.viewOffset * sElem;
    const end = begin + v.storage.viewNumel * sElem;
    if (end > root.length) {
      throw new HybridVisionError(`checkpoint storage '${cleanText(v.storage.rootKey)}' holds ${root.length} bytes, tensor '${cleanText(k)}' needs ${end}`);
    }
    const view = root.subarray(begin, end);
    checkView(view, v, k);
    madeBytes += numel(v.size) * ELEM_SIZE[v.dtype];
    if (madeBytes > TOTAL_FACTOR * sourceBytes + TOTAL_SLACK) {
      throw new HybridVisionError(
        `checkpoint tensors up to '${cleanText(k)}' would take ${madeBytes} bytes from ${sourceBytes} bytes of storage; refusing to load a file that expands this much`,
      );
    }
    out.set(key, toHost(gather(view, v), v.dtype, [...v.size]));
  }
  return out;
}

// ---- picking the state_dict out of a training checkpoint

const WRAPPER_KEYS: Record<'state_dict' | 'state_dict_ema' | 'model', string[]> = {
  state_dict: ['state_dict', 'model_state_dict'],
  model: ['model', 'model_state'],
  state_dict_ema: ['state_dict_ema', 'ema_state_dict', 'model_ema'],
};
const DEFAULT_ORDER = ['state_dict', 'model_state_dict', 'model', 'model_state', 'state_dict_ema', 'ema_state_dict', 'model_ema'];

function hasTensors(m: Map<unknown, unknown>): boolean {
  for (const v of m.values()) if (v instanceof TensorRef) return true;
  return false;
}

function describeKeys(m: Map<unknown, unknown>): string {
  const ks = ([...m.keys()].filter((k) => typeof k === 'string').slice(0, 8) as string[]).map((k) => cleanText(k, 60));
  return ks.length ? ks.join(', ') : '(none)';
}

function selectStateDict(top: unknown, opts: TorchLoadOptions, depth = 0): Map<unknown, unknown> {
  if (!(top instanceof Map)) {
    throw new HybridVisionError(
      `checkpoint does not hold a state_dict (top-level object is ${top === null ? 'None' : Array.isArray(top) ? 'a list' : typeof top}); save model.state_dict() instead`,
    );
  }
  const present = DEFAULT_ORDER.filter((k) => top.get(k) instanceof Map);
  const isWrapper = present.length > 0 && !hasTensors(top);
  if (!isWrapper) {
    if (opts.prefer === 'state_dict_ema') {
      throw new HybridVisionError(`checkpoint has no EMA weights (no state_dict_ema entry); its keys: ${describeKeys(top)}`);
    }
    return top;
  }
  let chosen: string | undefined;
  if (opts.prefer) {
    chosen = WRAPPER_KEYS[opts.prefer].find((k) => top.get(k) instanceof Map);
    if (!chosen) {
      throw new HybridVisionError(`checkpoint has no '${opts.prefer}' entry; its keys: ${describeKeys(top)}`);
    }
  } else {
    chosen = present[0]!;
  }
  const inner = top.get(chosen) as Map<unknown, unknown>;
  // one more level for wrappers like {'model': {'state_dict': ...}}
  if (depth === 0 && !hasTensors(inner) && DEFAULT_ORDER.some((k) => inner.get(k) instanceof Map)) {
    return selectStateDict(inner, { prefer: opts.prefer === 'state_dict_ema' ? 'state_dict_ema' : undefined }, 1);
  }
  return inner;
}

// ---- the two container formats

function zipCheckpoint(zip: ZipArchive): { prefix: string } {
  const names = zip.names();
  const pkl = names.find((n) => /^([^/]+\/)?data\.pkl$/.test(n)) ?? names.find((n) => n.endsWith('/data.pkl'));
  const prefix = pkl ? pkl.slice(0, -'data.pkl'.length) : '';
  if (zip.has(`${prefix}constants.pkl`) || names.some((n) => n.startsWith(`${prefix}code/`))) {
    throw new HybridVisionError('this is a TorchScript archive (torch.jit.save), not a state_dict; save model.state_dict() with torch.save instead');
  }
  if (!pkl) throw new HybridVisionError('zip archive has no data.pkl: not a torch.save checkpoint');
  return { prefix };
}

async function readZipCheckpoint(bytes: Uint8Array, opts: TorchLoadOptions): Promise<Map<string, HostTensor>> {
  const zip = openZip(bytes);
  const { prefix } = zipCheckpoint(zip);
  if (zip.has(`${prefix}byteorder`)) {
    const order = new TextDecoder().decode(await zip.read(`${prefix}byteorder`)).trim();
    if (order !== 'little') throw new HybridVisionError(`checkpoint byte order is '${cleanText(order)}': only little-endian checkpoints are supported`);
  }
  const pklBytes = await zip.read(`${prefix}data.pkl`);
  const storages = new Map<string, LazyStorage>();
  const persistentLoad = (pid: unknown): unknown => {
    if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) {
      throw new HybridVisionError(`checkpoint has an unsupported persistent id ${describeValue(pid)}`);
    }
    const dtype = storageClassDType(pid[1]);
    const key = storageKey(pid[2]);
    const count = asInt(pid[4], 'storage size');
    let s = storages.get(key);
    if (!s) {
      s = new LazyStorage(key, dtype, count);
      storages.set(key, s);
    } else if (s.dtype !== dtype) {
      // the same bytes viewed with another dtype (rare): describe it with its own element count
      s = new LazyStorage(key, dtype, count);
    }
    return s;
  };
  const top = loadPickleAt(pklBytes, 0, { globals: GLOBALS, persistentLoad }).value;
  const dict = selectStateDict(top, opts);
  return materialise(dict, async (s) => {
    const name = `${prefix}data/${s.rootKey}`;
    if (!zip.has(name)) throw new HybridVisionError(`checkpoint is missing storage '${cleanText(name)}'`);
    const need = s.rootNumel * ELEM_SIZE[s.dtype];
    const declared = zip.entry(name)!.size;
    if (declared < need) throw new HybridVisionError(`checkpoint storage '${cleanText(name)}' has ${declared} bytes, expected ${need}`);
    const b = await zip.read(name);
    return b;
  });
}

/** Storage keys are short strings (torch writes '0', '1', ...; old files may use ints). */
function storageKey(v: unknown): string {
  if (typeof v === 'string' || (typeof v === 'number' && Number.isSafeInteger(v))) return String(v);
  throw new HybridVisionError(`checkpoint storage key is ${describeValue(v)}, not a name`);
}

/** The first pickle of a legacy checkpoint: the integer 0x1950a86a20f9469cfc6c (LONG1, 10 bytes). */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PREFIX = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

async function readLegacyCheckpoint(bytes: Uint8Array, opts: TorchLoadOptions): Promise<Map<string, HostTensor>> {
  const noGlobals = { globals: new Map<string, PyConstructor>() };
  let r = loadPickleAt(bytes, 0, noGlobals);
  if (r.value !== LEGACY_MAGIC) throw new HybridVisionError('not a legacy torch checkpoint (wrong magic number)');
  r = loadPickleAt(bytes, r.end, noGlobals);
  if (r.value !== 1001) throw new HybridVisionError(`unsupported legacy torch checkpoint protocol ${String(r.value)}`);
  r = loadPickleAt(bytes, r.end, noGlobals);
  const sysInfo = r.value;
  if (sysInfo instanceof Map && sysInfo.get('little_endian') === false) {
    throw new HybridVisionError('checkpoint was saved on a big-endian machine: only little-endian checkpoints are supported');
  }
  const roots = new Map<string, LazyStorage>();
  const views = new Map<string, LazyStorage>();
  const persistentLoad = (pid: unknown): unknown => {
    if (!Array.isArray(pid)) throw new HybridVisionError(`checkpoint has an unsupported persistent id ${describeValue(pid)}`);
    if (pid[0] === 'module') return pid[1] ?? null;
    if (pid[0] !== 'storage' || pid.length < 5) throw new HybridVisionError(`checkpoint has an unsupported persistent id ${describeValue(pid)}`);
    const dtype = storageClassDType(pid[1]);
    const key = storageKey(pid[2]);
    const count = asInt(pid[4], 'storage size');
    let root = roots.get(key);
    if (!root) {
      root = new LazyStorage(key, dtype, count);
      roots.set(key, root);
    }
    const view = pid[5];
    if (Array.isArray(view) && view.length === 3) {
      const viewKey = storageKey(view[0]);
      let v = views.get(viewKey);
      if (!v) {
        const vOff = asInt(view[1], 'storage view offset');
        const vLen = asInt(view[2], 'storage view size');
        if (vOff < 0 || vLen < 0 || vOff + vLen > root.rootNumel) throw new HybridVisionError(`checkpoint storage view '${cleanText(viewKey)}' lies outside its storage`);
        v = new LazyStorage(key, root.dtype, root.rootNumel, vOff, vLen);
        views.set(viewKey, v);
      }
      return v;
    }
    return root;
  };
  r = loadPickleAt(bytes, r.end, { globals: GLOBALS, persistentLoad });
  const top = r.value;
  r = loadPickleAt(bytes, r.end, noGlobals);
  const keys = r.value;
  if (!Array.isArray(keys)) throw new HybridVisionError('legacy torch checkpoint has no storage key list');
  // Storage records follow back to back: int64 element count, then the raw bytes.
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = new Map<string, Uint8Array>();
  let pos = r.end;
  for (const k of keys) {
    const key = storageKey(k);
    const shown = cleanText(key);
    const s = roots.get(key);
    if (!s) throw new HybridVisionError(`legacy torch checkpoint lists storage '${shown}' that the pickle never references`);
    if (data.has(key)) throw new HybridVisionError(`legacy torch checkpoint lists storage '${shown}' twice`);
    if (pos + 8 > bytes.length) throw new HybridVisionError(`legacy torch checkpoint is truncated before storage '${shown}'`);
    const count = dv.getBigInt64(pos, true);
    pos += 8;
    if (count < 0n || count !== BigInt(s.rootNumel)) {
      throw new HybridVisionError(`legacy torch checkpoint storage '${shown}' has ${count} elements, the pickle says ${s.rootNumel}`);
    }
    const len = s.rootNumel * ELEM_SIZE[s.dtype];
    if (pos + len > bytes.length) throw new HybridVisionError(`legacy torch checkpoint is truncated inside storage '${shown}'`);
    data.set(key, bytes.subarray(pos, pos + len));
    pos += len;
  }
  const dict = selectStateDict(top, opts);
  return materialise(dict, async (s) => {
    const b = data.get(s.rootKey);
    if (!b) throw new HybridVisionError(`legacy torch checkpoint has no data for storage '${cleanText(s.rootKey)}'`);
    return b;
  });
}

function startsWith(bytes: Uint8Array, prefix: readonly number[]): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

export function isZip(bytes: Uint8Array): boolean {
  return startsWith(bytes, [0x50, 0x4b, 0x03, 0x04]) || startsWith(bytes, [0x50, 0x4b, 0x05, 0x06]);
}

export function isLegacyTorch(bytes: Uint8Array): boolean {
  return startsWith(bytes, LEGACY_PREFIX);
}

/** True when the bytes start like a safetensors file (plausible header length, then '{'). */
export function isSafetensors(bytes: Uint8Array): boolean {
  if (bytes.length < 10) return false;
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  return n >= 2n && n <= BigInt(bytes.length - 8) && bytes[8] === 0x7b;
}

/**
 * Reads a torch.save checkpoint (zip or legacy format) and returns its state_dict: tensors only,
 * contiguous copies, with a leading `module.` stripped from keys. Float64/16 and bfloat16 become
 * float32; int16/int8 become int32.
 */
export async function readTorchCheckpoint(bytes: Uint8Array, opts: TorchLoadOptions = {}): Promise<Map<string, HostTensor>> {
  if (isZip(bytes)) return readZipCheckpoint(bytes, opts);
  if (isLegacyTorch(bytes)) return readLegacyCheckpoint(bytes, opts);
  throw new HybridVisionError('not a torch.save checkpoint (neither a zip archive nor a legacy torch pickle)');
}

/**
 * Reads any supported checkpoint: safetensors, a torch.save zip, or a legacy torch pickle. The
 * name hint (a file name) only improves error messages and forces safetensors for `.safetensors`.
 */
export async function readCheckpoint(
  bytes: Uint8Array,
  nameHint?: string,
  opts: TorchLoadOptions = {},
): Promise<Map<string, HostTensor>> {
  const forSafetensors = nameHint !== undefined && /\.safetensors$/i.test(nameHint);
  if (!forSafetensors) {
    if (isZip(bytes)) return readZipCheckpoint(bytes, opts);
    if (isLegacyTorch(bytes)) return readLegacyCheckpoint(bytes, opts);
  }
  if (forSafetensors || isSafetensors(bytes)) {
    const { tensors } = readSafetensors(bytes);
    const out = new Map<string, HostTensor>();
    for (const [k, v] of tensors) out.set(k.startsWith('module.') ? k.slice(7) : k, v);
    return out;
  }
  const what = nameHint ? ` of ${nameHint}` : '';
  if (bytes.length >= 262 && new TextDecoder().decode(bytes.subarray(257, 262)) === 'ustar') {
    throw new HybridVisionError(`unrecognised checkpoint format${what}: a tar archive (torch < 0.4 format), which is not supported`);
  }
  const head = [...bytes.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new HybridVisionError(
    `unrecognised checkpoint format${what} (starts with ${head || 'nothing'}): expected safetensors, a torch.save zip archive or a legacy torch.save pickle`,
  );
}
