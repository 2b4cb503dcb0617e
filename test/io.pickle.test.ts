import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPickle, loadPickleAt, PyGlobal, type PyConstructor } from '../src/io/pickle.js';
import { loadTorchPickle } from '../src/io/torch.js';
import { HybridVisionError } from '../src/tensor.js';
import { Call, Global, hexBytes, PickleWriter, Persid, Tuple, type PyNode, dumps } from './helpers/pickle_writer.js';

// Produced by CPython 3 `pickle.dumps(val, protocol=p)` for
// val = {'a': [1, 2.5, None, True, False], 'b': (b'xy', 'é€😀', 2**70, -1, -129, 65536, -2**31),
//        'c': {1: 'one', (1,2): frozenset()}, 'd': {3}, 'e': bytearray(b'zz'), 'f': 1.0, 'g': '', 'h': [[]]*2}
const PY_FIXTURES: Record<number, string> = {
  0: '286470300a56610a70310a286c70320a49310a6146322e350a614e614930310a614930300a617356620a70330a28635f636f646563730a656e636f64650a70340a285678790a70350a566c6174696e310a70360a7470370a5270380a56e95c75323061635c5530303031663630300a70390a4c313138303539313632303731373431313330333432344c0a492d310a492d3132390a4936353533360a492d323134373438333634380a747031300a7356630a7031310a28647031320a49310a566f6e650a7031330a732849310a49320a747031340a635f5f6275696c74696e5f5f0a66726f7a656e7365740a7031350a28286c7031360a747031370a527031380a737356640a7031390a635f5f6275696c74696e5f5f0a7365740a7032300a28286c7032310a49330a61747032320a527032330a7356650a7032340a635f5f6275696c74696e5f5f0a6279746561727261790a7032350a2867340a28567a7a0a7032360a67360a747032370a527032380a747032390a527033300a7356660a7033310a46312e300a7356670a7033320a560a7033330a7356680a7033340a286c7033350a286c7033360a616733360a61732e',
  1: '7d71002858010000006171015d7102284b014740040000000000004e4930310a4930300a65580100000062710328635f636f646563730a656e636f64650a71042858020000007879710558060000006c6174696e3171067471075271085809000000c3a9e282acf09f988071094c313138303539313632303731373431313330333432344c0a4affffffff4a7fffffff4a000001004a0000008074710a580100000063710b7d710c284b0158030000006f6e65710d284b014b0274710e635f5f6275696c74696e5f5f0a66726f7a656e7365740a710f285d7110747111527112755801000000647113635f5f6275696c74696e5f5f0a7365740a7114285d71154b03617471165271175801000000657118635f5f6275696c74696e5f5f0a6279746561727261790a71192868042858020000007a7a711a680674711b52711c74711d52711e580100000066711f473ff000000000000058010000006771205800000000712158010000006871225d7123285d7124682465752e',
  2: '80027d71002858010000006171015d7102284b014740040000000000004e888965580100000062710328635f636f646563730a656e636f64650a710458020000007879710558060000006c6174696e3171068671075271085809000000c3a9e282acf09f988071098a090000000000000000404affffffff4a7fffffff4a000001004a0000008074710a580100000063710b7d710c284b0158030000006f6e65710d4b014b0286710e635f5f6275696c74696e5f5f0a66726f7a656e7365740a710f5d7110857111527112755801000000647113635f5f6275696c74696e5f5f0a7365740a71145d71154b03618571165271175801000000657118635f5f6275696c74696e5f5f0a6279746561727261790a7119680458020000007a7a711a680686711b52711c85711d52711e580100000066711f473ff000000000000058010000006771205800000000712158010000006871225d7123285d7124682465752e',
  3: '80037d71002858010000006171015d7102284b014740040000000000004e8889655801000000627103284302787971045809000000c3a9e282acf09f988071058a090000000000000000404affffffff4a7fffffff4a000001004a0000008074710658010000006371077d7108284b0158030000006f6e6571094b014b0286710a636275696c74696e730a66726f7a656e7365740a710b5d710c85710d52710e75580100000064710f636275696c74696e730a7365740a71105d71114b03618571125271135801000000657114636275696c74696e730a6279746561727261790a711543027a7a71168571175271185801000000667119473ff0000000000000580100000067711a5800000000711b580100000068711c5d711d285d711e681e65752e',
  4: '800495bb000000000000007d94288c0161945d94284b014740040000000000004e8889658c0162942843027879948c09c3a9e282acf09f9880948a090000000000000000404affffffff4a7fffffff4a000001004a0000008074948c0163947d94284b018c036f6e65944b014b028694289194758c0164948f94284b03908c0165948c086275696c74696e73948c0962797465617272617994939443027a7a94859452948c016694473ff00000000000008c0167948c00948c0168945d94285d94681a65752e',
  5: '800595a5000000000000007d94288c0161945d94284b014740040000000000004e8889658c0162942843027879948c09c3a9e282acf09f9880948a090000000000000000404affffffff4a7fffffff4a000001004a0000008074948c0163947d94284b018c036f6e65944b014b028694289194758c0164948f94284b03908c0165949602000000000000007a7a948c016694473ff00000000000008c0167948c00948c0168945d94285d94681565752e',
};

