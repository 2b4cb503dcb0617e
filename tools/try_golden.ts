import '../src/node.js';
import { readFileSync } from 'node:fs';
import { createModel } from '../src/index.js';
import { readSafetensors } from '../src/io/safetensors.js';
const [name, kase, io = 'io'] = process.argv.slice(2);
const dir = '/work/shared/golden/';
const w = readSafetensors(readFileSync(dir + kase + '.weights.safetensors')).tensors;
const iof = readSafetensors(readFileSync(dir + kase + `.${io}.safetensors`)).tensors;
const man = JSON.parse(readFileSync(dir + kase + '.json', 'utf8'));
const m = createModel(name, { numClasses: man.num_classes, weights: w });
const t0 = Date.now();
const out = await m.forwardFeatures(iof.get('input')!);
console.log('ms', Date.now() - t0);
for (const [k, ref] of iof) {
  if (k === 'input') continue;
  const ours = out[k === 'logits' ? 'logits' : k];
  if (!ours) { console.log(k, 'missing'); continue; }
  const a = ours.data as Float32Array, b = ref.data as Float32Array;
  let md = 0, mr = 0; for (let i = 0; i < b.length; i++) { md = Math.max(md, Math.abs(a[i] - b[i])); mr = Math.max(mr, Math.abs(b[i])); }
  console.log(k, ours.shape.join('x'), ref.shape.join('x'), 'maxdiff', md.toExponential(2), 'max|ref|', mr.toFixed(3));
}
