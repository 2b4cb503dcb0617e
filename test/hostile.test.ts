/**
 * Hostile and broken files through the CLI, each generated here: the run must end with one
 * 'hybridvision: error:' line that names the file, exit code 1, within seconds and in bounded
 * memory (child process with a heap limit; peak RSS measured by test/helpers/rss_probe.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';
import { writeSafetensors } from '../src/io/safetensors.js';
import { modelToSafetensors } from '../src/models/model_file.js';
import { createModel } from '../src/models/registry.js';
import { runLimited } from './helpers/limited_cli.js';
import {
  Build,
  buildLegacyCheckpoint,
  buildTorchZip,
  buildZip,
  crc32,
  dumpsTorch,
  f32Bytes,
  Global,
  OrderedDictNode,
  PickleWriter,
  Raw,
  Tuple,
  Call,
  Persid,
  tensorNode,
  type FakeTensor,
  type PyNode,
} from './helpers/pickle_writer.js';

const tmp = mkdtempSync(join(tmpdir(), 'hv-hostile-'));
/** Peak RSS allowed for a run that fails on a hostile file (the CLI failing on a missing file peaks at ~80 MiB). */
const MAX_RSS = 256 * 2 ** 20;
const MAX_MS = 20_000;

function file(name: string, bytes: Uint8Array): string {
  const p = join(tmp, name);
  writeFileSync(p, bytes);
  return p;
}

/** One line naming the file, exit 1, no terminal escapes, bounded time and memory. */
function assertRefused(args: string[], path: string, pattern: RegExp): void {
  const r = runLimited(args);
  const what = `${basename(path)}: ${r.err.trim()}`;
  assert.equal(r.code, 1, `exit code ${r.code} (signal ${r.signal}) for ${what}`);
  const lines = r.err.trim().split('\n');
  assert.equal(lines.length, 1, `one line, got:\n${r.err}`);
  assert.match(lines[0]!, /^hybridvision: error: /);
  assert.ok(lines[0]!.includes(basename(path)), `names the file: ${lines[0]}`);
  assert.match(lines[0]!, pattern);
  assert.ok(!/[\x00-\x08\x0b-\x1f\x7f]/.test(r.err), `no control characters on stderr: ${JSON.stringify(r.err)}`);
  assert.ok(r.peakRss > 0 && r.peakRss < MAX_RSS, `peak RSS ${(r.peakRss / 2 ** 20).toFixed(0)} MiB for ${what}`);
  assert.ok(r.ms < MAX_MS, `${r.ms.toFixed(0)} ms for ${what}`);
  console.log(`${basename(path)}: refused in ${r.ms.toFixed(0)} ms, peak RSS ${(r.peakRss / 2 ** 20).toFixed(0)} MiB`);
}

const inputFile = file('input.safetensors', writeSafetensors({ input: { dtype: 'float32', shape: [1, 3, 64, 64], data: new Float32Array(3 * 64 * 64) } }));
const runWith = (weights: string) => ['run', 'mobilevitv3_xxs', '--weights', weights, '--input', inputFile, '--output', join(tmp, 'out.safetensors')];

// ---- builders

const storage = (key: string, numel: number, size: number[], stride: number[], extra: Partial<FakeTensor> = {}): FakeTensor => ({
  storageKey: key,
  storageClass: 'FloatStorage',
  storageNumel: numel,
  size,
  stride,
  ...extra,
});

function pt(entries: [string, PyNode][], storages: Map<string, Uint8Array>): Uint8Array {
  return buildTorchZip('archive', dumpsTorch(new OrderedDictNode(entries)), storages);
}

function pthTar(entries: [string, PyNode][], storages: { key: string; elemSize: number; data: Uint8Array }[]): Uint8Array {
  return buildLegacyCheckpoint(dumpsTorch(new OrderedDictNode(entries)), storages);
}

