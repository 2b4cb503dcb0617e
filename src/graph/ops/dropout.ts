/**
 * Dropout and drop-path (stochastic depth) in train mode, from ONNX Runtime's seeded generator:
 * each site lowers to one ONNX Dropout (training_mode = true) with its own `seed` attribute, so a
 * compiled train step draws a fresh, reproducible mask at every run (the same sequence for the same
 * seed and run order). The gradient reuses the mask (y = x·m, m ∈ {0, 1/(1−p)}).
 *
 * Models call `dropout(x, p, site)` / `dropPath(x, p, site)`; they are identities unless the graph
 * was created in train mode with a `dropout` config (GraphOptions; the train step sets it from its
 * `dropout` option). Rates are the model's, times `scale`, or per-site overrides.
 */
import { HybridVisionError } from '../../tensor.js';
import type { Value } from '../ir.js';
import type { OpDef } from '../op.js';
import { attr } from '../op.js';
import { add, mul } from './elementwise.js';
import { slice } from './shape.js';

export type { DropoutConfig } from '../options.js';

/** The seed of the graph's next dropout site: from the config's base seed and the site's creation order. */
function siteSeed(x: Value): number {
  let h = ((x.graph.options.dropout!.seed >>> 0) ^ Math.imul(x.graph.nextSeededSite(), 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) & 0x7fffffff;
}

/** The rate of a site in this graph, or 0 where dropout is off (eval graphs, no dropout config). */
function rateFor(x: Value, p: number, site: string): number {
  const cfg = x.graph.options.dropout;
  if (!x.graph.training || !cfg) return 0;
  const r = cfg.rates?.[site] ?? p * (cfg.scale ?? 1);
  if (!(r >= 0 && r < 1)) throw new HybridVisionError(`dropout rate for ${site} must be in [0, 1), got ${r}`);
  return r;
}

/** Outputs: y = x·m and the scaled keep mask m (1/(1−p) where kept, 0 where dropped). */
export const DropoutOp: OpDef<{ p: number; seed: number }> = {
  name: 'dropout',
  shape: ([x]) => [
    { shape: [...x.shape], dtype: x.dtype },
    { shape: [...x.shape], dtype: x.dtype },
  ],
  lower: (ctx, n) => {
    const [y, m] = n.outputs;
    // training_mode as a constant `true` (ORT keeps such Dropouts; it removes ones it cannot prove are training).
    const train = ctx.fresh('train_mode');
    ctx.emit('Constant', [], [train], { value: attr.tensor({ dtype: 'bool', shape: [], data: new Uint8Array([1]) }) });
    const maskB = ctx.fresh('keep');
    ctx.emit('Dropout', [ctx.name(n.inputs[0]), ctx.floats([n.attrs.p], []), train], [ctx.fresh('dropped'), maskB], { seed: attr.int(n.attrs.seed) });
    // y is recomputed from the mask so that the mask output is always consumed: ORT's optimizer
    // deletes a Dropout whose mask nobody reads (it treats it as inference-time identity).
    const mf = ctx.fresh('keep_f');
    ctx.emit('Cast', [maskB], [mf], { to: attr.int(1) });
    const ms = ctx.name(m) || ctx.fresh('keep_scaled');
    ctx.emit('Mul', [mf, ctx.floats([1 / (1 - n.attrs.p)], [])], [ms]);
    if (ctx.name(y)) ctx.emit('Mul', [ctx.name(n.inputs[0]), ms], [ctx.name(y)]);
  },
  vjp: (n, [g, gm]) => {
    if (gm) throw new HybridVisionError('dropout: the mask output has no gradient');
    return [g && mul(g, n.outputs[1])];
  },
};

/** Raw dropout with an explicit seed (active regardless of the build context). */
export function dropoutSeeded(x: Value, p: number, seed: number): { y: Value; mask: Value } {
  const [y, mask] = x.graph.apply(DropoutOp, [x], { p, seed });
  return { y, mask };
}

/** Element-wise dropout with rate p (identity outside a train-mode graph with dropout on). */
export function dropout(x: Value, p: number, site = 'dropout'): Value {
  const r = rateFor(x, p, site);
  return r > 0 ? dropoutSeeded(x, r, siteSeed(x)).y : x;
}

/** Drop-path: zeroes whole samples (axis 0) with probability p, scaling the kept ones by 1/(1−p). */
export function dropPath(x: Value, p: number, site = 'drop_path'): Value {
  const r = rateFor(x, p, site);
  if (r <= 0) return x;
  // Per-sample ones derived from x (a constant input would be constant-folded by ORT, which
  // does not expect Dropout in training mode there).
  const first = slice(x, x.shape.slice(1).map(() => 0), x.shape.slice(1).map(() => 1), x.shape.slice(1).map((_, i) => i + 1));
  const ones = add(mul(first, 0), 1);
  return mul(x, dropoutSeeded(ones, r, siteSeed(x)).y);
}

/** Dropout2d: zeroes whole channels (per sample, axis 1 of NCHW) with probability p, scaling the kept ones by 1/(1−p). */
export function dropoutChannels(x: Value, p: number, site = 'dropout2d'): Value {
  const r = rateFor(x, p, site);
  if (r <= 0) return x;
  const first = slice(x, x.shape.slice(2).map(() => 0), x.shape.slice(2).map(() => 1), x.shape.slice(2).map((_, i) => i + 2));
  const ones = add(mul(first, 0), 1);
  return mul(x, dropoutSeeded(ones, r, siteSeed(x)).y);
}
