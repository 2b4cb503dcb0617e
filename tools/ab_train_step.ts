/**
 * Interleaved A/B of the training step between another built checkout (the baseline) and this one,
 * in one process: sessions alternate old/new (which goes first alternates too), each timed as the median of 12 steps after 3 warm-up;
 * the speed-up is the ratio of the medians of those medians. Interleaving keeps machine drift out
 * of the ratio.
 *   git worktree add /tmp/old <rev> && (cd /tmp/old && ln -s "$PWD/node_modules" . && npx tsc -p .)
 *   node dist/tools/ab_train_step.js /tmp/old <model> [size 64] [batch 32] [rounds 4]
 */
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

const [oldRoot, name, size = '64', batch = '32', rounds = '4'] = process.argv.slice(2);
if (!oldRoot || !name) {
  console.error('usage: node dist/tools/ab_train_step.js <old checkout, built> <model> [size] [batch] [rounds]');
  process.exit(2);
}
const newRoot = resolve(fileURLToPath(import.meta.url), '../../..');
const B = Number(batch);
const S = Number(size);

async function load(root: string) {
  await import(resolve(root, 'dist/src/node.js'));
  const reg = await import(resolve(root, 'dist/src/models/registry.js'));
  const tr = await import(resolve(root, 'dist/src/train/index.js'));
  return { createModel: reg.createModel, adamw: tr.adamw, TrainStep: tr.TrainStep };
}
const trees = { old: await load(resolve(oldRoot)), new: await load(newRoot) };
const x = { dtype: 'float32' as const, shape: [B, 3, S, S], data: new Float32Array(B * 3 * S * S).map((_, i) => Math.sin(i * 1.7)) };
const y = Array.from({ length: B }, (_, i) => i % 10);
const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
const res: Record<'old' | 'new', number[]> = { old: [], new: [] };
for (let r = 0; r < Number(rounds); r++) {
  // Alternate which tree goes first: the second of two back-to-back runs is often a few % faster.
  for (const k of r % 2 ? (['new', 'old'] as const) : (['old', 'new'] as const)) {
    const T = trees[k];
    const ts = await T.TrainStep.create(T.createModel(name, { numClasses: 10, seed: 1 }), [B, 3, S, S], { optimizer: T.adamw({ weightDecay: 0.05 }), labelSmoothing: 0.1, lr: 1e-3, threads: 2 });
    for (let i = 0; i < 3; i++) await ts.run(x, y);
    const t: number[] = [];
    for (let i = 0; i < 12; i++) {
      const t0 = performance.now();
      await ts.run(x, y);
      t.push(performance.now() - t0);
    }
    await ts.release();
    res[k].push(median(t));
  }
}
const fmt = (a: number[]) => a.map((v) => v.toFixed(1)).join(' ');
console.log(`${name} ${S}x${S} batch ${B}: old ${fmt(res.old)} ms | new ${fmt(res.new)} ms | speed-up ${(median(res.old) / median(res.new)).toFixed(3)}x`);
