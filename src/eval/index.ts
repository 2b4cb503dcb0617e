/** Evaluation: pycocotools-exact COCO bbox mAP and confusion-matrix segmentation metrics. */
export * from './coco_eval.js';
export * from './coco_results.js';
export * from './segmentation.js';
