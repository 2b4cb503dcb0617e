/** Transformers.js-style pipeline: pipeline('image-classification', model) -> images -> [{label, score}]. */
import { imagenetClassName } from './data/imagenet_classes.js';
import type { RgbImage } from './data/image.js';
import { batchImages, preprocess } from './data/preprocess.js';
import { createModel, listModels } from './models/registry.js';
import { loadModelFileWith } from './hub/hooks.js';
import type { CreateOptions, HybridModel } from './models/model.js';
import type { PretrainedCfg } from './models/types.js';
import { arrayDataset } from './data/dataset.js';
import { centerBox, renderView } from './data/augment.js';
import { HybridVisionError, type HostTensor } from './tensor.js';
import { assertTask, detectImages, detectionObjects, segmentationObjects, segmentImages, type DetectionObject, type SegmentationObject } from './dense_pipeline.js';
import type { Task } from './models/task.js';

export interface Prediction {
  label: string;
  score: number;
  index: number;
}

export type ImageInput = RgbImage | string | Uint8Array;

type Decoder = (input: string | Uint8Array) => Promise<RgbImage>;
let decoder: Decoder | null = null;
/** Installs the decoder for paths and encoded bytes (the Node entry installs sharp). */
export function setImageDecoder(d: Decoder): void {
  decoder = d;
}

export function softmaxRow(logits: Float32Array, offset: number, n: number): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < n; i++) max = Math.max(max, logits[offset + i]);
  const p = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += p[i] = Math.exp(logits[offset + i] - max);
  for (let i = 0; i < n; i++) p[i] /= sum;
  return p;
}

export function labelFor(model: HybridModel, i: number): string {
  if (model.labels) return model.labels[i];
  if (model.numClasses === 1000) return imagenetClassName(i);
  return `class ${i}`;
}

/** Top-k predictions per image from logits [N, C] (topK 0 = all classes). */
export function topK(model: HybridModel, logits: HostTensor, k: number): Prediction[][] {
  const [n, c] = logits.shape;
  const out: Prediction[][] = [];
  for (let b = 0; b < n; b++) {
    const p = softmaxRow(logits.data as Float32Array, b * c, c);
    const idx = [...p.keys()].sort((x, y) => p[y] - p[x]).slice(0, k > 0 ? k : c);
    out.push(idx.map((i) => ({ label: labelFor(model, i), score: p[i], index: i })));
  }
  return out;
}

export interface ImageClassifier {
  /** One image: its top-k predictions. */
  (image: ImageInput, opts?: { topK?: number }): Promise<Prediction[]>;
  /** A list of images: top-k predictions per image. */
  (images: ImageInput[], opts?: { topK?: number }): Promise<Prediction[][]>;
  /** Either, when the caller's type does not say which. */
  (images: ImageInput | ImageInput[], opts?: { topK?: number }): Promise<Prediction[] | Prediction[][]>;
  model: HybridModel;
  dispose(): Promise<void>;
}

export async function toImage(x: ImageInput): Promise<RgbImage> {
  if (typeof x === 'object' && 'width' in x) return x;
  if (!decoder) throw new HybridVisionError('no image decoder: import hybridvision/node, or pass decoded RGB images');
  return decoder(x);
}

/** Preprocesses images with the model's pretrained config into one [N, 3, H, W] batch. */
export async function imagesToBatch(model: HybridModel, images: ImageInput[]): Promise<HostTensor> {
  const cfg = model.cfg;
  const chws = [];
  for (const im of images) chws.push(cfg.pad === undefined ? preprocess(await toImage(im), cfg) : paddedView(await toImage(im), cfg));
  return batchImages(chws, cfg.inputSize[0], cfg.inputSize[1]);
}

/** The evaluation view of models trained here (see PretrainedCfg.pad). */
function paddedView(img: RgbImage, cfg: PretrainedCfg): Float32Array {
  const ds = arrayDataset(img.data, new Uint8Array([0]), img.width, img.height, 3, ['']);
  const size = cfg.inputSize[0];
  const out = new Float32Array(3 * size * size);
  renderView(ds, 0, centerBox(img.width, img.height, cfg.pad ?? 0), false, size, out, 0, cfg);
  return out;
}

/** The model a pipeline runs: a HybridModel as given; a zoo name with its official weights (or `weights`); otherwise a model file path. */
async function resolveModel(model: string | HybridModel, opts: CreateOptions): Promise<HybridModel> {
  if (typeof model !== 'string') return model;
  if (!listModels().includes(model)) return loadModelFileWith(model, opts);
  if (opts.weights) return createModel(model, { ...opts, pretrained: false });
  if (opts.pretrained === false) {
    throw new HybridVisionError(`pipeline('${model}') with pretrained: false has no weights to run: pass { weights }, a model file path, or a HybridModel`);
  }
  return createModel(model, { ...opts, pretrained: true });
}

