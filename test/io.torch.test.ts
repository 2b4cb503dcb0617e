import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { goldenOrSkip } from './helpers/golden.js';
import {
  Build,
  buildLegacyCheckpoint,
  buildTorchZip,
  buildZip,
  Call,
  dumps,
  dumpsTorch,
  f32Bytes,
  f64Bytes,
  Global,
  hexBytes,
  i64Bytes,
  NewObj,
  OrderedDictNode,
  PickleWriter,
  Tuple,
  tensorNode,
  type FakeTensor,
  type PyNode,
} from './helpers/pickle_writer.js';
import { readCheckpoint, readTorchCheckpoint } from '../src/io/torch.js';
import { writeSafetensors } from '../src/io/safetensors.js';
import { HybridVisionError, type HostTensor } from '../src/tensor.js';

const golden = goldenOrSkip();

function hve(pattern: RegExp | string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof HybridVisionError, `expected HybridVisionError, got ${String(e)}`);
    if (typeof pattern === 'string') assert.equal(e.message, pattern);
    else assert.match(e.message, pattern);
    assert.ok(!e.message.includes('\n'));
    return true;
  };
}

function f32s(t: HostTensor | undefined): number[] {
  assert.ok(t, 'tensor present');
  assert.equal(t.dtype, 'float32');
  return [...(t.data as Float32Array)];
}

// ---- the golden torch.save checkpoint

test('golden .pt: keys and shapes equal state_dict_shapes.json (10 classes), 0-d num_batches_tracked, plausible values', { skip: golden.skip }, async () => {
  const bytes = new Uint8Array(readFileSync(join(golden.dir, 'pt', 'mobilevitv3_xxs_nc10_pt.pt')));
  const sd = await readTorchCheckpoint(bytes);
  const shapes = JSON.parse(readFileSync(join(golden.dir, 'state_dict_shapes.json'), 'utf8')) as Record<
    string,
    { num_params: number; state_dict: Record<string, { shape: number[]; dtype: string }> }
  >;
  const expected = shapes['mobilevitv3_xxs']!.state_dict;
  const manifest = JSON.parse(readFileSync(join(golden.dir, 'pt', 'mobilevitv3_xxs_nc10_pt.json'), 'utf8')) as {
    num_params: number;
    num_state_dict_tensors: number;
  };
  assert.equal(sd.size, manifest.num_state_dict_tensors);
  assert.deepEqual([...sd.keys()], Object.keys(expected), 'same keys in state_dict order');
  let params = 0;
  for (const [key, spec] of Object.entries(expected)) {
    const t = sd.get(key)!;
    const want = key.startsWith('classifier.fc.') ? [10, ...spec.shape.slice(1)] : spec.shape;
    assert.deepEqual(t.shape, want, key);
    assert.equal(t.dtype, spec.dtype, key);
    assert.equal(t.data.length, want.reduce((a, b) => a * b, 1));
    assert.equal(t.data.byteOffset, 0);
    if (spec.dtype === 'float32') {
      for (const v of t.data as Float32Array) assert.ok(Number.isFinite(v), `${key} finite`);
      if (!/running_(mean|var)$/.test(key)) params += t.data.length;
    }
  }
  assert.equal(params, manifest.num_params);
  const nbt = sd.get('conv_1.block.norm.num_batches_tracked')!;
  assert.deepEqual(nbt.shape, []);
  assert.equal(nbt.dtype, 'int64');
  assert.deepEqual([...(nbt.data as BigInt64Array)], [0n]);
  // the README's seeded init: BN running_var ~ U(0.5, 2), BN weight ~ U(0.5, 1.5), conv ~ kaiming (fan_out)
  for (const [key, t] of sd) {
    if (key.endsWith('norm.running_var')) for (const v of t.data as Float32Array) assert.ok(v >= 0.5 && v <= 2, `${key} ${v}`);
    if (key.endsWith('norm.weight') && key.startsWith('layer_1')) for (const v of t.data as Float32Array) assert.ok(v >= 0.5 && v <= 1.5);
  }
  const w = f32s(sd.get('conv_1.block.conv.weight'));
  const std = Math.sqrt(w.reduce((a, v) => a + v * v, 0) / w.length);
  assert.ok(Math.abs(std - Math.sqrt(2 / (16 * 9))) < 0.02, `stem conv std ${std} ~ kaiming fan_out sqrt(2/144) = 0.118`);
  const fc = f32s(sd.get('classifier.fc.weight'));
  const fcStd = Math.sqrt(fc.reduce((a, v) => a + v * v, 0) / fc.length);
  assert.ok(Math.abs(fcStd - Math.sqrt(1 / 512)) < 0.01, `fc std ${fcStd} ~ N(0, 1/fan_in)`);
});