/** A pure-data allowlist for the fixtures, with call counting. */
function fixtureGlobals(calls: string[]): Map<string, PyConstructor> {
  const latin1 = (s: string) => Uint8Array.from([...s].map((c) => c.charCodeAt(0)));
  return new Map<string, PyConstructor>([
    ['builtins.set', (a) => (calls.push('set'), new Set(a[0] as unknown[]))],
    ['builtins.frozenset', (a) => (calls.push('frozenset'), new Set(a[0] as unknown[]))],
    [
      'builtins.bytearray',
      (a) => (calls.push('bytearray'), a[0] instanceof Uint8Array ? a[0].slice() : typeof a[0] === 'string' ? latin1(a[0]) : new Uint8Array(0)),
    ],
    ['_codecs.encode', (a) => (calls.push('encode'), latin1(a[0] as string))],
  ]);
}

for (const [proto, hex] of Object.entries(PY_FIXTURES)) {
  test(`CPython pickle protocol ${proto} decodes to the right values`, () => {
    const calls: string[] = [];
    const v = loadPickle(hexBytes(hex), { globals: fixtureGlobals(calls) });
    assert.ok(v instanceof Map);
    assert.deepEqual(v.get('a'), [1, 2.5, null, true, false]);
    const b = v.get('b') as unknown[];
    assert.deepEqual(b[0], Uint8Array.from([0x78, 0x79]));
    assert.equal(b[1], 'é€😀');
    assert.equal(b[2], 2n ** 70n);
    assert.deepEqual(b.slice(3), [-1, -129, 65536, -(2 ** 31)]);
    const c = v.get('c') as Map<unknown, unknown>;
    assert.equal(c.get(1), 'one');
    const [[k2, v2]] = [...c.entries()].slice(1);
    assert.deepEqual(k2, [1, 2]);
    assert.ok(v2 instanceof Set && v2.size === 0);
    assert.deepEqual([...(v.get('d') as Set<unknown>)], [3]);
    assert.deepEqual(v.get('e'), Uint8Array.from([0x7a, 0x7a]));
    assert.equal(v.get('f'), 1);
    assert.equal(v.get('g'), '');
    const h = v.get('h') as unknown[][];
    assert.equal(h.length, 2);
    assert.equal(h[0], h[1], 'memo: the same list object twice');
    assert.ok(calls.length > 0 || Number(proto) >= 4);
  });
}

