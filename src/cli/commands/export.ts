/** `hybridvision export <model> --weights FILE -o model.onnx`: a standalone ONNX file (opset 17). */
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../../io/node_files.js';
import { calibrationBatches, convertDtype, EXPORT_DTYPES, type ExportDtype } from '../../runtime/export_dtype.js';
import { decodeModel, encodeModel } from '../../onnx/proto.js';
import { dynamicBatch, DYNAMIC_BATCH_PROBES } from '../../onnx/dynamic_batch.js';
import { imagesToBatch } from '../../pipeline.js';
import { loadWeights, WEIGHTS_HELP } from '../weights.js';
import { checkBatchInput, joinSize, parse, posInt, sizeValue, usageError, type CommandSpec } from '../args.js';
import { HybridVisionError } from '../../tensor.js';
import { ASSETS } from '../assets.js';
import { taskOf } from '../../models/task.js';
import { SsdLite, ssdModelAnchors } from '../../models/ssdlite.js';
import { appendArgmax, appendRetinaPostprocess, appendSsdPostprocess } from '../../onnx/dense_heads.js';
import { retinaAnchors, RETINA_POSTPROCESS_DEFAULTS } from '../../detect/retinanet.js';
import { LEVELS } from '../../models/retinanet.js';
import { prune } from '../../onnx/proto.js';

export const exportSpec: CommandSpec = {
  usage: 'export <model> --weights FILE|pretrained -o model.onnx',
  about:
    "A standalone ONNX file (opset 17) with the weights as initializers; input 'input' [N, 3, H, W]. " +
    'Detectors end in boxes [K, 4] (pixels of the input), scores [K], labels [K] (post-processing with NonMaxSuppression in the graph, batch 1; RetinaNet at a fixed size divisible by 32); segmenters in logits [N, C, H, W].',
  options: {
    weights: { type: 'string', value: 'FILE', help: WEIGHTS_HELP },
    output: { type: 'string', short: 'o', value: 'FILE', help: 'where to write the .onnx file' },
    size: { type: 'string', value: 'H W', help: "input size (default the model's)" },
    batch: { type: 'string', value: 'N', help: 'batch size (default 1)' },
    'dynamic-batch': { type: 'boolean', help: "one graph for any batch size (input dim 0 is 'batch')" },
    dtype: { type: 'string', value: 'T', help: 'fp32 (default); fp16: float16 weights, half the file, runs in fp32; fp16-graph: all float16; q8: int8 weights and products (convolutions calibrated); q8-weights: int8 weights, convolutions run in float32' },
    calibration: { type: 'string', value: 'DIR', help: 'q8: images to calibrate activation ranges on (default: the bundled sample images)' },
    features: { type: 'boolean', help: "also output every stage's feature map (NCHW, named by stage) beside the logits" },
    raw: { type: 'boolean', help: 'detectors: end in the head outputs (logits, box_regressions) instead of boxes, scores, labels' },
    argmax: { type: 'boolean', help: 'segmenters: end in the class map [N, H, W] (int64) instead of the logits' },
  },
};

function imageFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    throw new HybridVisionError(`cannot read the calibration folder ${dir}`);
  }
  const files = names.filter((f) => /\.(png|jpe?g|webp)$/i.test(f)).sort().slice(0, 64).map((f) => join(dir, f));
  if (!files.length) throw new HybridVisionError(`no images (png, jpg, webp) in ${dir}`);
  return files;
}

