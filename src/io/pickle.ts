/**
 * A safe pickle virtual machine (core: no Node built-ins). Understands the opcodes of protocols 0-5
 * but NEVER executes code: every GLOBAL / STACK_GLOBAL / INST is resolved through an allowlist
 * supplied by the caller (a map from "module.name" to a pure-data constructor); anything else throws
 * HybridVisionError("checkpoint references a disallowed Python global: module.name").
 *
 * Python values map to JS as: None -> null, bool -> boolean, int -> number (bigint beyond 2^53),
 * float -> number, str -> string, bytes/bytearray -> Uint8Array, list/tuple -> Array,
 * dict -> Map, set/frozenset -> Set, globals -> PyGlobal.
 */
import { HybridVisionError } from '../tensor.js';
import { cleanText, describeValue } from './text.js';

/** A pure-data constructor for an allowlisted global: called for REDUCE, NEWOBJ(_EX), INST and OBJ. */
export type PyConstructor = (args: unknown[], kwargs?: Map<unknown, unknown>) => unknown;

/** An allowlisted Python global as it sits on the pickle stack (e.g. a class passed as a value). */
export class PyGlobal {
  constructor(
    readonly name: string,
    readonly construct: PyConstructor,
  ) {
    Object.freeze(this);
  }
  toString(): string {
    return `<global ${cleanText(this.name)}>`;
  }
}

/** Objects may define this method to receive the state of a BUILD opcode. */
export const PY_SETSTATE: unique symbol = Symbol('hybridvision.pickle.setstate');

export interface PyStateful {
  [PY_SETSTATE](state: unknown): void;
}

export interface PickleOptions {
  /** Allowlist: "module.name" -> pure-data constructor. Nothing else can be referenced. */
  globals: ReadonlyMap<string, PyConstructor> | Readonly<Record<string, PyConstructor>>;
  /** Resolves BINPERSID / PERSID ids; without it a persistent id is an error. */
  persistentLoad?: (pid: unknown) => unknown;
  /**
   * How many container items the allowlisted constructors may receive in total (default: 2^20 plus
   * the pickle's length). Each call's arguments are charged, so a small pickle cannot make a
   * constructor copy one big memoised list or string over and over.
   */
  workBudget?: number;
}

/** The longest integer (in bytes) a checkpoint pickle may hold; torch's own magic number has 10. */
export const MAX_LONG_BYTES = 64;

export interface PickleResult {
  value: unknown;
  /** Offset of the first byte after the STOP opcode. */
  end: number;
}

// Python 2 module names that Python 3's unpickler maps for protocols < 3 (fix_imports).
const FIX_IMPORTS: Record<string, string> = {
  __builtin__: 'builtins',
  copy_reg: 'copyreg',
};

function err(msg: string): HybridVisionError {
  return new HybridVisionError(`corrupt pickle: ${msg}`);
}

