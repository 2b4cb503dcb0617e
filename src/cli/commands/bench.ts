/** `hybridvision bench <model...>`: latency, img/s and efficiency against the engine's MatMul ceiling. */
import { createModel } from '../../models/registry.js';
import { summarize } from '../../models/summary.js';
import { benchModel, matmulCeiling } from '../../runtime/benchmark.js';
import { HybridVisionError } from '../../tensor.js';
import { intList, joinSize, parse, posInt, sizeValue } from '../args.js';
import { csv, table } from '../format.js';

export async function benchCommand(argv: string[]): Promise<void> {
  const usage = 'hybridvision bench <model...> [--batch 1,8] [--threads N] [--runs N] [--size H W] [--csv]';
  const { values, positionals } = parse(
    joinSize(argv),
    { batch: { type: 'string' }, threads: { type: 'string' }, runs: { type: 'string' }, size: { type: 'string' }, csv: { type: 'boolean' } },
    usage,
  );
  if (positionals.length === 0) throw new HybridVisionError(`expected at least one model (usage: ${usage})`);
  const batches = intList(values.batch, 'batch', [1, 8]);
  const threads = posInt(values.threads, 'threads', 2);
  const runs = posInt(values.runs, 'runs', 20);
  const ceiling = await matmulCeiling(threads);
  const rows: (string | number)[][] = [];
  for (const name of positionals) {
    const m = createModel(name, { threads });
    const r = m.spec.cfg.paper.resolution;
    const [h, w] = sizeValue(values.size, [r, r]);
    const madds = summarize(m, h, w).madds;
    for (const b of batches) {
      const t = await benchModel(m, [b, 3, h, w], runs);
      const eff = (madds * b) / (t.medianMs / 1000) / ceiling.maddsPerSec;
      rows.push([name, `${h}x${w}`, b, t.medianMs.toFixed(2), t.bestMs.toFixed(2), ((b * 1000) / t.medianMs).toFixed(1), (eff * 100).toFixed(1)]);
    }
    await m.dispose();
  }
  const head = ['model', 'size', 'batch', 'median_ms', 'best_ms', 'img_per_s', 'efficiency_%'];
  if (values.csv) console.log(csv(head, rows));
  else {
    console.log(`engine MatMul ceiling: ${(ceiling.maddsPerSec / 1e9).toFixed(1)} GMAdds/s (${threads} threads); efficiency = achieved MAdds/s / ceiling`);
    console.log(table(head, rows));
  }
}
