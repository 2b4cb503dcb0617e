/**
 * Look inside a model: the attention maps its blocks mark with graph taps (Mobile-Former's
 * Mobile→Former and Former→Mobile bridges, MobileViT's patch attention), fetched as extra outputs of
 * the same compiled graph, and input-gradient saliency. Browser-safe; runs on any engine.
 */
import type { Tap } from '../graph/taps.js';
import { Program } from '../runtime/program.js';
import type { HybridModel } from '../models/model.js';
import { InputGradient } from '../train/saliency.js';
import { HybridVisionError, shapeStr, type HostTensor } from '../tensor.js';

/**
 * One map set: `rows` heat maps over an h×w grid, each a probability distribution over the grid
 * (averaged over heads). Mobile→Former: row t = where global token t reads from. Former→Mobile:
 * row t = how much each pixel reads token t. Patch attention: row q = where patch position q looks.
 */
export interface AttentionMap {
  kind: string;
  /** Module path of the block (e.g. features.3.local_global). */
  scope: string;
  rows: number;
  h: number;
  w: number;
  /** [rows, h·w], float32, row-major. */
  data: Float32Array;
}

export interface InspectResult {
  logits: HostTensor;
  maps: AttentionMap[];
}

/** Reduces one tap output (batch item 0) to AttentionMap rows. */
function reduce(t: Tap, out: HostTensor, batch: number): AttentionMap {
  const d = out.data as Float32Array;
  const [g, nh, rows, cols] = out.shape;
  // Mobile-Former bridges: [B, nh, T, HW]. MobileViT: [4B, nh, N, N], the 4 groups being pixel offsets within each 2×2 patch.
  const groups = t.kind === 'patch_attention' ? g / batch : 1;
  let h = t.meta.h;
  let w = t.meta.w;
  if (h === undefined || w === undefined) {
    h = w = Math.round(Math.sqrt(cols));
    if (h * w !== cols) throw new HybridVisionError(`${t.kind} at ${t.scope}: cannot lay ${cols} positions on a square grid`);
  }
  const data = new Float32Array(rows * cols);
  const scale = 1 / (groups * nh);
  for (let gi = 0; gi < groups; gi++) {
    for (let k = 0; k < nh; k++) {
      const base = (gi * nh + k) * rows * cols;
      for (let i = 0; i < rows * cols; i++) data[i] += d[base + i] * scale;
    }
  }
  return { kind: t.kind, scope: t.scope, rows, h, w, data };
}

/** A model compiled once per input shape with its taps as extra outputs. */
export class Inspector {
  private sessions = new Map<string, Promise<{ program: Program; taps: Tap[] }>>();
  private grads = new Map<string, Promise<InputGradient>>();

  constructor(readonly model: HybridModel) {}

  private compile(shape: number[]): Promise<{ program: Program; taps: Tap[] }> {
    const key = shape.join('x');
    let s = this.sessions.get(key);
    if (!s) {
      const b = this.model.build(shape, { taps: true });
      const taps = b.graph.taps;
      const outputs = [{ name: 'logits', value: b.out.logits }, ...taps.map((t, i) => ({ name: `tap${i}`, value: t.value }))];
      s = Program.compile({ graph: b.graph, outputs, params: 'initializer', weights: this.model.weights, threads: this.model.threads }).then((program) => ({
        program,
        taps,
      }));
      this.sessions.set(key, s);
    }
    return s;
  }

  /** Logits and every attention map the model marks (none for pure CNNs). */
  async attention(x: HostTensor): Promise<InspectResult> {
    if (x.shape.length !== 4) throw new HybridVisionError(`input must be [N, 3, H, W], got ${shapeStr(x.shape)}`);
    const { program, taps } = await this.compile([...x.shape]);
    const out = await program.run({ input: x });
    return { logits: out['logits'], maps: taps.map((t, i) => reduce(t, out[`tap${i}`], x.shape[0])) };
  }

  /**
   * |∂ logit[label] / ∂ input| of batch item 0, max over colour channels: an [H, W] map (row-major).
   * `label` defaults to the top-1 class.
   */
  async saliency(x: HostTensor, label?: number): Promise<{ map: Float32Array; h: number; w: number; label: number }> {
    const shape = [...x.shape];
    const key = shape.join('x');
    let ig = this.grads.get(key);
    if (!ig) this.grads.set(key, (ig = InputGradient.create(this.model, shape, { kinds: ['target_logit'] })));
    const n = shape[0];
    let cls = label;
    if (cls === undefined) {
      const lg = (await this.model.forward(x)).data as Float32Array;
      const c = this.model.numClasses;
      cls = 0;
      for (let i = 1; i < c; i++) if (lg[i] > lg[cls]) cls = i;
    }
    const r = await (await ig).run(x, new Array(n).fill(cls));
    const gx = r.grads.target_logit!.data as Float32Array;
    const [, , h, w] = shape;
    const map = new Float32Array(h * w);
    for (let c = 0; c < 3; c++) for (let i = 0; i < h * w; i++) map[i] = Math.max(map[i], Math.abs(gx[c * h * w + i]));
    return { map, h, w, label: cls };
  }

  async release(): Promise<void> {
    const all = [...this.sessions.values()].map((p) => p.then((s) => s.program.release()));
    const sal = [...this.grads.values()].map((p) => p.then((s) => s.release()));
    this.sessions.clear();
    this.grads.clear();
    await Promise.allSettled([...all, ...sal]);
  }
}
