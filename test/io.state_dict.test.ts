import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkStateDict, diffStateDict } from '../src/io/state_dict.js';
import { HybridVisionError, type HostTensor } from '../src/tensor.js';

function t(shape: number[]): HostTensor {
  return { dtype: 'float32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) };
}
function nbt(shape: number[] = []): HostTensor {
  return { dtype: 'int64', shape, data: new BigInt64Array(1) };
}

function message(fn: () => void): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof HybridVisionError, `expected HybridVisionError, got ${String(e)}`);
    assert.ok(!e.message.includes('\n'), 'one line');
    return e.message;
  }
  assert.fail('did not throw');
}

const expected = new Map<string, number[]>([
  ['conv_1.block.conv.weight', [16, 3, 3, 3]],
  ['conv_1.block.norm.weight', [16]],
  ['conv_1.block.norm.num_batches_tracked', []],
  ['layer_1.0.block.exp_1x1.block.conv.weight', [32, 16, 3, 3]],
  ['classifier.fc.weight', [1000, 512]],
  ['classifier.fc.bias', [1000]],
]);

test('a matching state_dict passes; num_batches_tracked is ignored on both sides', () => {
  const got = new Map<string, HostTensor>([
    ['conv_1.block.conv.weight', t([16, 3, 3, 3])],
    ['conv_1.block.norm.weight', t([16])],
    ['layer_1.0.block.exp_1x1.block.conv.weight', t([32, 16, 3, 3])],
    ['classifier.fc.weight', t([1000, 512])],
    ['classifier.fc.bias', t([1000])],
    ['extra.num_batches_tracked', nbt([1])],
  ]);
  checkStateDict(expected, got);
  got.set('conv_1.block.norm.num_batches_tracked', nbt([1])); // [1] vs [] does not matter
  checkStateDict(expected, got);
});

test('missing, unexpected and mismatched keys in one message', () => {
  const got = new Map<string, HostTensor>([
    ['conv_1.block.conv.weight', t([16, 3, 3, 3])],
    ['layer_1.0.block.exp_1x1.block.conv.weight', t([32, 16, 1, 1])],
    ['classifier.fc.weight', t([10, 512])],
    ['classifier.fc.bias', t([10])],
    ['foo.weight', t([1])],
  ]);
  const msg = message(() => checkStateDict(expected, got));
  assert.equal(
    msg,
    'checkpoint does not match the model (checkpoint has 5 tensors, model expects 5): ' +
      '1 missing key (conv_1.block.norm.weight); 1 unexpected key (foo.weight); ' +
      '3 shape mismatches (layer_1.0.block.exp_1x1.block.conv.weight: checkpoint [32,16,1,1], model [32,16,3,3], ' +
      'classifier.fc.weight: checkpoint [10,512], model [1000,512], classifier.fc.bias: checkpoint [10], model [1000])',
  );
  // ignoring the classifier leaves the other problems
  const msg2 = message(() => checkStateDict(expected, got, { ignore: (k) => k.startsWith('classifier.') }));
  assert.match(msg2, /checkpoint has 3 tensors, model expects 3/);
  assert.match(msg2, /1 shape mismatch \(layer_1\.0\.block\.exp_1x1\.block\.conv\.weight: checkpoint \[32,16,1,1\], model \[32,16,3,3\]\)$/);
  const d = diffStateDict(expected, got);
  assert.deepEqual(d.missing, ['conv_1.block.norm.weight']);
  assert.deepEqual(d.unexpected, ['foo.weight']);
  assert.equal(d.mismatched.length, 3);
});

test('long lists are cut after the first few, and a common prefix is pointed out', () => {
  const exp = new Map<string, number[]>();
  const got = new Map<string, HostTensor>();
  for (let i = 0; i < 10; i++) {
    exp.set(`layer.${i}.weight`, [4]);
    got.set(`model.layer.${i}.weight`, t([4]));
  }
  const msg = message(() => checkStateDict(exp, got));
  assert.match(msg, /10 missing keys \(layer\.0\.weight, layer\.1\.weight, layer\.2\.weight, … and 7 more\)/);
  assert.match(msg, /10 unexpected keys \(model\.layer\.0\.weight, model\.layer\.1\.weight, model\.layer\.2\.weight, … and 7 more\)/);
  assert.match(msg, /checkpoint keys look prefixed with 'model\.'$/);
  const empty = message(() => checkStateDict(exp, new Map()));
  assert.match(empty, /checkpoint has 0 tensors, model expects 10\): 10 missing keys/);
});
