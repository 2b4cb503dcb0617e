/** The pipeline for browser inputs: decodes them in the page, then runs the core pipeline. */
import { pipeline as corePipeline, type Prediction } from '../pipeline.js';
import type { CreateOptions, HybridModel } from '../models/model.js';
import { decodeWebImage, type WebImageInput } from './image.js';
import { setupWeb } from './ort.js';
import { createWebModel } from './weights.js';

export interface WebImageClassifier {
  (images: WebImageInput, opts?: { topK?: number }): Promise<Prediction[]>;
  (images: WebImageInput[], opts?: { topK?: number }): Promise<Prediction[][]>;
  model: HybridModel;
  dispose(): Promise<void>;
}

/**
 * pipeline('image-classification', model): `model` is a zoo name (random weights unless
 * `opts.weights`) or a model from loadModelFromUrl / loadModelFromFile. Sets up onnxruntime-web first.
 */
export async function pipeline(task: 'image-classification', model: string | HybridModel, opts: CreateOptions & { topK?: number } = {}): Promise<WebImageClassifier> {
  await setupWeb();
  const m = typeof model === 'string' ? await createWebModel(model, opts) : model;
  const core = await corePipeline(task, m, opts);
  const run = async (images: WebImageInput | WebImageInput[], o: { topK?: number } = {}) => {
    const list = Array.isArray(images) ? images : [images];
    const decoded = await Promise.all(list.map((x) => decodeWebImage(x)));
    return core(Array.isArray(images) ? decoded : decoded[0], o);
  };
  return Object.assign(run, { model: m, dispose: () => m.dispose() }) as WebImageClassifier;
}
