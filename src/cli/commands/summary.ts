/** `hybridvision summary <model> [--size H W]`: per-stage output shape, params and MAdds. */
import { createModel } from '../../models/registry.js';
import { summarize } from '../../models/summary.js';
import { HybridVisionError } from '../../tensor.js';
import { joinSize, parse, posInt, sizeValue } from '../args.js';
import { millions, table } from '../format.js';

export async function summaryCommand(argv: string[]): Promise<void> {
  const usage = 'hybridvision summary <model> [--size H W] [--num-classes N]';
  const { values, positionals } = parse(joinSize(argv), { size: { type: 'string' }, 'num-classes': { type: 'string' } }, usage);
  if (positionals.length !== 1) throw new HybridVisionError(`expected one model name (usage: ${usage})`);
  const m = createModel(positionals[0], { numClasses: posInt(values['num-classes'], 'num-classes', 1000) });
  const r = m.spec.cfg.paper.resolution;
  const [h, w] = sizeValue(values.size, [r, r]);
  const s = summarize(m, h, w);
  const rows = s.rows.map((x) => [x.stage, x.outputShape ? `[${x.outputShape.join(', ')}]` : '', x.params.toLocaleString('en-US'), millions(x.madds, 2)]);
  rows.push(['total', '', s.params.toLocaleString('en-US'), millions(s.madds, 2)]);
  console.log(`${m.name} at ${h}x${w}, batch 1`);
  console.log(table(['stage', 'output', 'params', 'MAdds(M)'], rows));
}
