/**
 * Taps: named intermediate values a model marks while its graph is built (attention maps), which a
 * caller may add as extra outputs of the same compiled graph. Marking costs nothing unless the graph
 * was created with `taps: true`: tap() returns its value unchanged and records it on its graph.
 */
import type { Value } from './ir.js';

export interface Tap {
  /** What the value is, e.g. 'mobile_to_former' ([B, heads, T, H·W]). */
  kind: string;
  /** The module path where it was marked (e.g. features.3.local_global). */
  scope: string;
  value: Value;
  /** Layout facts a reader needs (e.g. the feature map's h and w). */
  meta: Record<string, number>;
}

/** Marks `v` as a tap of this kind (recorded in `v.graph.taps` when the graph collects taps); returns `v`. */
export function tap(kind: string, v: Value, meta: Record<string, number> = {}): Value {
  const g = v.graph;
  if (g.options.taps) g.taps.push({ kind, scope: g.currentScope, value: v, meta });
  return v;
}
