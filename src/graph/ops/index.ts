export * from './elementwise.js';
export * from './shape.js';
export * from './reduce.js';
export * from './matmul.js';
export * from './softmax.js';
export * from './conv.js';
export * from './norm.js';
