/**
 * Inference benchmark: every variant at batch 1 and 8 at paper resolution. Prints latency (median of
 * >= 20 runs after warm-up), img/s, efficiency (achieved MAdds/s over a large MatMul run by the same
 * engine in this run), and batch-1 speed ratios against the anchors measured on this machine kind.
 * Usage: node dist/bench/inference.js [model ...] [--runs N] [--threads N]
 */
import '../src/node.js';
import { parseArgs } from 'node:util';
import { createModel, listModels } from '../src/models/registry.js';
import { summarize } from '../src/models/summary.js';
import { benchModel, matmulCeiling } from '../src/models/benchmark.js';
import { table } from '../src/cli/format.js';
import { ANCHOR_MATMUL_GMADDS, INFERENCE_ANCHORS } from './anchors.js';

const { values, positionals } = parseArgs({ options: { runs: { type: 'string' }, threads: { type: 'string' } }, allowPositionals: true });
const runs = Number(values.runs ?? 20);
const threads = Number(values.threads ?? 2);
const models = positionals.length ? positionals : listModels().filter((m) => m in INFERENCE_ANCHORS);

const ceiling = await matmulCeiling(threads);
const gm = ceiling.maddsPerSec / 1e9;
console.log(`MatMul ceiling this run: ${gm.toFixed(1)} GMAdds/s (anchor machine: ~${ANCHOR_MATMUL_GMADDS}); threads ${threads}, runs ${runs}`);
const rows: (string | number)[][] = [];
for (const name of models) {
  const m = createModel(name, { threads });
  const r = m.spec.cfg.paper.resolution;
  const madds = summarize(m, r, r).madds;
  const lat: number[] = [];
  for (const b of [1, 8]) {
    const t = await benchModel(m, [b, 3, r, r], runs);
    lat.push(t.medianMs);
    rows.push([name, b, t.medianMs.toFixed(2), ((1000 * b) / t.medianMs).toFixed(1), ((100 * madds * b) / (t.medianMs / 1000) / ceiling.maddsPerSec).toFixed(1)]);
  }
  const a = INFERENCE_ANCHORS[name];
  // machine factor: this machine's MatMul ceiling over the anchor machine's
  const k = gm / ANCHOR_MATMUL_GMADDS;
  if (a) rows[rows.length - 2].push((a.ortExportedMs / lat[0]).toFixed(2), ((a.ortExportedMs / lat[0]) / k).toFixed(2), (a.torchEagerMs / lat[0]).toFixed(2));
  await m.dispose();
}
console.log(table(['model', 'batch', 'median_ms', 'img_per_s', 'eff_%', 'x_vs_ORT_export', 'adjusted', 'x_vs_torch_eager'], rows));
console.log('x_vs_*: anchor latency / ours at batch 1 (>1 = we are faster); anchors from ../shared/docs/anchors.md (same machine kind, other day).');
console.log(`adjusted: x_vs_ORT_export divided by (MatMul ceiling here / anchor machine's ${ANCHOR_MATMUL_GMADDS} GMAdds/s), for machines slower or busier than the anchors'.`);