function intValue(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function decodeLong(b: Uint8Array): number | bigint {
  // little-endian two's complement, read in one pass through a hex string (linear, unlike shifting)
  if (b.length === 0) return 0;
  let hex = '';
  for (let i = b.length - 1; i >= 0; i--) hex += HEX[b[i]!];
  let v = BigInt(`0x${hex}`);
  if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return intValue(v);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function lookup(globals: PickleOptions['globals'], name: string): PyConstructor | undefined {
  if (globals instanceof Map) return (globals as ReadonlyMap<string, PyConstructor>).get(name);
  const rec = globals as Readonly<Record<string, PyConstructor>>;
  return Object.prototype.hasOwnProperty.call(rec, name) ? rec[name] : undefined;
}

/**
 * Applies BUILD. Only objects made by an allowlisted constructor that defines a setstate hook take
 * state; on a dict (torch's `_metadata` attribute of an OrderedDict) it is ignored. Anything else —
 * the loader's own tensor, storage and global objects included — is refused, so the stream can
 * never rewrite fields that were checked when the object was made.
 */
function applyBuild(obj: unknown, state: unknown, at: number): void {
  // Only code can attach the (symbol-keyed) hook: the stream can set string keys at most.
  if (obj !== null && typeof obj === 'object' && typeof (obj as Partial<PyStateful>)[PY_SETSTATE] === 'function') {
    (obj as PyStateful)[PY_SETSTATE](state);
    return;
  }
  if (obj instanceof Map) return;
  throw err(`BUILD (setting object state) on ${describeValue(obj, 0)} at byte ${at} is not allowed`);
}

function str(v: unknown): string {
  if (typeof v === 'string') return v;
  throw err(`expected a string for STACK_GLOBAL, got ${describeValue(v, 0)}`);
}

/** Shallow size of a value handed to a constructor, for the work budget. */
function itemCount(v: unknown): number {
  if (typeof v === 'string' || Array.isArray(v) || v instanceof Uint8Array) return v.length;
  if (v instanceof Map || v instanceof Set) return v.size;
  return 0;
}

// Text INT / LONG literals longer than this are corrupt (BigInt parses decimal in quadratic time).
const MAX_INT_DIGITS = 2 * MAX_LONG_BYTES + 8;

/** Runs one pickle starting at `offset` and returns its value and end offset. */
export function loadPickleAt(bytes: Uint8Array, offset: number, opts: PickleOptions): PickleResult {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  let proto = 0;
  let pos = offset;

  const need = (k: number): void => {
    if (k < 0 || pos + k > n) throw err(`truncated at byte ${pos} (needs ${k} more bytes)`);
  };
  const u8 = (): number => {
    need(1);
    return bytes[pos++]!;
  };
  const u16 = (): number => {
    need(2);
    const v = dv.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = dv.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = dv.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(n)) throw err(`length ${v} at byte ${pos - 8} exceeds the data`);
    return Number(v);
  };
  const take = (k: number): Uint8Array => {
    need(k);
    const b = bytes.subarray(pos, pos + k);
    pos += k;
    return b;
  };
  const line = (): string => {
    const e = bytes.indexOf(0x0a, pos);
    if (e < 0) throw err(`unterminated text line at byte ${pos}`);
    const s = latin1(bytes.subarray(pos, e));
    pos = e + 1;
    return s;
  };
  const decodeUtf8 = (b: Uint8Array): string => {
    try {
      return utf8.decode(b);
    } catch {
      throw err(`invalid UTF-8 string at byte ${pos - b.length}`);
    }
  };
  const pop = (): unknown => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1]!)) {
      throw err(`stack underflow at byte ${pos - 1}`);
    }
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) throw err(`stack underflow at byte ${pos - 1}`);
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) throw err(`MARK missing at byte ${pos - 1}`);
    return stack.splice(m);
  };
  const resolveGlobal = (module: string, name: string): PyGlobal => {
    const written = `${module}.${name}`;
    let fn = lookup(opts.globals, written);
    if (!fn && proto < 3 && FIX_IMPORTS[module]) fn = lookup(opts.globals, `${FIX_IMPORTS[module]}.${name}`);
    if (!fn) throw new HybridVisionError(`checkpoint references a disallowed Python global: ${cleanText(written)}`);
    return new PyGlobal(written, fn);
  };
  let budget = opts.workBudget ?? 2 ** 20 + n;
  const call = (callable: unknown, args: unknown, kwargs?: Map<unknown, unknown>): unknown => {
    if (!(callable instanceof PyGlobal)) throw err(`call of a non-callable value at byte ${pos - 1}`);
    if (!Array.isArray(args)) throw err(`call arguments are not a tuple at byte ${pos - 1}`);
    budget -= args.length + (kwargs ? kwargs.size : 0);
    for (const a of args) budget -= itemCount(a);
    if (budget < 0) throw err(`the pickle asks for more work than its size allows (at byte ${pos - 1}): it repeats large values`);
    return callable.construct(args, kwargs);
  };
  const memoPut = (idx: number): void => {
    memo.set(idx, top());
  };
  const memoGet = (idx: number): void => {
    if (!memo.has(idx)) throw err(`memo key ${idx} not found at byte ${pos}`);
    stack.push(memo.get(idx));
  };
  const setItems = (dict: unknown, items: unknown[]): void => {
    if (items.length % 2 !== 0) throw err(`odd number of items for SETITEMS at byte ${pos - 1}`);
    if (!(dict instanceof Map)) throw err(`SETITEM on ${describeValue(dict, 0)}, not a dict, at byte ${pos - 1}`);
    for (let i = 0; i < items.length; i += 2) dict.set(items[i], items[i + 1]);
  };
  const appendItems = (list: unknown, items: unknown[]): void => {
    if (!Array.isArray(list) || Object.isFrozen(list)) throw err(`APPEND on ${describeValue(list, 0)}, not a list, at byte ${pos - 1}`);
    for (const it of items) list.push(it);
  };
  const persistent = (pid: unknown): unknown => {
    if (!opts.persistentLoad) throw new HybridVisionError('pickle uses persistent ids but no persistent_load handler was given');
    return opts.persistentLoad(pid);
  };

  for (;;) {
    if (pos >= n) throw err(`truncated at byte ${pos}: no STOP opcode`);
    const at = pos;
    const op = bytes[pos++]!;
    switch (op) {
      case 0x80: // PROTO
        proto = u8();
        if (proto > 5) throw err(`unsupported pickle protocol ${proto}`);
        break;
      case 0x95: // FRAME
        u64();
        break;
      case 0x2e: // STOP '.'
        if (stack.length === 0) throw err(`empty stack at STOP (byte ${at})`);
        return { value: stack[stack.length - 1], end: pos };
      case 0x28: // MARK '('
        marks.push(stack.length);
        break;
      case 0x30: // POP '0'
        if (marks.length > 0 && stack.length === marks[marks.length - 1]) marks.pop();
        else pop();
        break;
      case 0x31: // POP_MARK '1'
        popMark();
        break;
      case 0x32: // DUP '2'
        stack.push(top());
        break;
      // ---- constants
      case 0x4e: // NONE 'N'
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x49: {
        // INT 'I' (text)
        const s = line().trim();
        if (s === '00') stack.push(false);
        else if (s === '01') stack.push(true);
        else {
          if (!/^[+-]?\d+$/.test(s) || s.length > MAX_INT_DIGITS) throw err(`bad INT literal at byte ${at}`);
          stack.push(intValue(BigInt(s)));
        }
        break;
      }
      case 0x4a: // BININT 'J'
        stack.push(i32());
        break;
      case 0x4b: // BININT1 'K'
        stack.push(u8());
        break;
      case 0x4d: // BININT2 'M'
        stack.push(u16());
        break;
      case 0x4c: {
        // LONG 'L' (text)
        let s = line().trim();
        if (s.endsWith('L')) s = s.slice(0, -1);
        if (!/^[+-]?\d+$/.test(s) || s.length > MAX_INT_DIGITS) throw err(`bad LONG literal at byte ${at}`);
        stack.push(intValue(BigInt(s)));
        break;
      }
      case 0x8a: {
        // LONG1
        const k = u8();
        if (k > MAX_LONG_BYTES) throw err(`integer of ${k} bytes at byte ${at}; no checkpoint value needs more than ${MAX_LONG_BYTES}`);
        stack.push(decodeLong(take(k)));
        break;
      }
      case 0x8b: {
        // LONG4
        const k = i32();
        if (k < 0) throw err(`negative LONG4 length at byte ${at}`);
        if (k > MAX_LONG_BYTES) throw err(`integer of ${k} bytes at byte ${at}; no checkpoint value needs more than ${MAX_LONG_BYTES}`);
        stack.push(decodeLong(take(k)));
        break;
      }
      case 0x46: {
        // FLOAT 'F' (text)
        const s = line().trim();
        const v = Number(s);
        if (Number.isNaN(v) && !/^[+-]?nan$/i.test(s)) throw err(`bad FLOAT literal at byte ${at}`);
        stack.push(v);
        break;
      }
      case 0x47: // BINFLOAT 'G' (big-endian double)
        need(8);
        stack.push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      // ---- strings and bytes
      case 0x53: {
        // STRING 'S' (quoted repr, protocol 0)
        const s = line();
        const q = s[0];
        if (s.length < 2 || (q !== "'" && q !== '"') || s[s.length - 1] !== q) throw err(`bad STRING literal at byte ${at}`);
        stack.push(unescapePy(s.slice(1, -1)));
        break;
      }
      case 0x54: {
        // BINSTRING 'T' (python 2 str)
        const k = i32();
        if (k < 0) throw err(`negative BINSTRING length at byte ${at}`);
        stack.push(py2str(take(k)));
        break;
      }
      case 0x55: // SHORT_BINSTRING 'U'
        stack.push(py2str(take(u8())));
        break;
      case 0x56: // UNICODE 'V' (raw-unicode-escape)
        stack.push(rawUnicodeEscape(line()));
        break;
      case 0x58: // BINUNICODE 'X'
        stack.push(decodeUtf8(take(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(decodeUtf8(take(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(decodeUtf8(take(u64())));
        break;
      case 0x42: // BINBYTES 'B'
        stack.push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES 'C'
        stack.push(take(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
        stack.push(take(u64()).slice());
        break;
      case 0x96: // BYTEARRAY8
        stack.push(take(u64()).slice());
        break;
      case 0x97: // NEXT_BUFFER
        throw new HybridVisionError('pickle uses out-of-band buffers (NEXT_BUFFER), which are not supported');
      case 0x98: // READONLY_BUFFER
        break;
      // ---- containers
      case 0x29: // EMPTY_TUPLE ')'
        stack.push([]);
        break;
      case 0x74: // TUPLE 't'
        stack.push(popMark());
        break;
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push([a, b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push([a, b, c]);
        break;
      }
      case 0x5d: // EMPTY_LIST ']'
        stack.push([]);
        break;
      case 0x6c: // LIST 'l'
        stack.push(popMark());
        break;
      case 0x61: {
        // APPEND 'a'
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS 'e'
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x7d: // EMPTY_DICT '}'
        stack.push(new Map());
        break;
      case 0x64: {
        // DICT 'd'
        const items = popMark();
        const d = new Map();
        setItems(d, items);
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM 's'
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS 'u'
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new Set());
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) throw err(`ADDITEMS on a non-set at byte ${at}`);
        for (const it of items) s.add(it);
        break;
      }
      case 0x91: // FROZENSET
        stack.push(new Set(popMark()));
        break;
      // ---- memo
      case 0x70: // PUT 'p'
        memoPut(parseIntLine(line(), at));
        break;
      case 0x71: // BINPUT 'q'
        memoPut(u8());
        break;
      case 0x72: // LONG_BINPUT 'r'
        memoPut(u32());
        break;
      case 0x94: // MEMOIZE
        memoPut(memo.size);
        break;
      case 0x67: // GET 'g'
        memoGet(parseIntLine(line(), at));
        break;
      case 0x68: // BINGET 'h'
        memoGet(u8());
        break;
      case 0x6a: // LONG_BINGET 'j'
        memoGet(u32());
        break;
      // ---- globals and object construction (allowlist only)
      case 0x63: {
        // GLOBAL 'c'
        const module = line();
        const name = line();
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = str(pop());
        const module = str(pop());
        stack.push(resolveGlobal(module, name));
        break;
      }
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        throw new HybridVisionError('pickle uses the copyreg extension registry (EXT opcodes), which is not supported');
      case 0x52: {
        // REDUCE 'R'
        const args = pop();
        const callable = pop();
        stack.push(call(callable, args));
        break;
      }
      case 0x81: {
        // NEWOBJ
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args, kwargs instanceof Map ? kwargs : undefined));
        break;
      }
      case 0x69: {
        // INST 'i'
        const module = line();
        const name = line();
        const g = resolveGlobal(module, name);
        stack.push(call(g, popMark()));
        break;
      }
      case 0x6f: {
        // OBJ 'o'
        const items = popMark();
        if (items.length === 0) throw err(`OBJ without a class at byte ${at}`);
        stack.push(call(items[0], items.slice(1)));
        break;
      }
      case 0x62: {
        // BUILD 'b'
        const state = pop();
        applyBuild(top(), state, at);
        break;
      }
      case 0x50: // PERSID 'P'
        stack.push(persistent(line()));
        break;
      case 0x51: // BINPERSID 'Q'
        stack.push(persistent(pop()));
        break;
      default:
        throw err(`unknown opcode 0x${op.toString(16).padStart(2, '0')} at byte ${at}`);
    }
  }
}

/** Runs one pickle and returns its value. */
export function loadPickle(bytes: Uint8Array, opts: PickleOptions): unknown {
  return loadPickleAt(bytes, 0, opts).value;
}

function parseIntLine(s: string, at: number): number {
  const t = s.trim();
  if (!/^\d+$/.test(t)) throw err(`bad memo index at byte ${at}`);
  return Number(t);
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

/** Python 2 `str` bytes: UTF-8 when valid (as torch.load's encoding='utf-8' does), else latin-1. */
function py2str(b: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(b);
  } catch {
    return latin1(b);
  }
}

function unescapePy(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_m, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
    const map: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v' };
    return map[e] ?? `\\${e}`;
  });
}

function rawUnicodeEscape(s: string): string {
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_m, a?: string, b?: string) => String.fromCodePoint(parseInt((a ?? b)!, 16)));
}
