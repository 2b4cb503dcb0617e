/** `hybridvision summary <model> [--size H W]`: per-stage output shape, params and MAdds. */
import { getModelSpec } from '../../models/registry.js';
import { graphOnly } from './zoo.js';
import { summarize } from '../../models/summary.js';
import { joinSize, parse, posInt, sizeValue, usageError, type CommandSpec } from '../args.js';
import { millions, table } from '../format.js';

export const summarySpec: CommandSpec = {
  usage: 'summary <model>',
  about: 'Per-stage output shape, parameters and MAdds, counted from the built graph.',
  options: {
    size: { type: 'string', value: 'H W', help: "input size (default the paper's resolution)" },
    'num-classes': { type: 'string', value: 'N', help: "classifier size (default the model's: 1000, or 21/150/81 for dense heads)" },
  },
};

export async function summaryCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(joinSize(argv), summarySpec);
  if (positionals.length !== 1) throw usageError(summarySpec, 'expected one model name');
  const spec = getModelSpec(positionals[0]);
  // default: the model's own class count (1000 for the classifiers, 21/150/81/91 for the dense heads)
  const m = graphOnly(spec, values['num-classes'] === undefined ? spec.cfg.numClasses : posInt(values['num-classes'], 'num-classes', 1000));
  const r = spec.cfg.paper.resolution;
  const [h, w] = sizeValue(values.size, [r, r]);
  const s = summarize(m, h, w);
  const rows = s.rows.map((x) => [x.stage, x.outputShape ? `[${x.outputShape.join(', ')}]` : '', x.params.toLocaleString('en-US'), millions(x.madds, 2)]);
  rows.push(['total', '', s.params.toLocaleString('en-US'), millions(s.madds, 2)]);
  console.log(`${m.name} at ${h}x${w}, batch 1`);
  console.log(table(['stage', 'output', 'params', 'MAdds(M)'], rows));
}
