/**
 * Nearest-neighbour resize of an NCHW map to an explicit size, as torch's legacy
 * `F.interpolate(x, size=(H', W'), mode='nearest')`: output pixel (y, x) reads source
 * (floor(y·H/H'), floor(x·W/W')), clamped to the last row / column.
 *
 * Lowered to ONNX Resize (nearest, 'asymmetric' coordinates, 'floor' rounding), which reads the same
 * source index. The gradient scatters each output pixel back onto its source: for whole-number
 * factors (FPN's 2×, every step of a batch padded to 32) a reshape and a sum over each block; otherwise
 * two products with the 0/1 selection matrices.
 */
import type { HostTensor } from '../../tensor.js';
import { shapeError, type Value } from '../ir.js';
import type { OpDef } from '../op.js';
import { attr } from '../op.js';
import { matmul } from './matmul.js';
import { reduceSum } from './reduce.js';
import { reshape } from './shape.js';

/** torch's source index for output index `o` (scale in/out computed in float32, as torch does). */
export function nearestSource(o: number, inSize: number, outSize: number): number {
  const scale = Math.fround(inSize / outSize);
  return Math.min(Math.floor(Math.fround(o * scale)), inSize - 1);
}

/** The 0/1 matrix selecting each output's source index: [out, in], or [in, out] when `inMajor`. */
function selection(inSize: number, outSize: number, inMajor = false): HostTensor {
  const m = new Float32Array(outSize * inSize);
  for (let o = 0; o < outSize; o++) {
    const i = nearestSource(o, inSize, outSize);
    m[inMajor ? i * outSize + o : o * inSize + i] = 1;
  }
  return { dtype: 'float32', shape: inMajor ? [inSize, outSize] : [outSize, inSize], data: m };
}

export const ResizeNearestOp: OpDef<{ size: [number, number] }> = {
  name: 'resize_nearest',
  shape: ([x], { size }) => {
    if (x.rank !== 4) shapeError('resizeNearest', `expects NCHW, got [${x.shape.join(', ')}]`);
    return [{ shape: [x.shape[0], x.shape[1], size[0], size[1]], dtype: x.dtype }];
  },
  lower: (ctx, n) => {
    const [b, c] = n.inputs[0].shape;
    ctx.emit('Resize', [ctx.name(n.inputs[0]), '', '', ctx.ints([b, c, ...n.attrs.size])], [ctx.name(n.outputs[0])], {
      mode: attr.string('nearest'),
      coordinate_transformation_mode: attr.string('asymmetric'),
      nearest_mode: attr.string('floor'),
    });
  },
  vjp: (n, [g]) => {
    if (!g) return [null];
    const [b, c, h, w] = n.inputs[0].shape;
    const [oh, ow] = n.attrs.size;
    if (oh % h === 0 && ow % w === 0) {
      // Output (y, x) reads (floor(y/fh), floor(x/fw)): sum each fh×fw block.
      const fh = oh / h;
      const fw = ow / w;
      return [reshape(reduceSum(reshape(g, [b, c, h, fh, w, fw]), [3, 5]), [b, c, h, w])];
    }
    let d = g;
    if (ow !== w) d = matmul(d, g.graph.constant(selection(w, ow))); // [.., oh, ow]·[ow, w]
    if (oh !== h) d = matmul(g.graph.constant(selection(h, oh, true)), d); // [h, oh]·[.., oh, w]
    return [d];
  },
};

/** Nearest resize of x [N, C, H, W] to [N, C, outH, outW] (torch's legacy 'nearest'). */
export function resizeNearest(x: Value, outH: number, outW: number): Value {
  if (x.shape[2] === outH && x.shape[3] === outW) return x;
  return x.graph.apply1(ResizeNearestOp, [x], { size: [outH, outW] });
}
