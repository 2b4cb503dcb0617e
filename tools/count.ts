import { createModel, listModels } from '../src/index.js';
import { summarize } from '../src/models/summary.js';
for (const n of listModels()) {
  const m = createModel(n);
  const r = m.spec.cfg.paper.resolution;
  const s = summarize(m, r, r);
  console.log(n.padEnd(22), (s.params / 1e6).toFixed(3), (s.madds / 1e6).toFixed(1), 'paper', m.spec.cfg.paper.params, m.spec.cfg.paper.madds);
}