export interface DenseRunner<R> {
  (image: ImageInput, opts?: { threshold?: number }): Promise<R[]>;
  (images: ImageInput[], opts?: { threshold?: number }): Promise<R[][]>;
  (images: ImageInput | ImageInput[], opts?: { threshold?: number }): Promise<R[] | R[][]>;
  model: HybridModel;
  dispose(): Promise<void>;
}
/** `pipeline('image-segmentation', model)`: per image `[{label, score: null, mask}]`, one entry per class present, masks at the image's size. */
export type ImageSegmenter = DenseRunner<SegmentationObject>;
/** `pipeline('object-detection', model)`: per image `[{label, score, box: {xmin, ymin, xmax, ymax}}]` in the image's pixels, score ≥ threshold. */
export type ObjectDetector = DenseRunner<DetectionObject>;

/** The default score threshold of the detection pipeline (and of `hybridvision detect --score`). */
export const DEFAULT_DETECTION_THRESHOLD = 0.3;

/**
 * `pipeline(task, model)`: `model` is a HybridModel, a model file path, or a zoo name, which loads its
 * official pretrained weights (fetched and cached on first use); a model that has none is an error,
 * never random weights. The task must be the model's (from its family): image-classification,
 * image-segmentation (DeepLabv3) or object-detection (SSDLite, RetinaNet).
 */
export async function pipeline(task: 'image-classification', model: string | HybridModel, opts?: CreateOptions & { topK?: number }): Promise<ImageClassifier>;
export async function pipeline(task: 'image-segmentation', model: string | HybridModel, opts?: CreateOptions): Promise<ImageSegmenter>;
export async function pipeline(task: 'object-detection', model: string | HybridModel, opts?: CreateOptions & { threshold?: number }): Promise<ObjectDetector>;
export async function pipeline(task: Task, model: string | HybridModel, opts: CreateOptions & { topK?: number; threshold?: number } = {}): Promise<ImageClassifier | ImageSegmenter | ObjectDetector> {
  const tasks: Task[] = ['image-classification', 'image-segmentation', 'object-detection'];
  if (!tasks.includes(task)) throw new HybridVisionError(`unsupported task '${task}' (supported: ${tasks.join(', ')})`);
  const m = await resolveModel(model, opts);
  try {
    assertTask(m, task);
  } catch (e) {
    await m.dispose();
    throw e;
  }
  if (task === 'image-segmentation') {
    const seg = async (images: ImageInput | ImageInput[]) => {
      const list = Array.isArray(images) ? images : [images];
      const rgbs = await Promise.all(list.map(toImage));
      const maps = await segmentImages(m, rgbs);
      const r = maps.map((x) => segmentationObjects(m, x));
      return Array.isArray(images) ? r : r[0];
    };
    return Object.assign(seg, { model: m, dispose: () => m.dispose() }) as ImageSegmenter;
  }
  if (task === 'object-detection') {
    const det = async (images: ImageInput | ImageInput[], o: { threshold?: number } = {}) => {
      const list = Array.isArray(images) ? images : [images];
      const rgbs = await Promise.all(list.map(toImage));
      const th = o.threshold ?? opts.threshold ?? DEFAULT_DETECTION_THRESHOLD;
      const r = (await detectImages(m, rgbs)).map((d) => detectionObjects(m, d, th));
      return Array.isArray(images) ? r : r[0];
    };
    return Object.assign(det, { model: m, dispose: () => m.dispose() }) as ObjectDetector;
  }
  async function run(images: ImageInput, o?: { topK?: number }): Promise<Prediction[]>;
  async function run(images: ImageInput[], o?: { topK?: number }): Promise<Prediction[][]>;
  async function run(images: ImageInput | ImageInput[], o?: { topK?: number }): Promise<Prediction[] | Prediction[][]>;
  async function run(images: ImageInput | ImageInput[], o: { topK?: number } = {}): Promise<Prediction[] | Prediction[][]> {
    const list = Array.isArray(images) ? images : [images];
    const logits = await m.forward(await imagesToBatch(m, list));
    const preds = topK(m, logits, o.topK ?? opts.topK ?? 5);
    return Array.isArray(images) ? preds : preds[0];
  }
  return Object.assign(run, { model: m, dispose: () => m.dispose() });
}
