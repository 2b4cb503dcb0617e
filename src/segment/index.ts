/** Segmentation host helpers: resize, class map, v0.2 loss reference, result objects. */
export * from './host.js';