test('numpy scalars and arrays from a real CPython/numpy pickle rebuild without calling numpy', () => {
  // pickle.dumps({'best': np.float64(0.8125), 'ep': np.int64(-7), 'f': np.float32(1.5), 'b': np.bool_(True),
  //               'arr': np.arange(3, dtype=np.float32)}, protocol=2)   (numpy 2.x)
  const hex =
    '80027d7100285804000000626573747101636e756d70792e5f636f72652e6d756c746961727261790a7363616c61720a7102636e756d70790a64747970650a71035802000000663871048988877105527106284b0358010000003c71074e4e4e4affffffff4affffffff4b0074710862635f636f646563730a656e636f64650a71095809000000000000000000c3aa3f710a58060000006c6174696e31710b86710c52710d86710e52710f580200000065707110680268035802000000693871118988877112527113284b0368074e4e4e4affffffff4affffffff4b007471146268095810000000c3b9c3bfc3bfc3bfc3bfc3bfc3bfc3bf7115680b867116527117867118527119580100000066711a6802680358020000006634711b898887711c52711d284b0368074e4e4e4affffffff4affffffff4b0074711e62680958050000000000c3803f711f680b8671205271218671225271235801000000627124680268035802000000623171258988877126527127284b0358010000007c71284e4e4e4affffffff4affffffff4b00747129626809580100000001712a680b86712b52712c86712d52712e5803000000617272712f636e756d70792e5f636f72652e6d756c746961727261790a5f7265636f6e7374727563740a7130636e756d70790a6e6461727261790a71314b0085713268095801000000627133680b867134527135877136527137284b014b03857138681d896809580d000000000000000000c2803f000000407139680b86713a52713b74713c62752e';
  const v = loadTorchPickle(hexBytes(hex)) as Map<string, unknown>;
  assert.equal(v.get('best'), 0.8125);
  assert.equal(v.get('ep'), -7);
  assert.equal(v.get('f'), 1.5);
  assert.equal(v.get('b'), true);
  const arr = v.get('arr') as { shape: number[]; data: Uint8Array };
  assert.deepEqual(arr.shape, [3]);
  assert.deepEqual([...new Float32Array(arr.data.slice().buffer)], [0, 1, 2]);
});

test('argparse.Namespace (protocol 2 NEWOBJ+BUILD and protocol 0 copy_reg._reconstructor) becomes a plain object', () => {
  // pickle.dumps({'args': Namespace(lr=0.1, model='mobilevitv3_xxs', sizes=[1,2]), 'od': OrderedDict([('x', 1)])}, protocol=2)
  const p2 =
    '80027d71002858040000006172677371016361726770617273650a4e616d6573706163650a7102298171037d71042858020000006c727105473fb999999999999a58050000006d6f64656c7106580f0000006d6f62696c6576697476335f7878737107580500000073697a657371085d7109284b014b0265756258020000006f64710a63636f6c6c656374696f6e730a4f726465726564446963740a710b2952710c580100000078710d4b0173752e';
  const v = loadTorchPickle(hexBytes(p2)) as Map<string, unknown>;
  const args = v.get('args') as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(args), null);
  assert.deepEqual({ ...args }, { lr: 0.1, model: 'mobilevitv3_xxs', sizes: [1, 2] });
  assert.deepEqual([...(v.get('od') as Map<string, unknown>)], [['x', 1]]);
  const p0 = new TextEncoder().encode(
    "(dp0\nVargs\np1\nccopy_reg\n_reconstructor\np2\n(cargparse\nNamespace\np3\nc__builtin__\nobject\np4\nNtp5\nRp6\n(dp7\nVlr\np8\nF0.1\nsVmodel\np9\nVmobilevitv3_xxs\np10\nsVsizes\np11\n(lp12\nI1\naI2\nasbs.",
  );
  const v0 = loadTorchPickle(p0) as Map<string, unknown>;
  assert.deepEqual({ ...(v0.get('args') as object) }, { lr: 0.1, model: 'mobilevitv3_xxs', sizes: [1, 2] });
});

