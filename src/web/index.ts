/**
 * hybridvision/web: the core plus onnxruntime-web set up for the page, browser image inputs and
 * model files from URLs (cached) or user files. See README § In the browser.
 */
import { setImageDecoder } from '../pipeline.js';
import { decodeWebImage } from './image.js';

setImageDecoder((x) => decodeWebImage(x));

export * from '../index.js';
export { pipeline, type WebPipeline, type WebImageClassifier, type WebImageSegmenter, type WebObjectDetector } from './pipeline.js';
export { setupWeb, webRuntime, type WebSetup, type WebRuntime } from './ort.js';
export { decodeWebImage, rgbaToRgb, type WebImageInput } from './image.js';
export { fetchBytes, isCached, loadModelFromUrl, loadModelFromFile, modelFromCheckpoint, createWebModel, type Progress, type FetchOptions, type LoadOptions } from './weights.js';
export { Inspector, type AttentionMap, type InspectResult } from './inspect.js';
export { tap, type Tap } from '../graph/taps.js';
