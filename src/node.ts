/**
 * The Node entry: everything in the core plus an engine (onnxruntime-node, else onnxruntime-web's
 * wasm build), file I/O, image decoding, and the loaders behind `pretrained: true` and model paths.
 */
import { setEngine } from './runtime/engine.js';
import { chooseNodeEngine } from './runtime/node_select.js';
import { setImageDecoder } from './pipeline.js';
import { decodeImageBytes, decodeImageFile } from './data/decode_node.js';
import { setModelFileLoader, setPretrainedLoader } from './hub/hooks.js';
import { loadPretrained } from './hub/pretrained_node.js';
import { loadModelFile } from './models/model_file_node.js';

const choice = await chooseNodeEngine();
if (choice.engine) setEngine(choice.engine);
/** Why the native engine is not in use (undefined when it is). */
export const engineNote: string | undefined = choice.note;
setImageDecoder((x) => (typeof x === 'string' ? decodeImageFile(x) : decodeImageBytes(x)));
setPretrainedLoader(loadPretrained);
setModelFileLoader((path, opts) => loadModelFile(path, undefined, opts));

export * from './index.js';
export { readFileBytes, writeFileAtomic, loadCheckpointFile } from './io/node_files.js';
export { decodeImageFile, decodeImageBytes } from './data/decode_node.js';
export { loadModelFile } from './models/model_file_node.js';
export { loadPretrained, pretrainedDir } from './hub/pretrained_node.js';
export { defaultCacheDir } from './hub/cache_node.js';
export { loadFashionMnist, FASHION_MNIST_CLASSES } from './data/fashion_mnist_node.js';
export { loadImageFolder } from './data/folder_node.js';
export { writeFmnistScenes, SCENE_CATEGORIES } from './data/fmnist_scenes_node.js';
export { readCocoFolder, findInstancesFile, type CocoFolder } from './data/coco_format_node.js';
export { readVocFolder, readLabelPng, type SegmentationSample } from './data/voc_format_node.js';
export { encodePng, decodePng, type PngImage } from './data/png_node.js';
export { loadDetectionFolder, loadSegmentationFolder } from './data/dense_dataset_node.js';
export { saveTrainCheckpoint, loadTrainCheckpoint } from './train/checkpoint_node.js';
