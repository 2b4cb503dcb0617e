/** One detection API shared by SSDLite and RetinaNet: boxes, anchors, coders, matchers, NMS, post-processing. */
export * from './boxes.js';
export * from './nms.js';
export * from './ssd.js';
export * from './retinanet.js';
export * from './targets.js';
export * from './head_layout.js';
export * from './retina_transform.js';