test('golden .pt through readCheckpoint and a wrapped copy agree', { skip: golden.skip }, async () => {
  const bytes = new Uint8Array(readFileSync(join(golden.dir, 'pt', 'mobilevitv3_xxs_nc10_pt.pt')));
  const a = await readCheckpoint(bytes, 'mobilevitv3_xxs_nc10_pt.pt');
  const b = await readTorchCheckpoint(bytes);
  assert.equal(a.size, b.size);
  assert.deepEqual(a.get('layer_4.1.global_rep.0.pre_norm_mha.1.qkv_proj.weight'), b.get('layer_4.1.global_rep.0.pre_norm_mha.1.qkv_proj.weight'));
});

// ---- hand-built checkpoints

/** {state_dict: {'module.x': 2x3 float, 'module.bn.num_batches_tracked': 0-d long}, ...} */
function nestedCheckpoint(protocol: number): { pickle: Uint8Array; storages: Map<string, Uint8Array> } {
  const storages = new Map<string, Uint8Array>([
    ['0', f32Bytes([0, 1, 2, 3, 4, 5, 6, 7])], // x uses elements 2..7 via offset 2
    ['1', i64Bytes([5])],
    ['2', f32Bytes([10, 20, 30, 40, 50, 60])], // shared by t (transposed view) and e
    ['3', f32Bytes([-1, -2])],
  ]);
  const x: FakeTensor = { storageKey: '0', storageClass: 'FloatStorage', storageNumel: 8, offset: 2, size: [2, 3] };
  const nbt: FakeTensor = { storageKey: '1', storageClass: 'LongStorage', storageNumel: 1, size: [] };
  const tT: FakeTensor = { storageKey: '2', storageClass: 'FloatStorage', storageNumel: 6, size: [3, 2], stride: [1, 3] };
  const ema: FakeTensor = { storageKey: '3', storageClass: 'FloatStorage', storageNumel: 2, size: [2] };
  const args = new Build(new NewObj(new Global('argparse', 'Namespace'), []), new Map<PyNode, PyNode>([['lr', 0.1], ['model', 'mobilevitv3_xxs']]));
  const numpyBest = new Call(new Global('numpy.core.multiarray', 'scalar'), [
    new Build(new Call(new Global('numpy', 'dtype'), ['f8', false, true]), new Tuple([3, '<', null, null, null, -1, -1, 0])),
    new Call(new Global('_codecs', 'encode'), ['\x00\x00\x00\x00\x00\x00\xea?', 'latin1']),
  ]);
  const top = new Map<PyNode, PyNode>([
    ['epoch', 3],
    ['arch', 'mobilevitv3_xxs'],
    ['args', args],
    ['metric', numpyBest],
    ['optimizer', new Map<PyNode, PyNode>([['state', new Map()], ['param_groups', [new Map<PyNode, PyNode>([['lr', 0.001]])]]])],
    [
      'state_dict',
      new OrderedDictNode(
        [
          ['module.x', tensorNode(x)],
          ['module.bn.num_batches_tracked', tensorNode(nbt)],
          ['module.t', tensorNode(tT)],
          ['module.note', 'not a tensor'],
        ],
        new Map<PyNode, PyNode>([['', new Map<PyNode, PyNode>([['version', 1]])]]),
      ),
    ],
    ['state_dict_ema', new OrderedDictNode([['module.e', tensorNode(ema)]])],
  ]);
  return { pickle: dumpsTorch(top, protocol), storages };
}

