/** `hybridvision models [pattern]`: the zoo with live counts beside the paper's figures. */
import { createModel, listModels } from '../../models/registry.js';
import { summarize } from '../../models/summary.js';
import { parse, type CommandSpec } from '../args.js';
import { millions, table } from '../format.js';

export function zooTable(pattern?: string): string {
  const rows = listModels(pattern).map((name) => {
    const m = createModel(name);
    const { cfg } = m.spec;
    const r = cfg.paper.resolution;
    const s = summarize(m, r, r);
    return [
      name,
      `${r}`,
      millions(s.params),
      cfg.paper.params ? cfg.paper.params.toFixed(1) : '—',
      millions(s.madds, 1),
      cfg.paper.madds ? String(cfg.paper.madds) : '—',
      cfg.paper.top1 ? cfg.paper.top1.toFixed(2) : '—',
      cfg.channelOrder,
    ];
  });
  return table(['model', 'res', 'params(M)', 'paper', 'MAdds(M)', 'paper', 'top-1', 'input'], rows);
}

export const zooSpec: CommandSpec = {
  usage: 'models [pattern]',
  about: "The zoo, filtered by a glob pattern: live parameter and MAdd counts beside the papers' figures, top-1 and input channel order.",
  options: {},
};

export async function zooCommand(argv: string[]): Promise<void> {
  const { positionals } = parse(argv, zooSpec);
  console.log(zooTable(positionals[0]));
  console.log('\nparams and MAdds are counted from the built graph (1 MAdd per multiply-accumulate: convs, linears, attention products; no bias).');
  console.log("The papers' MAdds for MobileViT use the CVNets profiler convention, which undercounts attention.");
}
