/**
 * The host-side state of a compiled train step: parameters, optimizer moments and BatchNorm
 * statistics in flat buffers that pass from step to step. Each step feeds the current set (no copy)
 * and the engine writes the new values into a second, pre-allocated set (ping-pong, passed as
 * pre-allocated outputs), so no step allocates state buffers.
 */
import { numel, type HostTensor } from '../tensor.js';
import type { FlatLayout } from './train_graph.js';

/** Two flat buffers (current / next) with per-tensor views into each. */
export class PingPong {
  readonly bufs: [Float32Array, Float32Array];
  readonly views: [Map<string, HostTensor>, Map<string, HostTensor>];
  constructor(
    readonly layout: FlatLayout,
    rotating: boolean,
  ) {
    const a = new Float32Array(layout.total);
    this.bufs = [a, rotating ? new Float32Array(layout.total) : a];
    this.views = [new Map(), new Map()];
    for (let p = 0; p < 2; p++) {
      layout.keys.forEach((k, i) => {
        const off = layout.offsets[i];
        this.views[p].set(k, { dtype: 'float32', shape: layout.shapes[i], data: this.bufs[p].subarray(off, off + numel(layout.shapes[i])) });
      });
    }
  }
  flat(parity: number): HostTensor {
    return { dtype: 'float32', shape: [this.layout.total], data: this.bufs[parity] };
  }
  /** Fills both sets' views from `source` (by key); returns the keys it lacks or whose sizes differ. */
  fill(source: ReadonlyMap<string, HostTensor>): string[] {
    const bad: string[] = [];
    for (const [k, view] of this.views[0]) {
      const t = source.get(k);
      if (!t || t.data.length !== view.data.length) bad.push(k);
      else (view.data as Float32Array).set(t.data as Float32Array);
    }
    return bad;
  }
}