for (const protocol of [2, 4]) {
  test(`hand-built zip checkpoint, nested state_dict with module. prefix (protocol ${protocol})`, async () => {
    const { pickle, storages } = nestedCheckpoint(protocol);
    for (const opts of [{}, { byteorder: 'little', deflate: true, zip64: true }]) {
      const bytes = buildTorchZip('archive', pickle, storages, opts);
      const sd = await readTorchCheckpoint(bytes);
      assert.deepEqual([...sd.keys()], ['x', 'bn.num_batches_tracked', 't']);
      const x = sd.get('x')!;
      assert.deepEqual(x.shape, [2, 3]);
      assert.deepEqual(f32s(x), [2, 3, 4, 5, 6, 7]);
      const nbt = sd.get('bn.num_batches_tracked')!;
      assert.deepEqual(nbt.shape, []);
      assert.deepEqual([...(nbt.data as BigInt64Array)], [5n]);
      const t = sd.get('t')!;
      assert.deepEqual(t.shape, [3, 2]);
      assert.deepEqual(f32s(t), [10, 40, 20, 50, 30, 60], 'transposed view materialised contiguously');
      const ema = await readTorchCheckpoint(bytes, { prefer: 'state_dict_ema' });
      assert.deepEqual([...ema.keys()], ['e']);
      assert.deepEqual(f32s(ema.get('e')), [-1, -2]);
      const viaSniff = await readCheckpoint(bytes, 'ckpt.pth.tar', { prefer: 'state_dict' });
      assert.deepEqual([...viaSniff.keys()], ['x', 'bn.num_batches_tracked', 't']);
    }
  });
}

test('bare state_dict vs prefer, and missing wrapper entries', async () => {
  const storages = new Map([['0', f32Bytes([1.5])]]);
  const bare = dumpsTorch(new OrderedDictNode([['w', tensorNode({ storageKey: '0', storageClass: 'FloatStorage', storageNumel: 1, size: [1] })]]));
  const zipBare = buildTorchZip('m', bare, storages);
  assert.deepEqual(f32s((await readTorchCheckpoint(zipBare, { prefer: 'model' })).get('w')), [1.5]);
  await assert.rejects(readTorchCheckpoint(zipBare, { prefer: 'state_dict_ema' }), hve(/no EMA weights/));
  const wrapped = dumpsTorch(
    new Map<PyNode, PyNode>([
      ['model', new OrderedDictNode([['w', tensorNode({ storageKey: '0', storageClass: 'FloatStorage', storageNumel: 1, size: [1] })]])],
      ['epoch', 1],
    ]),
  );
  const zipWrapped = buildTorchZip('m', wrapped, storages);
  assert.deepEqual(f32s((await readTorchCheckpoint(zipWrapped)).get('w')), [1.5]);
  await assert.rejects(readTorchCheckpoint(zipWrapped, { prefer: 'state_dict_ema' }), hve("checkpoint has no 'state_dict_ema' entry; its keys: model, epoch"));
  const notDict = buildTorchZip('m', dumps([1, 2]), new Map());
  await assert.rejects(readTorchCheckpoint(notDict), hve(/does not hold a state_dict \(top-level object is a list\)/));
});

test('storage dtypes: Double, Half, BFloat16, Int, Short, Char, Byte, Bool', async () => {
  const half = new Uint8Array(new Uint16Array([0x3c00, 0xc000]).buffer); // 1, -2
  const bf16 = new Uint8Array(new Uint16Array([0x3fc0, 0x4120]).buffer); // 1.5, 10
  const cases: [string, Uint8Array, number, string, unknown[]][] = [
    ['DoubleStorage', f64Bytes([0.1, -3]), 2, 'float32', [Math.fround(0.1), -3]],
    ['HalfStorage', half, 2, 'float32', [1, -2]],
    ['BFloat16Storage', bf16, 2, 'float32', [1.5, 10]],
    ['IntStorage', new Uint8Array(new Int32Array([-7, 9]).buffer), 2, 'int32', [-7, 9]],
    ['ShortStorage', new Uint8Array(new Int16Array([-300, 2]).buffer), 2, 'int32', [-300, 2]],
    ['CharStorage', new Uint8Array(new Int8Array([-5, 6]).buffer), 2, 'int32', [-5, 6]],
    ['ByteStorage', Uint8Array.from([200, 1]), 2, 'uint8', [200, 1]],
    ['BoolStorage', Uint8Array.from([1, 0]), 2, 'bool', [1, 0]],
  ];
  const entries: [PyNode, PyNode][] = [];
  const storages = new Map<string, Uint8Array>();
  cases.forEach(([cls, data, n], i) => {
    storages.set(String(i), data);
    entries.push([cls, tensorNode({ storageKey: String(i), storageClass: cls, storageNumel: n, size: [n] })]);
  });
  const sd = await readTorchCheckpoint(buildTorchZip('d', dumpsTorch(new OrderedDictNode(entries)), storages));
  for (const [cls, , , dtype, values] of cases) {
    const t = sd.get(cls)!;
    assert.equal(t.dtype, dtype, cls);
    assert.deepEqual([...t.data], values, cls);
  }
});

