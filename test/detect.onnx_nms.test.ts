/**
 * Measures whether onnxruntime's NonMaxSuppression (the op an in-graph detector export will end in)
 * reproduces torchvision's batched_nms on the golden RetinaNet candidates: per-class NMS through the
 * class axis of the scores, suppression at IoU > 0.5, zero-area boxes never suppressing.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import protobuf from 'protobufjs/light.js';
import * as ort from 'onnxruntime-node';
import { ONNX_SCHEMA } from '../src/onnx/schema.js';
import { batchedNms } from '../src/detect/index.js';
import { goldenOrSkip } from './helpers/golden.js';
import { readRawSafetensors } from './helpers/raw_safetensors.js';

const g = goldenOrSkip();
const root = protobuf.Root.fromJSON(ONNX_SCHEMA);
const ModelProto = root.lookupType('onnx.ModelProto');

/** A model: boxes [1,N,4], scores [1,C,N] → NonMaxSuppression(max N per class, iou, score thr) → selected [K,3]. */
function nmsModel(iou: number, scoreThr: number): Uint8Array {
  const vi = (name: string, elemType: number, dims: (number | string)[]) => ({ name, type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } } });
  const model = {
    irVersion: 8,
    producerName: 'hybridvision-test',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'nms',
      node: [{ opType: 'NonMaxSuppression', input: ['boxes', 'scores', 'max_out', 'iou', 'score_thr'], output: ['selected'], name: 'nms' }],
      initializer: [
        { name: 'max_out', dataType: 7, dims: [1], int64Data: [1000000] },
        { name: 'iou', dataType: 1, dims: [1], floatData: [iou] },
        { name: 'score_thr', dataType: 1, dims: [1], floatData: [scoreThr] },
      ],
      input: [vi('boxes', 1, [1, 'N', 4]), vi('scores', 1, [1, 'C', 'N'])],
      output: [vi('selected', 7, ['K', 3])],
    },
  };
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}

const CASES = ['postproc_nc91_70x100_64x100_b2', 'retina_mf151m_nc91_224x320_200x320_b2', 'retina_mf151m_nc91_320x320_b1'];

test('onnxruntime NonMaxSuppression (classes on the score axis) keeps the same candidates as torchvision batched_nms', { skip: g.skip }, async () => {
  const session = await ort.InferenceSession.create(nmsModel(0.5, 0));
  const report: string[] = [];
  for (const name of CASES) {
    const dir = join(g.dir, 'retinanet_mf');
    const man = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8'));
    const t = readRawSafetensors(join(dir, `${name}.io.safetensors`));
    for (let b = 0; b < man.image_sizes.length; b++) {
      const boxes = Float32Array.from(t.get(`pre_nms.${b}.boxes`)!.values);
      const scores = t.get(`pre_nms.${b}.scores`)!.values;
      const labels = t.get(`pre_nms.${b}.labels`)!.values;
      const N = scores.length;
      const C = man.num_classes;
      const s = new Float32Array(C * N).fill(-1);
      for (let i = 0; i < N; i++) s[labels[i] * N + i] = scores[i];
      const out = await session.run({ boxes: new ort.Tensor('float32', boxes, [1, N, 4]), scores: new ort.Tensor('float32', s, [1, C, N]) });
      const sel = out.selected.data as BigInt64Array;
      const kept = new Set<number>();
      for (let k = 0; k < sel.length; k += 3) kept.add(Number(sel[k + 2]));
      const ref = [...t.get(`nms_keep.${b}`)!.values];
      assert.deepEqual([...kept].sort((x, y) => x - y), [...ref].sort((x, y) => x - y), `${name} image ${b}: kept sets`);
      // our host batched_nms on the stored candidate order gives the stored nms_keep exactly
      assert.deepEqual(batchedNms(boxes, scores, labels, 0.5), ref);
      report.push(`${name}[${b}]: ${N} candidates -> ${kept.size} kept`);
    }
  }
  console.log(`onnxruntime NonMaxSuppression = torchvision batched_nms: ${report.join('; ')}`);
});