export async function exportCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(joinSize(argv), exportSpec);
  if (positionals.length !== 1 || !values.output) throw usageError(exportSpec, 'expected a model and -o FILE');
  if (!values.weights) throw usageError(exportSpec, '--weights FILE (or pretrained) is required');
  const dtype = (values.dtype ?? 'fp32') as ExportDtype;
  if (!EXPORT_DTYPES.includes(dtype)) throw usageError(exportSpec, `--dtype must be one of ${EXPORT_DTYPES.join(', ')}`);
  if (values.calibration && dtype !== 'q8') throw usageError(exportSpec, '--calibration is for --dtype q8');
  if (values['dynamic-batch'] && values.batch) throw usageError(exportSpec, '--batch and --dynamic-batch exclude each other');
  const m = await loadWeights(values.weights, positionals[0]);
  const [h, w] = sizeValue(values.size, m.cfg.inputSize);
  const batch = posInt(values.batch, 'batch', 1);
  checkBatchInput(batch, h, w);
  const features = values.features;
  const task = taskOf(m.spec);
  if (values.raw && task !== 'object-detection') throw usageError(exportSpec, `--raw is for detectors; ${m.name} is an ${task} model`);
  if (values.argmax && task !== 'image-segmentation') throw usageError(exportSpec, `--argmax is for segmenters; ${m.name} is an ${task} model`);
  const inGraphNms = task === 'object-detection' && !values.raw;
  if (inGraphNms) {
    if (m.spec.family === 'retinanet' && (h % 32 !== 0 || w % 32 !== 0)) throw usageError(exportSpec, `RetinaNet with in-graph post-processing needs a size divisible by 32 (the padded batch), got ${h}x${w}`);
    if (values['dynamic-batch'] || batch !== 1) throw usageError(exportSpec, 'the detector with in-graph NMS is batch 1 (--raw for batched head outputs)');
    if (features) throw usageError(exportSpec, '--features needs --raw for a detector');
    if (dtype === 'fp16-graph') throw usageError(exportSpec, '--dtype fp16-graph needs --raw for a detector (the post-processing runs in float32)');
  }
  let bytes: Uint8Array;
  let outputs: string[];
  if (values['dynamic-batch']) {
    const [a, b] = DYNAMIC_BATCH_PROBES.map((n) => m.toOnnx([n, 3, h, w], { features }));
    bytes = encodeModel(dynamicBatch(decodeModel(a.bytes), decodeModel(b.bytes)));
    outputs = a.outputs;
  } else ({ bytes, outputs } = m.toOnnx([batch, 3, h, w], { features: features || (inGraphNms && m.spec.family === 'retinanet') }));
  let note = '';
  if (dtype !== 'fp32') {
    let calibration;
    if (dtype === 'q8') {
      m.cfg = { ...m.cfg, inputSize: [h, w] };
      const files = imageFiles(resolve(values.calibration ?? join(ASSETS, 'samples')));
      calibration = calibrationBatches(await imagesToBatch(m, files), values['dynamic-batch'] ? files.length : batch);
      note = `, calibrated on ${files.length} images`;
    }
    const r = await convertDtype(bytes, dtype, { calibration, threads: m.threads });
    bytes = r.bytes;
    if (r.q8) note = `; int8: ${r.q8.convs} convolutions${dtype === 'q8-weights' ? ' (weights only)' : ''}, ${r.q8.matmuls} matrix products${note}`;
  }
  if (inGraphNms || values.argmax) {
    const model = decodeModel(bytes);
    if (values.argmax) appendArgmax(model);
    else if (m.spec.family === 'retinanet') {
      // the network with its two head outputs only, then the post-processing for this fixed size
      model.graph.output = model.graph.output.filter((o) => o.name === 'logits' || o.name === 'bbox_regression');
      prune(model.graph);
      const feats = await m.forwardFeatures({ dtype: 'float32', shape: [1, 3, h, w], data: new Float32Array(3 * h * w) });
      const grids = LEVELS.map((l) => feats[l].shape.slice(2) as [number, number]);
      appendRetinaPostprocess(model, retinaAnchors(h, w, grids), grids.map(([gh, gw]) => gh * gw * 9), m.numClasses, RETINA_POSTPROCESS_DEFAULTS, h, w);
    } else {
      const net = m.net as SsdLite;
      const feats = await m.forwardFeatures({ dtype: 'float32', shape: [1, 3, h, w], data: new Float32Array(3 * h * w) });
      const grids = net.heads.map((_, i) => feats[`feat_l${i}`].shape.slice(2) as [number, number]);
      appendSsdPostprocess(model, ssdModelAnchors(net, m.cfg, grids), m.numClasses, net.postprocess, h, w);
    }
    bytes = encodeModel(model);
    outputs = model.graph.output.map((o) => o.name);
  }
  await writeFileAtomic(values.output, bytes);
  const n = values['dynamic-batch'] ? 'batch' : String(batch);
  console.log(`${m.name}: input 'input' [${[n, 3, h, w].join(', ')}] -> ${outputs.join(', ')}; ${dtype}${note}; ${(bytes.length / 1e6).toFixed(2)} MB -> ${values.output}`);
}
