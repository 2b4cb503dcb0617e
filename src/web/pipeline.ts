/** The pipelines for browser inputs: each decodes its inputs in the page, then runs the core pipeline. */
import { pipeline as corePipeline, type ObjectDetector, type ImageSegmenter, type Prediction } from '../pipeline.js';
import type { DetectionObject, SegmentationObject } from '../dense_pipeline.js';
import type { CreateOptions, HybridModel } from '../models/model.js';
import type { Task } from '../models/task.js';
import { decodeWebImage, type WebImageInput } from './image.js';
import { setupWeb } from './ort.js';
import { createWebModel } from './weights.js';

/** A pipeline over browser inputs: one image gives R[], a list gives R[][]. */
export interface WebPipeline<R, O> {
  (images: WebImageInput, opts?: O): Promise<R[]>;
  (images: WebImageInput[], opts?: O): Promise<R[][]>;
  model: HybridModel;
  dispose(): Promise<void>;
}
export type WebImageClassifier = WebPipeline<Prediction, { topK?: number }>;
export type WebImageSegmenter = WebPipeline<SegmentationObject, {}>;
export type WebObjectDetector = WebPipeline<DetectionObject, { threshold?: number }>;

/**
 * pipeline(task, model) in the page, with the core pipeline's result shapes: `model` is a zoo name
 * (random weights unless `opts.weights`) or a model from loadModelFromUrl / loadModelFromFile. Sets
 * up onnxruntime-web first.
 */
export async function pipeline(task: 'image-classification', model: string | HybridModel, opts?: CreateOptions & { topK?: number }): Promise<WebImageClassifier>;
export async function pipeline(task: 'image-segmentation', model: string | HybridModel, opts?: CreateOptions): Promise<WebImageSegmenter>;
export async function pipeline(task: 'object-detection', model: string | HybridModel, opts?: CreateOptions & { threshold?: number }): Promise<WebObjectDetector>;
export async function pipeline(task: Task, model: string | HybridModel, opts: CreateOptions & { topK?: number; threshold?: number } = {}): Promise<WebPipeline<unknown, object>> {
  await setupWeb();
  const m = typeof model === 'string' ? await createWebModel(model, opts) : model;
  // the core overloads differ only in result types; one call covers the three tasks
  const core = (await corePipeline(task as 'object-detection', m, opts)) as unknown as ObjectDetector | ImageSegmenter;
  const run = async (images: WebImageInput | WebImageInput[], o: object = {}) => {
    const list = Array.isArray(images) ? images : [images];
    const decoded = await Promise.all(list.map((x) => decodeWebImage(x)));
    return core(Array.isArray(images) ? decoded : decoded[0], o);
  };
  return Object.assign(run, { model: m, dispose: () => m.dispose() }) as WebPipeline<unknown, object>;
}
