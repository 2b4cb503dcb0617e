/**
 * A/B of onnxruntime-node session options: the library's sessions as they are (A) against the same
 * with a JSON override of the engine's session options on every session (B), in one sitting.
 * - Inference (batch 1, paper resolution): both sessions in this process, interleaved rounds.
 * - Training step (batch 32, 64², AdamW): a fresh child process per side and round, so each side's
 *   peak RSS is its own.
 * Which side runs first alternates between rounds.
 *   node dist/tools/ab_session_options.js '{"enableMemPattern":true}' [model ...] [--rounds 3]  (training: 2 x rounds each)
 */
import '../src/node.js';
import * as ort from 'onnxruntime-node';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createModel } from '../src/models/registry.js';
import { setEngine, type Engine } from '../src/runtime/engine.js';
import { nodeEngine } from '../src/runtime/node.js';
import { ortEngine, type OrtModule } from '../src/runtime/ort_common.js';
import { adamw, TrainStep } from '../src/train/index.js';

const { values, positionals } = parseArgs({ options: { rounds: { type: 'string' }, child: { type: 'string' } }, allowPositionals: true });
const [override, ...rest] = positionals;
const engine = (o: string): Engine => (o === '' ? nodeEngine : ortEngine(ort as unknown as OrtModule, 'ab', JSON.parse(o) as object, { preallocatedWritten: true }));
const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
const input = (shape: number[]) => ({ dtype: 'float32' as const, shape, data: new Float32Array(shape.reduce((a, b) => a * b)).map((_, i) => Math.sin(i * 0.37)) });

if (values.child !== undefined) {
  // one side's training step: 3 warm-ups, then 8 timed steps; prints median ms and peak RSS
  setEngine(engine(values.child));
  const shape = [32, 3, 64, 64];
  const ts = await TrainStep.create(createModel(rest[0] ?? override, { numClasses: 10, seed: 1 }), shape, { optimizer: adamw({ weightDecay: 0.05 }), labelSmoothing: 0.1 });
  const x = input(shape);
  const y = Array.from({ length: 32 }, (_, i) => i % 10);
  const ms: number[] = [];
  for (let i = 0; i < 11; i++) {
    const t = performance.now();
    await ts.run(x, y);
    if (i >= 3) ms.push(performance.now() - t);
  }
  console.log(JSON.stringify({ ms: median(ms), rss: process.resourceUsage().maxRSS / 1024 }));
  process.exit(0);
}

if (!override) {
  console.error("usage: node dist/tools/ab_session_options.js '<JSON session options>' [model ...] [--rounds 3]");
  process.exit(2);
}
const rounds = Number(values.rounds ?? 3);
const self = fileURLToPath(import.meta.url);
console.log(`A: the library's session options; B: the same with ${override}`);
for (const name of rest.length ? rest : ['mobilevitv3_xxs', 'mobilevitv3_0.5', 'mobile_former_26m']) {
  const m = createModel(name);
  const s = m.cfg.inputSize[1];
  const shape = [1, 3, s, s];
  const bytes = m.toOnnx(shape).bytes;
  const x = input(shape);
  const sessions = [await engine('').createSession(bytes), await engine(override).createSession(bytes)];
  const inf: number[][] = [[], []];
  // the side that runs second in a round gains a few percent here, so the order alternates
  const order = (r: number) => (r % 2 ? [1, 0] : [0, 1]);
  for (let r = 0; r < 10; r++) {
    for (const k of order(r)) {
      for (let i = 0; i < 3; i++) await sessions[k].run({ input: x });
      const one: number[] = [];
      for (let i = 0; i < 15; i++) {
        const t = performance.now();
        await sessions[k].run({ input: x });
        one.push(performance.now() - t);
      }
      inf[k].push(median(one));
    }
  }
  for (const s of sessions) await s.release();
  const train: { ms: number; rss: number }[][] = [[], []];
  for (let r = 0; r < 2 * rounds; r++) {
    for (const k of order(r)) {
      const out = execFileSync(process.execPath, [self, '--child', k ? override : '', name], { encoding: 'utf8' });
      train[k].push(JSON.parse(out.trim().split('\n').pop()!));
    }
  }
  const [ia, ib] = inf.map(median);
  const [ta, tb] = train.map((t) => median(t.map((v) => v.ms)));
  const [ra, rb] = train.map((t) => Math.max(...t.map((v) => v.rss)));
  console.log(`${name}: training step per child, A: ${train[0].map((t) => t.ms.toFixed(0)).join(' ')}; B: ${train[1].map((t) => t.ms.toFixed(0)).join(' ')}`);
  console.log(
    `${name}: inference ${ia.toFixed(2)} / ${ib.toFixed(2)} ms (B/A ${(ib / ia).toFixed(3)}); ` +
      `training step ${ta.toFixed(1)} / ${tb.toFixed(1)} ms (B/A ${(tb / ta).toFixed(3)}), peak RSS ${ra.toFixed(0)} / ${rb.toFixed(0)} MB`,
  );
}
