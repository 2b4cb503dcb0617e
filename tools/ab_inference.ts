/**
 * Interleaved A/B of inference latency between another built checkout (the baseline) and this one,
 * in one process: for each model, sessions alternate old/new, each timed by benchModel (median of
 * `runs` after warm-up) at the paper resolution; the speed-up is the ratio of the medians of those
 * medians. Interleaving (alternating which goes first) keeps machine drift out of the ratio.
 *   node dist/tools/ab_inference.js <old checkout, built> [batch 1] [rounds 3] [model ...]
 */
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';

const [oldRoot, batch = '1', rounds = '3', ...names] = process.argv.slice(2);
if (!oldRoot) {
  console.error('usage: node dist/tools/ab_inference.js <old checkout, built> [batch] [rounds] [model ...]');
  process.exit(2);
}
const newRoot = resolve(fileURLToPath(import.meta.url), '../../..');

async function load(root: string) {
  await import(resolve(root, 'dist/src/node.js'));
  const reg = await import(resolve(root, 'dist/src/models/registry.js'));
  const bench = await import(resolve(root, 'dist/src/models/benchmark.js')).catch(() => import(resolve(root, 'dist/src/runtime/benchmark.js')));
  return { createModel: reg.createModel, benchModel: bench.benchModel };
}
const trees = { old: await load(resolve(oldRoot)), new: await load(newRoot) };
const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
const models = names.length ? names : ['mobilevitv3_xxs', 'mobilevitv3_0.5', 'mobile_former_26m', 'mobile_former_151m'];
for (const name of models) {
  const res: Record<'old' | 'new', number[]> = { old: [], new: [] };
  for (let r = 0; r < Number(rounds); r++) {
    // Alternate which tree goes first: the second of two back-to-back runs is often a few % faster.
    for (const k of r % 2 ? (['new', 'old'] as const) : (['old', 'new'] as const)) {
      const T = trees[k];
      const m = T.createModel(name, { threads: 2 });
      const s = m.spec.cfg.paper.resolution;
      res[k].push((await T.benchModel(m, [Number(batch), 3, s, s], 20)).medianMs);
      await m.dispose();
    }
  }
  const fmt = (a: number[]) => a.map((v) => v.toFixed(2)).join(' ');
  console.log(`${name} batch ${batch}: old ${fmt(res.old)} ms | new ${fmt(res.new)} ms | speed-up ${(median(res.old) / median(res.new)).toFixed(3)}x`);
}
