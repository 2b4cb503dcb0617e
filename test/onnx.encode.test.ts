/**
 * encodeModel lays initializer raw data out by hand (one exact buffer): its bytes must parse as the
 * same model protobufjs itself encodes, with the same length (only the field order differs), and
 * run the same in the engine.
 */
import '../src/node.js';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import protobuf from 'protobufjs/light.js';
import { createModel } from '../src/models/registry.js';
import { decodeModel, encodeModel, type ModelP } from '../src/onnx/proto.js';
import { ONNX_SCHEMA } from '../src/onnx/schema.js';
import { getEngine } from '../src/runtime/engine.js';

const ModelProto = protobuf.Root.fromJSON(ONNX_SCHEMA).lookupType('onnx.ModelProto');
// a plain Uint8Array, as encodeModel returns (decoding a Buffer gives Buffers for bytes fields)
const reference = (m: ModelP): Uint8Array => new Uint8Array(ModelProto.encode(ModelProto.fromObject(m)).finish());
// no diff printing: the diff of two whole models would not fit in memory
const same = (a: unknown, b: unknown, what: string) => assert.ok(isDeepStrictEqual(a, b), `${what}: the decoded models differ`);

test('encodeModel: the same model as protobufjs encodes, byte count equal, for a lowered model and for initializers without raw data', async () => {
  const m = createModel('mobile_former_26m', { seed: 3 });
  const bytes = m.toOnnx([1, 3, 224, 224]).bytes;
  const parsed = decodeModel(bytes);
  assert.ok(parsed.graph.initializer.length > 100 && bytes.length > 1 << 21, 'a model big enough for multi-byte lengths');
  const ref = reference(parsed);
  assert.equal(bytes.length, ref.length);
  same(decodeModel(ref), parsed, 'lowered model');

  // initializers with float_data / int64_data and none at all, an empty raw_data, metadata
  const small: ModelP = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    metadataProps: [{ key: 'k', value: 'v' }],
    graph: {
      name: 'g',
      node: [{ opType: 'Add', input: ['x', 'a'], output: ['y'] }],
      initializer: [
        { name: 'a', dims: [2], dataType: 1, floatData: [1.5, -2] },
        { name: 'i', dims: [1], dataType: 7, int64Data: [300000] },
        { name: 'e', dims: [0], dataType: 1, rawData: new Uint8Array(0) },
      ],
      input: [{ name: 'x', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 2 }] } } } }],
      output: [{ name: 'y', type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 2 }] } } } }],
    },
  };
  const enc = encodeModel(small);
  assert.equal(enc.length, reference(small).length);
  same(decodeModel(enc), decodeModel(reference(small)), 'small model');
  const s = await getEngine().createSession(enc);
  const out = await s.run({ x: { dtype: 'float32', shape: [2], data: new Float32Array([1, 1]) } });
  assert.deepEqual(Array.from(out.y.data as Float32Array), [2.5, -1]);
  await s.release();
  await m.dispose();
});
