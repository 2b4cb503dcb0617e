/** Per-stage parameter and MAdds counts, read off the built graph (1 MAdd per multiply-accumulate, no bias). */
import { numel } from '../tensor.js';
import type { Value } from '../graph/ir.js';
import type { StateEntry } from '../nn/module.js';
import type { Built } from './model.js';
import type { ModelSpec } from './types.js';

export interface StageRow {
  stage: string;
  outputShape: number[] | null;
  params: number;
  madds: number;
}

export interface ModelSummary {
  model: string;
  inputSize: [number, number];
  rows: StageRow[];
  /** Parameters of the inference model (without training-only parts such as an aux head; what papers count). */
  params: number;
  /** Every parameter of the state dict (= params unless the model has training-only parts). */
  paramsTotal: number;
  /** MAdds of what inference computes (nodes the logits depend on). */
  madds: number;
}

/** Stage of a parameter key or node scope: the first path component; for `features.I` the block, for `backbone.X` the part. */
function stageOf(path: string): string {
  const parts = path.split('.');
  // a detector's backbone: `backbone.body`, `backbone.fpn`
  return (parts[0] === 'features' || parts[0] === 'backbone') && parts.length > 1 ? `${parts[0]}.${parts[1]}` : parts[0];
}

/**
 * `model`: a HybridModel, or anything that names itself, declares its tensors and builds its graph
 * (no weights needed). Parts under `spec.trainingOnlyPrefixes` (a DeepLabv3 aux head, built but not
 * run at inference) count in neither `params` nor MAdds, as the papers count.
 */
export function summarize(
  model: {
    name: string;
    spec?: Pick<ModelSpec, 'trainingOnlyPrefixes'>;
    build(inputShape: number[]): Pick<Built, 'graph'>;
    stateEntries(): readonly StateEntry[];
  },
  height: number,
  width: number,
): ModelSummary {
  const { graph } = model.build([1, 3, height, width]);
  const trainingOnly = model.spec?.trainingOnlyPrefixes ?? [];
  const inference = (path: string) => !trainingOnly.some((p) => path.startsWith(p));
  let paramsTotal = 0;
  const rows = new Map<string, StageRow>();
  const row = (s: string) => {
    let r = rows.get(s);
    if (!r) rows.set(s, (r = { stage: s, outputShape: null, params: 0, madds: 0 }));
    return r;
  };
  for (const e of model.stateEntries()) {
    if (e.buffer) continue;
    paramsTotal += numel(e.shape);
    if (inference(e.key)) row(stageOf(e.key)).params += numel(e.shape);
  }
  // Only work done per image counts: a node computing from weights alone (a folded bias, a scaled
  // weight) runs once, when the engine folds constants.
  const perImage = new Set<Value>();
  for (const n of graph.nodes) {
    if (n.inputs.some((v) => v.kind === 'input' || perImage.has(v))) for (const o of n.outputs) perImage.add(o);
    if (!n.op.madds || n.inputs.some((v) => v.kind === 'const') || !n.outputs.some((o) => perImage.has(o)) || !inference(n.scope)) continue;
    row(stageOf(n.scope || 'other')).madds += n.op.madds(n);
  }
  // Output shapes: the last node output produced inside each stage's scope.
  for (const n of graph.nodes) {
    const s = stageOf(n.scope || 'other');
    if (rows.has(s)) rows.get(s)!.outputShape = [...n.outputs[0].shape];
  }
  const list = [...rows.values()];
  return {
    model: model.name,
    inputSize: [height, width],
    rows: list,
    params: list.reduce((a, r) => a + r.params, 0),
    paramsTotal,
    madds: list.reduce((a, r) => a + r.madds, 0),
  };
}
