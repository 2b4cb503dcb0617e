/**
 * Where the engine spends its time, from ORT's profiler: per op type, then the heaviest
 * (op type, input shapes) groups.
 *   node dist/tools/profile.js <model> [size] [batch]            inference
 *   node dist/tools/profile.js --train <model> [size] [batch]    one fused training step (AdamW)
 *   node dist/tools/profile.js <file.onnx> [size] [batch]        any ONNX file with input 'input' (e.g. a PyTorch export)
 */
import '../src/node.js';
import { readFileSync, readdirSync, unlinkSync } from 'node:fs';
import { Program } from '../src/runtime/program.js';
import { createModel } from '../src/models/registry.js';
import { adamw, TrainStep } from '../src/train/index.js';

const args = process.argv.slice(2);
const train = args[0] === '--train';
const [name, size = train ? '64' : '256', batch = train ? '32' : '1'] = train ? args.slice(1) : args;
const runs = 20;
const prefix = '/tmp/hvprof';
const shape = [Number(batch), 3, Number(size), Number(size)];
const x = { dtype: 'float32' as const, shape, data: new Float32Array(shape.reduce((a, b) => a * b)).map((_, i) => Math.sin(i)) };

if (train) {
  const m = createModel(name, { numClasses: 10, seed: 1 });
  const ts = await TrainStep.create(m, shape, { optimizer: adamw({ weightDecay: 0.05 }), labelSmoothing: 0.1, profilePrefix: prefix });
  const y = Array.from({ length: shape[0] }, (_, i) => i % 10);
  for (let i = 0; i < runs; i++) await ts.run(x, y);
  await ts.endProfiling();
  await ts.release();
} else {
  const p = name.endsWith('.onnx')
    ? await Program.open(new Uint8Array(readFileSync(name)), { threads: 2, profilePrefix: prefix })
    : await Program.compile({ ...createModel(name).programSpec(shape), threads: 2, profilePrefix: prefix });
  for (let i = 0; i < runs; i++) await p.run({ input: x });
  await p.endProfiling();
  await p.release();
}

const file = '/tmp/' + readdirSync('/tmp').filter((f) => f.startsWith('hvprof')).sort().pop();
const ev = JSON.parse(readFileSync(file, 'utf8')) as any[];
if (!process.env.KEEP_PROFILE) unlinkSync(file);
type Acc = { t: number; n: number };
const byOp = new Map<string, Acc>();
const byShape = new Map<string, Acc>();
const bySize = new Map<string, Acc>();
let total = 0;
const add = (m: Map<string, Acc>, k: string, dur: number) => {
  const r = m.get(k) ?? { t: 0, n: 0 };
  r.t += dur;
  r.n++;
  m.set(k, r);
};
for (const e of ev) {
  if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
  const op = e.args.op_name as string;
  const shapes = (e.args.input_type_shape ?? []).map((o: object) => JSON.stringify(Object.values(o)[0])).join(' ');
  add(byOp, op, e.dur);
  add(byShape, `${op} ${shapes}`, e.dur);
  const big = Math.max(0, ...(e.args.input_type_shape ?? []).map((o: object) => (Object.values(o)[0] as number[]).reduce((a, b) => a * b, 1)));
  add(bySize, big < 1e3 ? 'a) < 1k elements' : big < 16e3 ? 'b) < 16k' : big < 256e3 ? 'c) < 256k' : 'd) >= 256k', e.dur);
  total += e.dur;
}
const ms = (r: Acc) => (r.t / runs / 1000).toFixed(3).padStart(8);
for (const [op, r] of [...byOp].sort((a, b) => b[1].t - a[1].t)) console.log(op.padEnd(28), ms(r), 'ms/run', String(r.n / runs).padStart(5), 'nodes');
for (const [k, r] of [...bySize].sort()) console.log('largest input', k.slice(3).padEnd(14), ms(r), 'ms/run', String(r.n / runs).padStart(5), 'nodes');
console.log('total kernel', (total / runs / 1000).toFixed(3), 'ms/run\n\nheaviest (op, input shapes):');
for (const [k, r] of [...byShape].sort((a, b) => b[1].t - a[1].t).slice(0, Number(process.env.TOP ?? 40))) console.log(ms(r), 'ms', String(r.n / runs).padStart(4), 'x', k);