test('zip checkpoint errors: big-endian, missing storage, out-of-range view, TorchScript, no data.pkl', async () => {
  const t = tensorNode({ storageKey: '0', storageClass: 'FloatStorage', storageNumel: 2, size: [2] });
  const pkl = dumpsTorch(new OrderedDictNode([['w', t]]));
  const storages = new Map([['0', f32Bytes([1, 2])]]);
  await assert.rejects(
    readTorchCheckpoint(buildTorchZip('a', pkl, storages, { byteorder: 'big' })),
    hve("checkpoint byte order is 'big': only little-endian checkpoints are supported"),
  );
  await assert.rejects(readTorchCheckpoint(buildTorchZip('a', pkl, new Map())), hve("checkpoint is missing storage 'a/data/0'"));
  await assert.rejects(readTorchCheckpoint(buildTorchZip('a', pkl, new Map([['0', f32Bytes([1])]]))), hve(/storage 'a\/data\/0' has 4 bytes, expected 8/));
  const tooFar = dumpsTorch(new OrderedDictNode([['w', tensorNode({ storageKey: '0', storageClass: 'FloatStorage', storageNumel: 2, offset: 1, size: [2] })]]));
  await assert.rejects(readTorchCheckpoint(buildTorchZip('a', tooFar, storages)), hve(/tensor 'w' .* reads past the end of its storage \(2 elements\)/));
  const huge = dumpsTorch(new OrderedDictNode([['w', tensorNode({ storageKey: '0', storageClass: 'FloatStorage', storageNumel: 2, size: [100000, 100000], stride: [0, 0] })]]));
  await assert.rejects(readTorchCheckpoint(buildTorchZip('a', huge, storages)), hve(/tensor 'w' \(size \[100000,100000\]\) is too large to load/));
  const ts = buildZip([
    { name: 'a/data.pkl', data: pkl },
    { name: 'a/constants.pkl', data: dumps(null) },
    { name: 'a/code/__torch__.py', data: new Uint8Array(1) },
  ]);
  await assert.rejects(readTorchCheckpoint(ts), hve(/TorchScript archive/));
  await assert.rejects(readTorchCheckpoint(buildZip([{ name: 'x.txt', data: new Uint8Array(1) }])), hve(/no data.pkl/));
  const unknownStorage = dumpsTorch(new OrderedDictNode([['w', tensorNode({ storageKey: '0', storageClass: 'ComplexFloatStorage', storageNumel: 2, size: [2] })]]));
  await assert.rejects(readTorchCheckpoint(buildTorchZip('a', unknownStorage, storages)), hve(/disallowed Python global: torch.ComplexFloatStorage/));
});

test('hostile checkpoints: disallowed globals inside data.pkl, nothing runs', async () => {
  const evil = [
    new PickleWriter(2).global('os', 'system').value(new Tuple(['touch /tmp/pwned'])).byte(0x52).finish(),
    new PickleWriter(4).global('builtins', 'eval').value(new Tuple(['1'])).byte(0x52).finish(),
    hexBytes('800263706f7369780a73797374656d0a7100580a0000006563686f2070776e656471018571025271032e'),
  ];
  const names = ['os.system', 'builtins.eval', 'posix.system'];
  for (let i = 0; i < evil.length; i++) {
    const msg = `checkpoint references a disallowed Python global: ${names[i]}`;
    await assert.rejects(readTorchCheckpoint(buildTorchZip('a', evil[i]!, new Map())), hve(msg));
    await assert.rejects(readCheckpoint(buildTorchZip('a', evil[i]!, new Map())), hve(msg));
    await assert.rejects(readTorchCheckpoint(buildLegacyCheckpoint(evil[i]!, [])), hve(msg));
  }
  // a whole pickled nn.Module
  const module = dumps(new NewObj(new Global('torch.nn.modules.linear', 'Linear'), []));
  await assert.rejects(readTorchCheckpoint(buildTorchZip('a', module, new Map())), hve('checkpoint references a disallowed Python global: torch.nn.modules.linear.Linear'));
});

// ---- the legacy (non-zip) format

