import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { goldenOrSkip } from './helpers/golden.js';
import { f16ToF32, f32ToF16 } from '../src/half.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { HybridVisionError, type HostTensor } from '../src/tensor.js';

const golden = goldenOrSkip();

type Shapes = Record<string, { num_params: number; state_dict: Record<string, { shape: number[]; dtype: string }> }>;

function loadShapes(): Shapes {
  return JSON.parse(readFileSync(join(golden.dir, 'state_dict_shapes.json'), 'utf8')) as Shapes;
}

function weightFiles(): string[] {
  const out: string[] = [];
  for (const sub of ['', 'train']) {
    for (const f of readdirSync(join(golden.dir, sub))) if (f.endsWith('.weights.safetensors')) out.push(join(golden.dir, sub, f));
  }
  return out.sort();
}

function isClassifierOut(key: string): boolean {
  return /^classifier\.(fc|1|classifier\.1)\.(weight|bias)$/.test(key);
}

test('golden weights files: keys, shapes and dtypes match state_dict_shapes.json', { skip: golden.skip }, () => {
  const shapes = loadShapes();
  const files = weightFiles();
  assert.equal(files.length, 8);
  for (const file of files) {
    const { tensors, metadata } = readSafetensors(new Uint8Array(readFileSync(file)));
    const variant = metadata['variant']!;
    const nc = Number(metadata['num_classes']);
    assert.ok(shapes[variant], `${file}: variant ${variant}`);
    assert.equal(metadata['format'], 'pt-state_dict');
    const expected = shapes[variant]!.state_dict;
    assert.equal(tensors.size, Object.keys(expected).length, file);
    let params = 0;
    let classifierKeys = 0;
    for (const [key, spec] of Object.entries(expected)) {
      const t = tensors.get(key);
      assert.ok(t, `${file}: missing ${key}`);
      if (key.endsWith('num_batches_tracked')) {
        // state_dict_shapes.json says [] (0-d); the weights files store [1]. Either way one int64 = 0.
        assert.equal(t.dtype, 'int64');
        assert.ok(t.data instanceof BigInt64Array);
        assert.equal(t.data.length, 1);
        continue;
      }
      assert.equal(t.dtype, 'float32', key);
      assert.ok(t.data instanceof Float32Array);
      const want = isClassifierOut(key) ? [nc, ...spec.shape.slice(1)] : spec.shape;
      if (isClassifierOut(key)) classifierKeys++;
      assert.deepEqual(t.shape, want, `${file}: ${key}`);
      assert.equal(t.data.length, want.reduce((a, b) => a * b, 1));
      if (!/running_(mean|var)$/.test(key)) params += t.data.length;
    }
    assert.equal(classifierKeys, 2, file);
    if (nc === 1000) assert.equal(params, shapes[variant]!.num_params, file);
    // every tensor is an aligned, standalone copy
    for (const t of tensors.values()) assert.equal(t.data.byteOffset, 0);
  }
});

test('golden weights: a few concrete shapes and values', { skip: golden.skip }, () => {
  const { tensors } = readSafetensors(new Uint8Array(readFileSync(join(golden.dir, 'mobilevitv3_xxs_nc1000_256.weights.safetensors'))));
  assert.deepEqual(tensors.get('conv_1.block.conv.weight')!.shape, [16, 3, 3, 3]);
  assert.deepEqual(tensors.get('classifier.fc.weight')!.shape, [1000, 512]);
  const rv = tensors.get('conv_1.block.norm.running_var')!.data as Float32Array;
  for (const v of rv) assert.ok(v >= 0.5 && v <= 2.0, `running_var ${v} in U(0.5, 2)`);
  const bw = tensors.get('conv_1.block.norm.weight')!.data as Float32Array;
  for (const v of bw) assert.ok(v >= 0.5 && v <= 1.5, `BN weight ${v} in U(0.5, 1.5)`);
  const mf = readSafetensors(new Uint8Array(readFileSync(join(golden.dir, 'mobile_former_26m_nc1000_224.weights.safetensors'))));
  assert.deepEqual(mf.tensors.get('tokens.weight')!.shape, [3, 128]);
});

test('round trip: write(read(golden)) is byte-identical', { skip: golden.skip }, () => {
  for (const name of ['mobilevitv3_xs_nc10_128.weights.safetensors', 'mobilevitv3_0.5_nc10_128.io.safetensors', 'train/train_mobilevitv3_xxs_nc10_64_b4.io.safetensors']) {
    const bytes = new Uint8Array(readFileSync(join(golden.dir, name)));
    const { tensors, metadata } = readSafetensors(bytes);
    const again = writeSafetensors(tensors, metadata);
    assert.equal(again.length, bytes.length, name);
    assert.ok(Buffer.from(again).equals(Buffer.from(bytes)), `${name} differs after round trip`);
  }
});