/** Stored zip members written in order, then the given central-directory records (for overlap and name tricks). */
function craftZip(members: { name: string; data: Uint8Array }[], central: (offsets: number[]) => { name: string; offset: number; data: Uint8Array }[]): Uint8Array {
  const out: number[] = [];
  const u16 = (v: number) => out.push(v & 0xff, (v >>> 8) & 0xff);
  const u32 = (v: number) => out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  const enc = new TextEncoder();
  const offsets: number[] = [];
  for (const m of members) {
    offsets.push(out.length);
    out.push(...localHeader(m.name, m.data));
    for (const b of m.data) out.push(b);
  }
  const cdStart = out.length;
  const recs = central(offsets);
  for (const c of recs) {
    const name = enc.encode(c.name);
    u32(0x02014b50);
    u16(20);
    u16(20);
    u16(0);
    u16(0);
    u16(0);
    u16(0);
    u32(crc32(c.data));
    u32(c.data.length);
    u32(c.data.length);
    u16(name.length);
    u16(0);
    u16(0);
    u16(0);
    u16(0);
    u32(0);
    u32(c.offset);
    for (const b of name) out.push(b);
  }
  const cdSize = out.length - cdStart;
  u32(0x06054b50);
  u16(0);
  u16(0);
  u16(recs.length);
  u16(recs.length);
  u32(cdSize);
  u32(cdStart);
  u16(0);
  return Uint8Array.from(out);
}