function legacyCheckpoint(opts: { littleEndian?: boolean; truncate?: number } = {}): Uint8Array {
  // storage 'A': 6 doubles; 'w' is a view of elements 2..5 (view metadata), 'b' uses the root
  // storage 'B': 1 long (num_batches_tracked); listed in the key list in another order
  const w: FakeTensor = { storageKey: 'A', storageClass: 'DoubleStorage', storageNumel: 6, size: [2, 2], view: ['A_view', 2, 4] };
  const b: FakeTensor = { storageKey: 'A', storageClass: 'DoubleStorage', storageNumel: 6, offset: 1, size: [2], stride: [2] };
  const n: FakeTensor = { storageKey: 'B', storageClass: 'cuda.LongStorage', storageNumel: 1, size: [] };
  const top = new Map<PyNode, PyNode>([
    ['epoch', 90],
    ['arch', 'mobile_former_26m'],
    [
      'state_dict',
      new OrderedDictNode([
        ['module.w', tensorNode(w, true)],
        ['module.b', tensorNode(b, true)],
        ['module.bn.num_batches_tracked', tensorNode(n, true)],
      ]),
    ],
  ]);
  const main = dumpsTorch(top, 2);
  const bytes = buildLegacyCheckpoint(
    main,
    [
      { key: 'B', elemSize: 8, data: i64Bytes([12]) },
      { key: 'A', elemSize: 8, data: f64Bytes([0, 0.5, 1, 1.5, 2, 2.5]) },
    ],
    opts,
  );
  return opts.truncate ? bytes.subarray(0, bytes.length - opts.truncate) : bytes;
}

test('legacy (non-zip) torch.save checkpoint with storage views', async () => {
  const bytes = legacyCheckpoint();
  const sd = await readTorchCheckpoint(bytes);
  assert.deepEqual([...sd.keys()], ['w', 'b', 'bn.num_batches_tracked']);
  assert.deepEqual(sd.get('w')!.shape, [2, 2]);
  assert.deepEqual(f32s(sd.get('w')), [1, 1.5, 2, 2.5]);
  assert.deepEqual(f32s(sd.get('b')), [0.5, 1.5]);
  const nbt = sd.get('bn.num_batches_tracked')!;
  assert.deepEqual(nbt.shape, []);
  assert.deepEqual([...(nbt.data as BigInt64Array)], [12n]);
  const sniffed = await readCheckpoint(bytes, 'old.pth.tar');
  assert.deepEqual(f32s(sniffed.get('w')), [1, 1.5, 2, 2.5]);
});

test('legacy checkpoint errors: truncated, big-endian', async () => {
  await assert.rejects(readTorchCheckpoint(legacyCheckpoint({ truncate: 5 })), hve(/legacy torch checkpoint is truncated inside storage 'A'/));
  await assert.rejects(readTorchCheckpoint(legacyCheckpoint({ truncate: 60 })), hve(/legacy torch checkpoint is truncated/));
  await assert.rejects(readTorchCheckpoint(legacyCheckpoint({ littleEndian: false })), hve(/big-endian/));
});

// ---- format sniffing

test('readCheckpoint sniffs safetensors, zip, legacy; rejects anything else', async () => {
  const st = writeSafetensors({ 'module.a': { dtype: 'float32', shape: [2], data: Float32Array.from([1, 2]) } });
  const fromSt = await readCheckpoint(st);
  assert.deepEqual([...fromSt.keys()], ['a']);
  assert.deepEqual(f32s(fromSt.get('a')), [1, 2]);
  await assert.rejects(
    readCheckpoint(new TextEncoder().encode('hello world, not a checkpoint'), 'weights.bin'),
    hve(/^unrecognised checkpoint format of weights.bin \(starts with 68 65 6c 6c 6f 20 77 6f\): expected safetensors/),
  );
  await assert.rejects(readCheckpoint(new Uint8Array(0)), hve(/^unrecognised checkpoint format \(starts with nothing\)/));
  await assert.rejects(readCheckpoint(new Uint8Array(3), 'x.safetensors'), hve(/not a safetensors file .*too short/));
  await assert.rejects(readCheckpoint(dumps(new Map())), hve(/^unrecognised checkpoint format/));
  await assert.rejects(readTorchCheckpoint(st), hve(/not a torch.save checkpoint/));
  const tar = new Uint8Array(1024);
  tar.set(new TextEncoder().encode('ustar'), 257);
  await assert.rejects(readCheckpoint(tar), hve(/tar archive/));
});