test('writer layout: 8-byte dtypes first, aligned, no holes, header padded with spaces', () => {
  const tensors: Record<string, HostTensor> = {
    a: { dtype: 'uint8', shape: [3], data: Uint8Array.from([1, 2, 3]) },
    b: { dtype: 'float32', shape: [2], data: Float32Array.from([1.5, -2]) },
    c: { dtype: 'int64', shape: [], data: BigInt64Array.from([7n]) },
    d: { dtype: 'float16', shape: [1], data: Uint16Array.from([0x3c00]) },
    e: { dtype: 'bool', shape: [2], data: Uint8Array.from([1, 0]) },
    f: { dtype: 'int32', shape: [1, 1], data: Int32Array.from([-5]) },
    g: { dtype: 'float32', shape: [0, 4], data: new Float32Array(0) },
  };
  const bytes = writeSafetensors(tensors, { note: 'x' });
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  assert.match(text, / *$/);
  const header = JSON.parse(text) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  assert.deepEqual(Object.keys(header), ['__metadata__', 'a', 'b', 'c', 'd', 'e', 'f', 'g']);
  assert.deepEqual(header['c']!.data_offsets, [0, 8]);
  assert.deepEqual(header['b']!.data_offsets, [8, 16]);
  assert.deepEqual(header['f']!.data_offsets, [16, 20]);
  assert.deepEqual(header['g']!.data_offsets, [20, 20]);
  assert.deepEqual(header['d']!.data_offsets, [20, 22]);
  assert.deepEqual(header['a']!.data_offsets, [22, 25]);
  assert.deepEqual(header['e']!.data_offsets, [25, 27]);
  assert.equal(bytes.length, 8 + n + 27);
  const back = readSafetensors(bytes);
  assert.deepEqual(back.metadata, { note: 'x' });
  assert.deepEqual([...back.tensors.keys()], Object.keys(tensors));
  for (const [k, t] of Object.entries(tensors)) {
    const r = back.tensors.get(k)!;
    assert.equal(r.dtype, t.dtype, k);
    assert.deepEqual(r.shape, t.shape, k);
    assert.deepEqual(r.data, t.data, k);
  }
});

