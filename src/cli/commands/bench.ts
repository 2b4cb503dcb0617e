/** `hybridvision bench <model...>`: latency, img/s and efficiency against the engine's MatMul ceiling. */
import { createModel } from '../../models/registry.js';
import { summarize } from '../../models/summary.js';
import { benchModel, matmulCeiling } from '../../models/benchmark.js';
import { intList, joinSize, parse, posInt, sizeValue, usageError, type CommandSpec } from '../args.js';
import { csv, table } from '../format.js';

export const benchSpec: CommandSpec = {
  usage: 'bench <model...>',
  about: "Inference latency and img/s of each model (random weights), and its efficiency against the engine's MatMul ceiling measured in the same run.",
  options: {
    batch: { type: 'string', value: 'B,B', help: 'batch sizes (default 1,8)' },
    size: { type: 'string', value: 'H W', help: "input size (default the paper's resolution)" },
    threads: { type: 'string', value: 'N', help: 'engine threads (default 2)' },
    runs: { type: 'string', value: 'N', help: 'timed runs per setting (default 20)' },
    csv: { type: 'boolean', help: 'print CSV instead of a table' },
  },
};

export async function benchCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(joinSize(argv), benchSpec);
  if (positionals.length === 0) throw usageError(benchSpec, 'expected at least one model');
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