test('BUILD cannot pollute prototypes', () => {
  const w = new PickleWriter(2);
  w.global('argparse', 'Namespace').value(new Tuple([])).byte(0x81); // NEWOBJ
  w.value(new Map<PyNode, PyNode>([['__proto__', new Map<PyNode, PyNode>([['polluted', true]])], ['constructor', 1]])).byte(0x62); // BUILD
  const ns = loadTorchPickle(w.finish()) as Record<string, unknown>;
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  assert.ok(Object.prototype.hasOwnProperty.call(ns, '__proto__'));
  assert.equal(Object.getPrototypeOf(ns), null);
});

test('writer-built pickles (protocols 2 and 4: FRAME, MEMOIZE, STACK_GLOBAL, BINPERSID)', () => {
  for (const proto of [2, 4]) {
    const seen: unknown[] = [];
    const globals = new Map<string, PyConstructor>([['m.f', (a) => ({ called: a })]]);
    const value = new Map<PyNode, PyNode>([
      ['x', new Call(new Global('m', 'f'), [1, 'two'])],
      ['y', new Call(new Global('m', 'f'), [])], // second use: memo get
      ['p', new Persid(new Tuple(['storage', 7]))],
      ['big', -(2n ** 80n)],
      ['neg', -5],
      ['flt', 0.25],
      ['long', 'z'.repeat(300)],
      ['bytes', new Uint8Array(300).fill(9)],
    ]);
    const bytes = dumps(value, proto);
    if (proto === 4) assert.equal(bytes[2], 0x95, 'FRAME');
    const v = loadPickle(bytes, { globals, persistentLoad: (pid) => (seen.push(pid), 'resolved') }) as Map<string, unknown>;
    assert.deepEqual(v.get('x'), { called: [1, 'two'] });
    assert.deepEqual(v.get('y'), { called: [] });
    assert.equal(v.get('p'), 'resolved');
    assert.deepEqual(seen, [['storage', 7]]);
    assert.equal(v.get('big'), -(2n ** 80n));
    assert.equal(v.get('neg'), -5);
    assert.equal(v.get('flt'), 0.25);
    assert.equal(v.get('long'), 'z'.repeat(300));
    assert.equal((v.get('bytes') as Uint8Array).length, 300);
  }
});

test('loadPickleAt reads consecutive pickles', () => {
  const a = dumps('first');
  const b = dumps(42);
  const both = new Uint8Array(a.length + b.length);
  both.set(a);
  both.set(b, a.length);
  const r1 = loadPickleAt(both, 0, { globals: {} });
  assert.equal(r1.value, 'first');
  assert.equal(r1.end, a.length);
  const r2 = loadPickleAt(both, r1.end, { globals: {} });
  assert.equal(r2.value, 42);
  assert.equal(r2.end, both.length);
});

// ---- hostile pickles

function disallowed(name: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof HybridVisionError, `expected HybridVisionError, got ${String(e)}`);
    assert.equal(e.message, `checkpoint references a disallowed Python global: ${name}`);
    return true;
  };
}

function spyGlobals(calls: string[]): Map<string, PyConstructor> {
  // everything a real checkpoint may use, each recording any call
  const names = ['collections.OrderedDict', 'torch._utils._rebuild_tensor_v2', 'torch.FloatStorage', 'argparse.Namespace'];
  return new Map(names.map((n) => [n, (() => (calls.push(n), {})) as PyConstructor]));
}