test('reader: BF16 and F64 become float32, F16 stays float16', () => {
  const bf16 = Uint16Array.from([0x3f80, 0xc000, 0x7f80, 0x0001]); // 1, -2, inf, tiny subnormal
  const f64 = Float64Array.from([0.1, -3]);
  const header = JSON.stringify({
    x: { dtype: 'BF16', shape: [4], data_offsets: [16, 24] },
    y: { dtype: 'F64', shape: [2], data_offsets: [0, 16] },
    z: { dtype: 'F16', shape: [1], data_offsets: [24, 26] },
  });
  const bytes = buildRaw(header, concat(new Uint8Array(f64.buffer), new Uint8Array(bf16.buffer), Uint8Array.from([0x00, 0x3c])));
  const { tensors } = readSafetensors(bytes);
  const x = tensors.get('x')!;
  assert.equal(x.dtype, 'float32');
  assert.deepEqual([...(x.data as Float32Array)].slice(0, 3), [1, -2, Infinity]);
  assert.equal((x.data as Float32Array)[3], new Float32Array(new Uint32Array([0x00010000]).buffer)[0]);
  const y = tensors.get('y')!;
  assert.equal(y.dtype, 'float32');
  assert.deepEqual([...(y.data as Float32Array)], [Math.fround(0.1), -3]);
  const z = tensors.get('z')!;
  assert.equal(z.dtype, 'float16');
  assert.ok(z.data instanceof Uint16Array);
  assert.equal(z.data[0], 0x3c00);
});

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A safetensors buffer from a literal header (not padded unless the text is) and data. */
function buildRaw(headerText: string, data: Uint8Array, declaredLength?: bigint): Uint8Array {
  const h = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, declaredLength ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function rejects(bytes: Uint8Array, pattern: RegExp): void {
  assert.throws(
    () => readSafetensors(bytes),
    (e: unknown) => {
      assert.ok(e instanceof HybridVisionError, `expected HybridVisionError, got ${String(e)}`);
      assert.match(e.message, pattern);
      assert.ok(!e.message.includes('\n'), 'one-line message');
      return true;
    },
  );
}

test('reader rejects malformed files with a one-line message', () => {
  const good = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
  const data8 = new Uint8Array(8);
  rejects(new Uint8Array(0), /not a safetensors file \(empty\): 0 bytes is too short/);
  rejects(new Uint8Array(7), /not a safetensors file .*: 7 bytes is too short/);
  rejects(buildRaw('{}', data8, 1000n), /not a safetensors file .*header length of 1000, more than the file's 18 bytes/);
  rejects(buildRaw('{}', data8, 2n ** 63n), /header length of 9223372036854775808, more than/);
  rejects(buildRaw('{"a": ', data8), /header is not valid JSON/);
  rejects(buildRaw('[1,2]', data8), /the header does not start with '{'/);
  rejects(buildRaw(JSON.stringify({ a: { ...good, dtype: 'Q7' } }), data8), /tensor 'a' has unknown dtype 'Q7'/);
  rejects(buildRaw(JSON.stringify({ a: { ...good, shape: [3] } }), data8), /tensor 'a': shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] span 8/);
  rejects(buildRaw(JSON.stringify({ a: { ...good, shape: [2, -1] } }), data8), /tensor 'a' has an invalid shape/);
  rejects(buildRaw(JSON.stringify({ a: { ...good, data_offsets: [8, 4] } }), data8), /tensor 'a' has invalid data_offsets/);
  rejects(buildRaw(JSON.stringify({ a: { ...good, data_offsets: [4, 12] } }), data8), /tensor 'a': data_offsets \[4, 12\] run past the end of the data \(8 bytes\)/);
  rejects(
    buildRaw(JSON.stringify({ a: good, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }), data8),
    /tensors 'a' \[0, 8\] and 'b' \[4, 8\] overlap/,
  );
  rejects(buildRaw(JSON.stringify({ __metadata__: { k: 1 } }), data8), /__metadata__ value for 'k' is not a string/);
  rejects(buildRaw(JSON.stringify({ a: 5 }), data8), /entry 'a' is not a JSON object/);
  // a valid file for contrast
  assert.equal(readSafetensors(buildRaw(JSON.stringify({ a: good }), data8)).tensors.get('a')!.data.length, 2);
});

test('writer rejects inconsistent tensors', () => {
  assert.throws(() => writeSafetensors({ a: { dtype: 'float32', shape: [3], data: new Float32Array(2) } }), /shape \[3\] needs 3 elements, data has 2/);
  assert.throws(() => writeSafetensors({ a: { dtype: 'int64', shape: [1], data: new Float32Array(1) } }), /dtype int64 needs BigInt64Array data/);
});

// ---- half precision

function f32(bits: number): number {
  return new Float32Array(new Uint32Array([bits]).buffer)[0]!;
}

test('f16ToF32 / f32ToF16: every half value round-trips exactly', () => {
  const all = new Uint16Array(65536);
  for (let i = 0; i < 65536; i++) all[i] = i;
  const f = f16ToF32(all);
  const back = f32ToF16(f);
  for (let i = 0; i < 65536; i++) {
    const isNaN16 = (i & 0x7c00) === 0x7c00 && (i & 0x3ff) !== 0;
    if (isNaN16) {
      assert.ok(Number.isNaN(f[i]), `0x${i.toString(16)} is nan`);
      assert.equal(back[i]! & 0x7c00, 0x7c00);
      assert.notEqual(back[i]! & 0x3ff, 0);
    } else {
      assert.equal(back[i], i, `0x${i.toString(16)}`);
    }
  }
  assert.equal(f[0x3c00], 1);
  assert.equal(f[0xc000], -2);
  assert.equal(f[0x7bff], 65504);
  assert.equal(f[0x7c00], Infinity);
  assert.equal(f[0xfc00], -Infinity);
  assert.equal(f[0x0001], 2 ** -24);
  assert.equal(f[0x03ff], 1023 * 2 ** -24);
  assert.ok(Object.is(f[0x8000], -0));
});

test('f32ToF16 rounds to nearest even, saturates to inf, handles subnormals', () => {
  const cases: [number, number][] = [
    [1 + 2 ** -11, 0x3c00], // tie between 1 and 1+2^-10 -> even (1)
    [1 + 3 * 2 ** -11, 0x3c02], // tie -> even (1+2^-9)
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above the tie
    [65504, 0x7bff],
    [65519, 0x7bff], // below the 65520 tie
    [65520, 0x7c00], // tie rounds to even = inf
    [1e10, 0x7c00],
    [-1e10, 0xfc00],
    [2 ** -24, 0x0001],
    [2 ** -25, 0x0000], // tie -> even (0)
    [2 ** -25 * 1.5, 0x0001],
    [3 * 2 ** -25, 0x0002], // tie between 1 and 2 ulps -> even (2)
    [2 ** -14 - 2 ** -25, 0x0400], // tie at the top of the subnormals -> smallest normal
    [2 ** -30, 0x0000],
    [-(2 ** -30), 0x8000],
    [Math.fround(0.1), 0x2e66],
    [Infinity, 0x7c00],
  ];
  const out = f32ToF16(Float32Array.from(cases.map((c) => c[0])));
  cases.forEach(([x, want], i) => assert.equal(out[i], want, `${x} -> 0x${want.toString(16)}, got 0x${out[i]!.toString(16)}`));
  const nan = f32ToF16(Float32Array.from([NaN, f32(0x7f800001), f32(0xffc00000)]));
  for (const h of nan) {
    assert.equal(h & 0x7c00, 0x7c00);
    assert.notEqual(h & 0x3ff, 0);
  }
  assert.equal(nan[2]! & 0x8000, 0x8000);
  assert.equal(f32ToF16(Float32Array.from([-0]))[0], 0x8000);
});
