/**
 * Taps: named intermediate values a model marks while its graph is built (attention maps), which a
 * caller may add as extra outputs of the same compiled graph. Marking costs nothing when no one
 * collects: tap() returns its value unchanged and records it only inside collectTaps().
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

let active: Tap[] | null = null;

/** Marks `v` as a tap of this kind (recorded only while collectTaps runs); returns `v`. */
export function tap(kind: string, v: Value, meta: Record<string, number> = {}): Value {
  active?.push({ kind, scope: v.graph.currentScope, value: v, meta });
  return v;
}

/** Runs a (synchronous) graph build and returns its result with the taps marked during it. */
export function collectTaps<T>(build: () => T): { result: T; taps: Tap[] } {
  const outer = active;
  const taps: Tap[] = [];
  active = taps;
  try {
    return { result: build(), taps };
  } finally {
    active = outer;
  }
}
