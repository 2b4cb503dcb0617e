/**
 * Ships a trained model as a package default: fp16 safetensors in assets/default (official keys +
 * metadata). Usage: node dist/tools/ship_default.js MODEL_FILE [classifier|detector|segmenter] [note]
 */
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import '../src/node.js';
import { DEFAULT_KINDS, defaultModelFile, type DefaultKind } from '../src/cli/assets.js';
import { loadModelFile } from '../src/models/model_file_node.js';
import { modelToSafetensors } from '../src/models/model_file.js';
const [src, kind = 'classifier', note = ''] = process.argv.slice(2);
if (!DEFAULT_KINDS.includes(kind as DefaultKind)) throw new Error(`kind must be ${DEFAULT_KINDS.join(', ')}, got ${kind}`);
const m = await loadModelFile(src);
const bytes = modelToSafetensors(m, { fp16: true, extra: note ? { note } : {} });
const out = defaultModelFile(kind as DefaultKind);
writeFileSync(out, bytes);
console.log(`${m.name}: ${(bytes.length / 1e6).toFixed(2)} MB -> ${relative(process.cwd(), out)}`);