test('hostile pickles throw the disallowed-global error and call nothing', () => {
  const cases: [string, Uint8Array][] = [
    // GLOBAL 'os\nsystem' + REDUCE
    ['os.system', new PickleWriter(2).global('os', 'system').value(new Tuple(['echo pwned'])).byte(0x52).finish()],
    // STACK_GLOBAL builtins.eval
    ['builtins.eval', new PickleWriter(4).global('builtins', 'eval').value(new Tuple(['1+1'])).byte(0x52).finish()],
    // CPython: pickle.dumps(Evil(), protocol=2) with __reduce__ = (os.system, ('echo pwned',)) -> posix.system
    ['posix.system', hexBytes('800263706f7369780a73797374656d0a7100580a0000006563686f2070776e656471018571025271032e')],
    // same at protocol 4 (STACK_GLOBAL)
    ['posix.system', hexBytes('80049525000000000000008c05706f736978948c0673797374656d9493948c0a6563686f2070776e656494859452942e')],
    // CPython protocol 4, (eval, ("print('x')",))
    ['builtins.eval', hexBytes('80049526000000000000008c086275696c74696e73948c046576616c9493948c0a7072696e74282778272994859452942e')],
    // CPython protocol 0 eval (Python 2 module name, as written)
    ['__builtin__.eval', new TextEncoder().encode("c__builtin__\neval\np0\n(Vprint('x')\np1\ntp2\nRp3\n.")],
    // INST opcode
    ['nt.system', new TextEncoder().encode("(S'dir'\nint\nsystem\n.")],
    // hidden inside an allowed call's arguments
    [
      'subprocess.Popen',
      dumps(new Call(new Global('collections', 'OrderedDict'), [new Call(new Global('subprocess', 'Popen'), [['ls']])])),
    ],
    // NEWOBJ of a disallowed class
    ['torch.nn.modules.conv.Conv2d', new PickleWriter(2).global('torch.nn.modules.conv', 'Conv2d').value(new Tuple([])).byte(0x81).finish()],
  ];
  for (const [name, bytes] of cases) {
    const calls: string[] = [];
    assert.throws(() => loadPickle(bytes, { globals: spyGlobals(calls), persistentLoad: () => calls.push('persistent') }), disallowed(name));
    assert.throws(() => loadTorchPickle(bytes), disallowed(name));
    assert.deepEqual(calls, [], `nothing called for ${name}`);
  }
});

test('calling a non-global and malformed pickles are rejected', () => {
  const g = { globals: {} };
  // REDUCE on a string
  assert.throws(() => loadPickle(new PickleWriter(2).value('os.system').value(new Tuple([])).byte(0x52).finish(), g), /corrupt pickle: call of a non-callable value/);
  assert.throws(() => loadPickle(Uint8Array.from([0x80, 0x02, 0x4b]), g), /corrupt pickle: truncated at byte 3/);
  assert.throws(() => loadPickle(Uint8Array.from([0x80, 0x02, 0x4e]), g), /corrupt pickle: truncated at byte 3: no STOP opcode/);
  assert.throws(() => loadPickle(Uint8Array.from([0x80, 0x02, 0xff, 0x2e]), g), /corrupt pickle: unknown opcode 0xff at byte 2/);
  assert.throws(() => loadPickle(Uint8Array.from([0x80, 0x02, 0x68, 0x05, 0x2e]), g), /corrupt pickle: memo key 5 not found/);
  assert.throws(() => loadPickle(Uint8Array.from([0x80, 0x02, 0x52, 0x2e]), g), /corrupt pickle: stack underflow/);
  assert.throws(() => loadPickle(Uint8Array.from([0x80, 0x02, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x2e]), g), /corrupt pickle: truncated/);
  assert.throws(() => loadPickle(Uint8Array.from([0x80, 0x02, 0x74, 0x2e]), g), /corrupt pickle: MARK missing/);
  assert.throws(() => loadPickle(Uint8Array.from([0x80, 0x02, 0x4e, 0x51, 0x2e]), g), /no persistent_load handler/);
  assert.throws(() => loadPickle(Uint8Array.from([0x80, 0x02, 0x82, 0x01, 0x2e]), g), /extension registry/);
  assert.throws(() => loadPickle(new Uint8Array(0), g), HybridVisionError);
  // PyGlobal only wraps allowlisted constructors
  const v = loadPickle(new PickleWriter(2).global('m', 'cls').finish(), { globals: { 'm.cls': () => 1 } });
  assert.ok(v instanceof PyGlobal && v.name === 'm.cls');
});
