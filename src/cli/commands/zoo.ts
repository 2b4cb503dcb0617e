/** `hybridvision models [pattern]`: the zoo with live counts beside the paper's figures. */
import { Graph } from '../../graph/ir.js';
import { getModelSpec, listModels } from '../../models/registry.js';
import { summarize } from '../../models/summary.js';
import type { ModelSpec } from '../../models/types.js';
import { parse, type CommandSpec } from '../args.js';
import { millions, table } from '../format.js';
import { StatusLine } from '../progress.js';

/** The architecture's graph alone: counting needs no weights, and drawing random ones took most of the time. */
export function graphOnly(spec: ModelSpec, numClasses = spec.cfg.numClasses) {
  const net = spec.build(numClasses);
  return {
    name: spec.name,
    spec,
    stateEntries: () => net.stateEntries(),
    build(inputShape: number[]) {
      const graph = new Graph();
      const out = net.forward(graph.input('input', inputShape));
      return { graph, out };
    },
  };
}

export function zooTable(pattern?: string, onModel?: (i: number, n: number, name: string) => void): string {
  const names = listModels(pattern);
  const rows = names.map((name, i) => {
    onModel?.(i, names.length, name);
    const spec = getModelSpec(name);
    const { cfg } = spec;
    const r = cfg.paper.resolution;
    const s = summarize(graphOnly(spec), r, r);
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
  const status = new StatusLine();
  const text = zooTable(positionals[0], (i, n, name) => status.show(`counting ${name} (${i + 1}/${n})`, i / n));
  status.clear();
  console.log(text);
  console.log('\nparams and MAdds are counted from the built graph (1 MAdd per multiply-accumulate: convs, linears, attention products; no bias).');
  console.log("The papers' MAdds for MobileViT use the CVNets profiler convention, which undercounts attention.");
}
