/**
 * One depthwise 3x3 conv layer in a training graph — output, input gradient and weight gradient —
 * timed under each lowering (better of two rounds), with the ratio against the engine's own Conv / ConvTranspose / grouped
 * Conv gradient (the 'conv' row) in the same run. Shapes are those of MobileViTv3-XXS / -0.5 at
 * 64x64 (batch 32) and at the Fashion-MNIST recipe's 44x44 (batch 128).
 *
 * Usage: node dist/bench/depthwise.js [--runs 20] [--threads 2]
 */
import '../src/node.js';
import { parseArgs } from 'node:util';
import { grad } from '../src/graph/autodiff.js';
import { Graph } from '../src/graph/ir.js';
import { conv2d } from '../src/graph/ops/conv.js';
import type { ConvLowering } from '../src/graph/options.js';
import { Program } from '../src/runtime/program.js';
import { timeProgram } from '../src/models/benchmark.js';
import { table } from '../src/cli/format.js';
import type { HostTensor } from '../src/tensor.js';

const { values } = parseArgs({ options: { runs: { type: 'string' }, threads: { type: 'string' } } });
const runs = Number(values.runs ?? 20);
const threads = Number(values.threads ?? 2);

/** [N, C, H, stride] */
const layers: [number, number, number, number][] = [
  [32, 32, 32, 1],
  [32, 32, 32, 2],
  [32, 48, 16, 1],
  [32, 128, 16, 2],
  [32, 128, 8, 1],
  [32, 256, 8, 2],
  [32, 192, 4, 1],
  [32, 384, 4, 2],
  [128, 64, 22, 1],
  [128, 96, 11, 1],
  [128, 128, 11, 2],
  [128, 320, 3, 2],
];

const choices: { label: string; l: Partial<ConvLowering> }[] = [
  { label: 'conv', l: { denseDepthwiseMaxMatrix: 0, depthwiseWeight: 'conv' } },
  { label: 'rows', l: { denseDepthwiseMaxMatrix: 0, depthwiseWeight: 'rows' } },
  { label: 'dense', l: { denseDepthwiseMaxMatrix: Infinity } },
  { label: 'default', l: {} },
];

const filled = (shape: number[], k: number): HostTensor => ({ dtype: 'float32', shape, data: new Float32Array(shape.reduce((a, b) => a * b)).map((_, i) => Math.sin(i * 0.37 + k)) });

async function time([n, c, h, s]: [number, number, number, number], conv: Partial<ConvLowering>): Promise<number> {
  const g = new Graph({ mode: 'train', lowering: { conv } });
  const x = g.input('x', [n, c, h, h]);
  const w = g.input('w', [c, 1, 3, 3]);
  const y = conv2d(x, w, null, { stride: [s, s], pads: [1, 1, 1, 1], groups: c });
  const r = g.input('r', [...y.shape]);
  const [gx, gw] = grad([y], [r], [x, w]);
  const p = await Program.compile({ graph: g, outputs: [{ name: 'y', value: y }, { name: 'gx', value: gx! }, { name: 'gw', value: gw! }], params: 'input', threads });
  const feeds = { x: filled([n, c, h, h], 1), w: filled([c, 1, 3, 3], 2), r: filled([...y.shape], 3) };
  const t = await timeProgram(p, feeds, runs);
  await p.release();
  return t.medianMs;
}

console.log(`depthwise 3x3 layer, training graph (output + input gradient + weight gradient), ${threads} threads, median of ${runs}`);
const rows: (string | number)[][] = [];
for (const layer of layers) {
  // two rounds over the choices, the better median of each kept: the first session of a process
  // (and of a new shape) runs slow, which would otherwise favour whichever choice comes later
  const ms = choices.map(() => Infinity);
  for (let round = 0; round < 2; round++) {
    for (const [i, c] of choices.entries()) ms[i] = Math.min(ms[i], await time(layer, c.l));
  }
  const [n, c, h, s] = layer;
  rows.push([`[${n}, ${c}, ${h}, ${h}] s${s}`, ...ms.map((m) => m.toFixed(2)), ...ms.slice(1).map((m) => (ms[0] / m).toFixed(2))]);
}
console.log(table(['input, stride', ...choices.map((c) => `${c.label}_ms`), ...choices.slice(1).map((c) => `x_${c.label}_vs_conv`)], rows));
console.log("conv: the engine's Conv forward, ConvTranspose / flipped Conv input gradient, grouped-Conv weight gradient; rows: weight gradient by kernel rows;");
console.log('dense: per-channel matrix products for all three; default: the chosen lowering (dense on small maps, rows at stride 1). x_* > 1 = faster than conv.');
