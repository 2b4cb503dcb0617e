import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { goldenOrSkip } from './helpers/golden.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { comparePyStr, fnv1a32, lowbias32, syntheticInput, syntheticWeights, weightsSha256 } from '../src/io/synthetic.js';
import type { HostTensor } from '../src/tensor.js';

const golden = goldenOrSkip();

interface Manifest {
  case: string;
  variant: string;
  num_classes: number;
  input_shape: number[];
  synth_seed: number;
  synth_rules: string;
  weights_sha256: string;
  io: string;
}

test('hash primitives', () => {
  assert.equal(fnv1a32(new Uint8Array(0)), 0x811c9dc5);
  assert.equal(fnv1a32(new TextEncoder().encode('a')), 0xe40c292c);
  assert.equal(lowbias32(0), 0);
  assert.equal(lowbias32(1), lowbias32(1) >>> 0);
  assert.ok(comparePyStr('a.b', 'a_b') < 0); // '.' (0x2e) < '_' (0x5f)
  assert.ok(comparePyStr('layer_1.0', 'layer_10') < 0);
  assert.ok(comparePyStr('\uffff', '\u{10000}') < 0, 'code point order, not UTF-16 order');
  assert.ok(comparePyStr('ab', 'a') > 0);
});

const manifests = golden.skip
  ? []
  : readdirSync(join(golden.dir, 'synthetic'))
      .filter((f) => f.endsWith('.json'))
      .sort();

test('there are 13 synthetic manifests', { skip: golden.skip }, () => {
  assert.equal(manifests.length, 13);
});

for (const file of manifests) {
  test(`synthetic ${file.replace(/\.json$/, '')}: weights sha256 and input are bit-exact`, async () => {
    const m = JSON.parse(readFileSync(join(golden.dir, 'synthetic', file), 'utf8')) as Manifest;
    assert.equal(m.synth_rules, 'synth-v1');
    assert.equal(m.num_classes, 1000);
    const shapes = JSON.parse(readFileSync(join(golden.dir, 'state_dict_shapes.json'), 'utf8')) as Record<
      string,
      { num_params: number; state_dict: Record<string, { shape: number[]; dtype: string }> }
    >;
    const spec = shapes[m.variant]!.state_dict;
    const w = syntheticWeights(spec, m.synth_seed);
    assert.equal(w.size, Object.keys(spec).length);
    assert.equal(await weightsSha256(w), m.weights_sha256);
    // a different seed changes the hash
    assert.notEqual(await weightsSha256(syntheticWeights(spec, m.synth_seed + 1)), m.weights_sha256);
    // value ranges follow the README table
    for (const [key, t] of w) {
      if (key.endsWith('num_batches_tracked')) {
        assert.equal(t.dtype, 'int64');
        assert.deepEqual([...(t.data as BigInt64Array)], [0n]);
        continue;
      }
      const d = t.data as Float32Array;
      if (key.endsWith('running_var')) for (const v of d) assert.ok(v >= 0.5 && v < 2);
      if (key.endsWith('running_mean')) for (const v of d) assert.ok(v >= -0.1 && v < 0.1);
    }
    const io = readSafetensors(new Uint8Array(readFileSync(join(golden.dir, 'synthetic', m.io))));
    const stored = io.tensors.get('input') as HostTensor & { data: Float32Array };
    assert.deepEqual(stored.shape, m.input_shape);
    const mine = syntheticInput(m.input_shape, m.synth_seed);
    assert.deepEqual(mine.shape, stored.shape);
    const a = new Uint32Array(mine.data.buffer);
    const b = new Uint32Array(stored.data.buffer, stored.data.byteOffset, stored.data.length);
    let diff = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) diff++;
    assert.equal(diff, 0, 'input bits differ');
  });
}
