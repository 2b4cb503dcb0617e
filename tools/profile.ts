/** Per-op-type time of one model through ORT's profiler: node dist/tools/profile.js <model> [H] [batch] */
import * as ort from 'onnxruntime-node';
import { readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { createModel } from '../src/models/registry.js';
const [name, size = '256', batch = '1'] = process.argv.slice(2);
const m = createModel(name);
const shape = [Number(batch), 3, Number(size), Number(size)];
const { bytes } = m.toOnnx(shape);
const s = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all', intraOpNumThreads: 2, enableProfiling: true, profileFilePrefix: '/tmp/hvprof' , optimizedModelFilePath: '/tmp/hv_opt.onnx'});
const x = new ort.Tensor('float32', new Float32Array(shape.reduce((a, b) => a * b)).fill(0.1), shape);
for (let i = 0; i < 30; i++) await s.run({ input: x });
await (s as any).endProfiling?.();
await s.release();
const file = '/tmp/' + readdirSync('/tmp').filter((f) => f.startsWith('hvprof')).sort().pop();
const ev = JSON.parse(readFileSync(file, 'utf8')) as any[];
unlinkSync(file);
const by = new Map<string, { t: number; n: number }>();
let total = 0;
for (const e of ev) {
  if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
  const op = e.args.op_name as string;
  const r = by.get(op) ?? { t: 0, n: 0 };
  r.t += e.dur; r.n++; total += e.dur;
  by.set(op, r);
}
for (const [op, r] of [...by].sort((a, b) => b[1].t - a[1].t)) console.log(op.padEnd(24), (r.t / 30 / 1000).toFixed(3), 'ms/run', (r.n / 30).toFixed(0), 'nodes');
console.log('total kernel', (total / 30 / 1000).toFixed(3), 'ms/run');