function localHeader(nameText: string, data: Uint8Array): number[] {
  const name = new TextEncoder().encode(nameText);
  const out: number[] = [];
  const u16 = (v: number) => out.push(v & 0xff, (v >>> 8) & 0xff);
  const u32 = (v: number) => out.push(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  u32(0x04034b50);
  u16(20);
  u16(0);
  u16(0);
  u16(0);
  u16(0);
  u32(crc32(data));
  u32(data.length);
  u32(data.length);
  u16(name.length);
  u16(0);
  for (const b of name) out.push(b);
  return out;
}

const weightPickle = () => dumpsTorch(new OrderedDictNode([['w', tensorNode(storage('0', 4, [4], [1]))]]));
const sixteen = f32Bytes([1, 2, 3, 4]);

// ---- 1. unbounded memory

test('stride-0 views of a 16-byte storage (.pt and .pth.tar) are refused before any expansion', () => {
  const big = (k: string) => tensorNode(storage('0', 4, [2 ** 29], [0]));
  const bytes = pt([['a', big('a')], ['b', big('b')]], new Map([['0', sixteen]]));
  assert.ok(bytes.length < 2000, `${bytes.length} bytes`);
  const a = file('stride0.pt', bytes);
  assertRefused(runWith(a), a, /has 536870912 elements but its storage only 4; refusing to expand/);
  const legacy = (k: string) => tensorNode(storage('0', 4, [2 ** 29], [0]), true);
  const b = file('stride0.pth.tar', pthTar([['a', legacy('a')], ['b', legacy('b')]], [{ key: '0', elemSize: 4, data: sixteen }]));
  assertRefused(runWith(b), b, /refusing to expand/);
  // overlapping strides: a 4096x4096 view of 8191 elements
  const c = file('overlap-stride.pt', pt([['a', tensorNode(storage('0', 8191, [4096, 4096], [1, 1]))]], new Map([['0', new Uint8Array(8191 * 4)]])));
  assertRefused(runWith(c), c, /refusing to expand a stride-0 or overlapping view/);
});

test('a deflated zip member that honestly declares 80 MiB is refused before inflating it', () => {
  const pkl = new Uint8Array(80 * 2 ** 20);
  pkl.set(weightPickle());
  const bytes = buildZip([
    { name: 'archive/data.pkl', data: pkl, deflate: true },
    { name: 'archive/data/0', data: sixteen },
  ]);
  const p = file('bomb.pt', bytes);
  assert.ok(bytes.length < 200_000, `${bytes.length} bytes`);
  assertRefused(runWith(p), p, /would inflate to 83886080 bytes, more than an archive of \d+ bytes may hold/);
});

test('zip members that overlap, and central records that point at one member under other names, are refused', () => {
  const pkl = weightPickle();
  const hidden = Uint8Array.from([...localHeader('archive/data/1', sixteen), ...sixteen]);
  const overlap = craftZip(
    [
      { name: 'archive/data.pkl', data: pkl },
      { name: 'archive/data/0', data: hidden },
    ],
    (o) => [
      { name: 'archive/data.pkl', offset: o[0]!, data: pkl },
      { name: 'archive/data/0', offset: o[1]!, data: hidden },
      { name: 'archive/data/1', offset: o[1]! + 30 + 'archive/data/0'.length, data: sixteen },
    ],
  );
  const a = file('overlap.pt', overlap);
  assertRefused(runWith(a), a, /entries 'archive\/data\/0' and 'archive\/data\/1' overlap/);
  // six central records, one member: the local header names only one of them
  const six = craftZip(
    [
      { name: 'archive/data.pkl', data: pkl },
      { name: 'archive/data/0', data: sixteen },
    ],
    (o) => [{ name: 'archive/data.pkl', offset: o[0]!, data: pkl }, ...[0, 1, 2, 3, 4, 5].map((i) => ({ name: `archive/data/${i}`, offset: o[1]!, data: sixteen }))],
  );
  const b = file('six-records.pt', six);
  assertRefused(runWith(b), b, /the local header of 'archive\/data\/1' names another file \('archive\/data\/0'\)/);
});

// ---- 2. quadratic integer decoding

test('LONG4 with a 160 KB payload is refused at once (.pth.tar and .pt)', () => {
  const long4 = new Raw([0x8b, 0x00, 0x80, 0x02, 0x00, ...new Array(160 * 1024).fill(0x7f)]);
  const a = file('long4.pth.tar', pthTar([['n', long4]], []));
  assertRefused(runWith(a), a, /integer of 163840 bytes at byte \d+; no checkpoint value needs more than 64/);
  const b = file('long4.pt', buildTorchZip('archive', dumpsTorch(new OrderedDictNode([['n', long4]])), new Map()));
  assertRefused(runWith(b), b, /integer of 163840 bytes/);
  const text = new Raw([0x4c, ...new TextEncoder().encode('9'.repeat(200_000)), 0x0a]);
  const c = file('long-text.pt', buildTorchZip('archive', dumpsTorch(new OrderedDictNode([['n', text]])), new Map()));
  assertRefused(runWith(c), c, /bad LONG literal/);
});

test('a pickle that rebuilds one big memoised list a thousand times is refused (work budget)', () => {
  const w = new PickleWriter(2);
  w.byte(0x7d); // the result dict
  w.global('builtins', 'set'); // memo 0
  w.byte(0x5d, 0x71, 0x01, 0x28); // EMPTY_LIST, BINPUT 1, MARK
  for (let i = 0; i < 100_000; i++) w.byte(0x4b, i & 0xff);
  w.byte(0x65, 0x30); // APPENDS, POP
  w.byte(0x28); // MARK for SETITEMS
  for (let i = 0; i < 1000; i++) w.value(i).byte(0x68, 0x00, 0x68, 0x01, 0x85, 0x52); // key, set((list,))
  w.byte(0x75); // SETITEMS
  const bytes = buildLegacyCheckpoint(w.finish(), []);
  assert.ok(bytes.length < 300_000, `${bytes.length} bytes`);
  const a = file('amplify.pth.tar', bytes);
  assertRefused(runWith(a), a, /the pickle asks for more work than its size allows/);
});

// ---- 4. raw JavaScript errors

test('BUILD on the loader own objects (tensor, global) is refused', () => {
  const t = tensorNode(storage('0', 4, [4], [1]));
  const a = file('build-tensor.pt', pt([['w', new Build(t, new Map<PyNode, PyNode>([['offset', -16], ['size', new Tuple([2 ** 30])]]))]], new Map([['0', sixteen]])));
  assertRefused(runWith(a), a, /BUILD \(setting object state\) on a TensorRef object at byte \d+ is not allowed/);
  const g = new Build(new Global('collections', 'OrderedDict'), new Map<PyNode, PyNode>([['construct', 1]]));
  const b = file('build-global.pt', pt([['w', g]], new Map()));
  assertRefused(runWith(b), b, /BUILD \(setting object state\) on a PyGlobal object/);
});

test('SETITEM on bytes, deep lists and objects in persistent ids give plain errors', () => {
  const w = new PickleWriter(2);
  w.bytes(new Uint8Array(4)).value(1).value(2).byte(0x73);
  const a = file('setitem-bytes.pt', buildTorchZip('archive', w.finish(), new Map()));
  assertRefused(runWith(a), a, /SETITEM on bytes\(4\), not a dict/);
  const depth = 200_000;
  const deep = new Raw([...new Array(depth).fill(0x28), ...new Array(depth).fill(0x6c)]);
  const pid = (key: PyNode) =>
    new Call(new Global('torch._utils', '_rebuild_tensor_v2'), [new Persid(new Tuple(['storage', new Global('torch', 'FloatStorage'), key, 'cpu', 4])), 0, new Tuple([4]), new Tuple([1]), false, null]);
  const b = file('deep-pid.pt', pt([['w', pid(deep)]], new Map([['0', sixteen]])));
  assertRefused(runWith(b), b, /storage key is \(\(\[…1 items\]\)\), not a name/);
  const c = file('object-pid.pt', pt([['w', pid(new Map<PyNode, PyNode>([['k', 1]]))]], new Map([['0', sixteen]])));
  assertRefused(runWith(c), c, /storage key is dict\(1 items\), not a name/);
});

test('model-file metadata is validated: not JSON, inputSize 100000, pad 20000', () => {
  const t = { w: { dtype: 'float32' as const, shape: [1], data: new Float32Array(1) } };
  const a = file('meta-json.safetensors', writeSafetensors(t, { format: 'hybridvision', model: 'mobilevitv3_xxs', cfg: '{inputSize: oops' }));
  assertRefused(runWith(a), a, /metadata 'cfg' is not valid JSON/);
  const b = file('meta-size.safetensors', writeSafetensors(t, { model: 'mobilevitv3_xxs', cfg: JSON.stringify({ inputSize: [100000, 100000] }) }));
  assertRefused(runWith(b), b, /metadata 'cfg.inputSize' is \(100000, 100000\); it must be \[height, width\], each 1..2048/);
  const c = file('meta-pad.safetensors', writeSafetensors(t, { model: 'mobilevitv3_xxs', cfg: JSON.stringify({ inputSize: [256, 256], pad: 20000 }) }));
  assertRefused(runWith(c), c, /metadata 'cfg.pad' is 20000/);
  const d = file('meta-labels.safetensors', writeSafetensors(t, { model: 'mobilevitv3_xxs', labels: '{"a": 1}' }));
  assertRefused(runWith(d), d, /metadata 'labels' is an object; it must be a list/);
});

// ---- 5. terminal escapes

test('storage keys with ANSI escapes reach stderr escaped', () => {
  const evil = '\x1b[31mEVIL\x1b[0m\x07';
  const a = file('ansi.pt', pt([['w', tensorNode(storage(evil, 4, [4], [1]))]], new Map()));
  const r = runLimited(runWith(a));
  assert.equal(r.code, 1);
  assert.ok(!r.err.includes('\x1b') && !r.err.includes('\x07'), JSON.stringify(r.err));
  assert.match(r.err, /missing storage 'archive\/data\/\\x1b\[31mEVIL\\x1b\[0m\\x07'/);
  assertRefused(runWith(a), a, /missing storage/);
});

// ---- 8. duplicates and prototype names

test('duplicate zip entries, duplicate safetensors keys and a __proto__ dtype are refused', () => {
  const a = file('dup.pt', buildZip([
    { name: 'archive/data.pkl', data: weightPickle() },
    { name: 'archive/data/0', data: sixteen },
    { name: 'archive/data/0', data: f32Bytes([9, 9, 9, 9]) },
  ]));
  assertRefused(runWith(a), a, /the archive holds 'archive\/data\/0' twice/);
  const raw = (header: string, data: Uint8Array) => {
    const h = new TextEncoder().encode(header);
    const out = new Uint8Array(8 + h.length + data.length);
    new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
    out.set(h, 8);
    out.set(data, 8 + h.length);
    return out;
  };
  const b = file('dup.safetensors', raw('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', new Uint8Array(8)));
  assertRefused(runWith(b), b, /safetensors header lists 'w' more than once/);
  const c = file('proto.safetensors', raw('{"w":{"dtype":"__proto__","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4)));
  assertRefused(runWith(c), c, /unknown dtype '__proto__'/);
});

// ---- files that are something else

test('a JPEG as --input says it is not a safetensors file; as --weights, that it is no checkpoint', async () => {
  const m = createModel('mobilevitv3_xxs', { numClasses: 10 });
  const weights = file('model.safetensors', modelToSafetensors(m));
  await m.dispose();
  const jpeg = file('photo.jpg', Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, ...new Array(200).fill(7)]));
  assertRefused(['run', 'mobilevitv3_xxs', '--weights', weights, '--input', jpeg, '--output', join(tmp, 'o.safetensors')], jpeg, /photo\.jpg: not a safetensors file \(a JPEG image\)/);
  assertRefused(runWith(jpeg), jpeg, /unrecognised checkpoint format of photo\.jpg/);
});

// ---- 6. absurd arguments

test('absurd numbers get one-line range errors', () => {
  const cases: [string[], RegExp][] = [
    [['summary', 'mobilevitv3_xxs', '--num-classes', '1e9'], /--num-classes must be at most 100000, got '1e9'/],
    [['bench', 'mobilevitv3_xxs', '--batch', '100000'], /--batch needs positive whole numbers up to 1024, got '100000'/],
    [['bench', 'mobilevitv3_xxs', '--batch', '1024', '--size', '1024'], /a batch of 1024 at 1024x1024 needs a 12\.0 GiB input tensor/],
    [['summary', 'mobilevitv3_xxs', '--size', '100000'], /--size must be at most 2048 per side/],
    [['train', 'mobilevitv3_xxs', '--data', 'fashion-mnist', '--size', '100000'], /--size must be at most 2048, got '100000'/],
    [['train', 'mobilevitv3_xxs', '--data', 'fashion-mnist', '--batch', '-3'], /--batch needs a positive whole number, got '-3'/],
    [['export', 'mobilevitv3_xxs', '--weights', join(tmp, 'model.safetensors'), '-o', join(tmp, 'x.onnx'), '--batch', '1e9'], /--batch must be at most 1024, got '1e9'/],
    [['run', 'mobilevitv3_xxs', '--weights', 'x', '--input', 'y', '--output', 'z', '--num-classes', '-1'], /--num-classes needs a positive whole number, got '-1'|file not found/],
  ];
  for (const [args, pattern] of cases) {
    const r = runLimited(args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.err}`);
    const lines = r.err.trim().split('\n');
    assert.equal(lines.length, 1, r.err);
    assert.match(lines[0]!, pattern);
    assert.ok(r.ms < MAX_MS && r.peakRss < MAX_RSS);
  }
});

test('--threads above the core count is lowered to it with a note', async () => {
  const { posInt } = await import('../src/cli/args.js');
  const { availableParallelism } = await import('node:os');
  const orig = console.error;
  const notes: string[] = [];
  console.error = (m: string) => void notes.push(m);
  try {
    assert.equal(posInt('1000', 'threads', 2), availableParallelism());
  } finally {
    console.error = orig;
  }
  assert.match(notes[0]!, /--threads 1000 is more than the \d+ cores of this machine; using \d+/);
  assert.throws(() => posInt('0', 'threads', 2), /--threads needs a positive whole number, got '0'/);
});

