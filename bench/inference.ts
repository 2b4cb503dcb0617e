/**
 * Inference benchmark: every variant at batch 1 and 8 at paper resolution. Prints latency (median of
 * >= 20 runs after warm-up), img/s and efficiency (achieved MAdds/s over a large MatMul run by the
 * same engine in this run). The comparison with the PyTorch-exported graphs, in the same process, is
 * bench/vs_export.ts.
 * Usage: node dist/bench/inference.js [model ...] [--runs N] [--threads N]
 */
import '../src/node.js';
import { parseArgs } from 'node:util';
import { createModel, listModels } from '../src/models/registry.js';
import { summarize } from '../src/models/summary.js';
import { benchModel, matmulCeiling } from '../src/models/benchmark.js';
import { table } from '../src/cli/format.js';

const { values, positionals } = parseArgs({ options: { runs: { type: 'string' }, threads: { type: 'string' } }, allowPositionals: true });
const runs = Number(values.runs ?? 20);
const threads = Number(values.threads ?? 2);
// default: the 13 classifiers of the two papers' tables (Mobile-Former 26M-508M, MobileViTv3 XXS-S and 0.5-1.0)
const PAPER_VARIANTS = /^(mobile_former_\d+m|mobilevitv3_(xxs|xs|s|0\.5|0\.75|1\.0))$/;
const models = positionals.length ? positionals : listModels().filter((n) => PAPER_VARIANTS.test(n));

const ceiling = await matmulCeiling(threads);
const gm = ceiling.maddsPerSec / 1e9;
console.log(`MatMul ceiling this run: ${gm.toFixed(1)} GMAdds/s; threads ${threads}, runs ${runs}`);
const rows: (string | number)[][] = [];
for (const name of models) {
  const m = createModel(name, { threads });
  const r = m.spec.cfg.paper.resolution;
  const madds = summarize(m, r, r).madds;
  for (const b of [1, 8]) {
    const t = await benchModel(m, [b, 3, r, r], runs);
    rows.push([name, b, t.medianMs.toFixed(2), ((1000 * b) / t.medianMs).toFixed(1), ((100 * madds * b) / (t.medianMs / 1000) / ceiling.maddsPerSec).toFixed(1)]);
  }
  await m.dispose();
}
console.log(table(['model', 'batch', 'median_ms', 'img_per_s', 'eff_%'], rows));
console.log('eff_%: the model\'s MAdds per second over the MatMul ceiling measured above.');
console.log('Against the PyTorch-exported graphs in the same process: node dist/bench/vs_export.js (docs/baselines.md).');
