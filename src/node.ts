/** The Node entry: everything in the core plus the onnxruntime-node engine, file I/O and image decoding. */
import { setEngine } from './runtime/engine.js';
import { nodeEngine } from './runtime/node.js';
import { setImageDecoder } from './pipeline.js';
import { decodeImageBytes, decodeImageFile } from './data/decode_node.js';

setEngine(nodeEngine);
setImageDecoder((x) => (typeof x === 'string' ? decodeImageFile(x) : decodeImageBytes(x)));

export * from './index.js';
export { nodeEngine } from './runtime/node.js';
export { readFileBytes, writeFileAtomic, loadCheckpointFile } from './io/node_files.js';
export { decodeImageFile, decodeImageBytes } from './data/decode_node.js';
export { loadModelFile } from './models/model_file_node.js';
export { loadFashionMnist, FASHION_MNIST_CLASSES } from './data/fashion_mnist_node.js';
export { loadImageFolder } from './data/folder_node.js';
export { writeFmnistScenes, SCENE_CATEGORIES } from './data/fmnist_scenes_node.js';
export { readCocoFolder, findInstancesFile, type CocoFolder } from './data/coco_format_node.js';
export { readVocFolder, readLabelPng, type SegmentationSample } from './data/voc_format_node.js';
export { encodePng, decodePng, type PngImage } from './data/png_node.js';
export { loadDetectionFolder, loadSegmentationFolder } from './data/dense_dataset_node.js';
export { saveTrainCheckpoint, loadTrainCheckpoint } from './train/checkpoint_node.js';
