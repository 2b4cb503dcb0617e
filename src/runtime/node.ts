/** Node engine: onnxruntime-node (CPU). */
import * as ort from 'onnxruntime-node';
import type { Engine } from './engine.js';
import { ortEngine, type OrtModule } from './ort_common.js';

export const nodeEngine: Engine = ortEngine(ort as unknown as OrtModule, 'onnxruntime-node', {}, { preallocatedWritten: true });
