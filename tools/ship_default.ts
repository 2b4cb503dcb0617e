/** Ships a trained model as the package default: fp16 safetensors in assets/default (official keys + metadata). */
import { writeFileSync } from 'node:fs';
import '../src/node.js';
import { loadModelFile } from '../src/models/model_file_node.js';
import { modelToSafetensors } from '../src/models/model_file.js';
const [src, note = ''] = process.argv.slice(2);
const m = await loadModelFile(src);
const bytes = modelToSafetensors(m, { fp16: true, extra: note ? { note } : {} });
writeFileSync('assets/default/model.safetensors', bytes);
console.log(`${m.name}: ${(bytes.length / 1e6).toFixed(2)} MB -> assets/default/model.safetensors`);
