/** Layout ops: reshape, transpose, concat, slice, expand, pad. */
import { HybridVisionError, numel } from '../../tensor.js';
import { normAxis, shapeError, sameShape, type Value } from '../ir.js';
import type { OpDef } from '../op.js';
import { attr } from '../op.js';
import { sumTo } from './elementwise.js';

export const ReshapeOp: OpDef<{ shape: number[] }> = {
  name: 'reshape',
  shape: ([x], { shape }) => {
    if (numel(shape) !== x.size) shapeError('reshape', `cannot reshape [${x.shape.join(', ')}] to [${shape.join(', ')}]`);
    return [{ shape: [...shape], dtype: x.dtype }];
  },
  lower: (ctx, n) => ctx.emit('Reshape', [ctx.name(n.inputs[0]), ctx.ints(n.attrs.shape)], [ctx.name(n.outputs[0])]),
  vjp: (n, [g]) => [g && reshape(g, [...n.inputs[0].shape])],
};
/** Reshape; one entry may be -1. */
export function reshape(x: Value, shape: number[]): Value {
  const known = shape.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const s = shape.map((d) => (d === -1 ? x.size / known : d));
  if (sameShape(s, x.shape)) return x;
  return x.graph.apply1(ReshapeOp, [x], { shape: s });
}

export const TransposeOp: OpDef<{ perm: number[] }> = {
  name: 'transpose',
  shape: ([x], { perm }) => {
    if (perm.length !== x.rank) shapeError('transpose', `perm [${perm}] does not fit rank ${x.rank}`);
    return [{ shape: perm.map((p) => x.shape[p]), dtype: x.dtype }];
  },
  lower: (ctx, n) => ctx.emit('Transpose', [ctx.name(n.inputs[0])], [ctx.name(n.outputs[0])], { perm: attr.ints(n.attrs.perm) }),
  vjp: (n, [g]) => {
    if (!g) return [null];
    const inv: number[] = [];
    n.attrs.perm.forEach((p: number, i: number) => (inv[p] = i));
    return [transpose(g, inv)];
  },
};
/** Whether permuting `shape` by `perm` keeps the data order (only size-1 axes move). */
export function keepsDataOrder(shape: readonly number[], perm: readonly number[]): boolean {
  const moved = perm.filter((p) => shape[p] !== 1);
  return moved.every((p, i) => i === 0 || p > moved[i - 1]);
}

export function transpose(x: Value, perm: number[]): Value {
  if (perm.every((p, i) => p === i)) return x;
  // A transpose of a transpose is one transpose (or none).
  if (x.node?.op === TransposeOp) {
    const inner = x.node.attrs.perm as number[];
    return transpose(x.node.inputs[0], perm.map((p) => inner[p]));
  }
  // Moving only size-1 axes keeps the data order: a reshape, no copy.
  if (keepsDataOrder(x.shape, perm)) return reshape(x, perm.map((p) => x.shape[p]));
  return x.graph.apply1(TransposeOp, [x], { perm });
}

export const ConcatOp: OpDef<{ axis: number }> = {
  name: 'concat',
  shape: (xs, { axis }) => {
    const s = [...xs[0].shape];
    s[axis] = 0;
    for (const x of xs) {
      if (x.rank !== s.length || x.shape.some((d, i) => i !== axis && d !== s[i])) {
        shapeError('concat', `shapes ${xs.map((v) => `[${v.shape.join(', ')}]`).join(' and ')} differ off axis ${axis}`);
      }
      s[axis] += x.shape[axis];
    }
    return [{ shape: s, dtype: xs[0].dtype }];
  },
  lower: (ctx, n) => ctx.emit('Concat', n.inputs.map((v) => ctx.name(v)), [ctx.name(n.outputs[0])], { axis: attr.int(n.attrs.axis) }),
  vjp: (n, [g]) => {
    if (!g) return n.inputs.map(() => null);
    let off = 0;
    return n.inputs.map((x) => {
      const len = x.shape[n.attrs.axis];
      const r = slice(g, [off], [off + len], [n.attrs.axis]);
      off += len;
      return r;
    });
  },
};
export function concat(xs: Value[], axis: number): Value {
  if (xs.length === 1) return xs[0];
  return xs[0].graph.apply1(ConcatOp, xs, { axis: normAxis(axis, xs[0].rank) });
}

interface SliceAttrs {
  starts: number[];
  ends: number[];
  axes: number[];
  steps: number[];
}
export const SliceOp: OpDef<SliceAttrs> = {
  name: 'slice',
  shape: ([x], a) => {
    const s = [...x.shape];
    a.axes.forEach((ax, i) => {
      const step = a.steps[i];
      const len = step > 0 ? Math.ceil((a.ends[i] - a.starts[i]) / step) : Math.ceil((a.starts[i] - a.ends[i]) / -step);
      s[ax] = Math.max(0, len);
    });
    return [{ shape: s, dtype: x.dtype }];
  },
  lower: (ctx, n) => {
    const a = n.attrs;
    // ONNX reads an end of -1 with a negative step as "index -1"; use a large negative sentinel for "past the start".
    const ends = a.ends.map((e, i) => (a.steps[i] < 0 && e < 0 ? -(2 ** 62) : e));
    ctx.emit('Slice', [ctx.name(n.inputs[0]), ctx.ints(a.starts), ctx.ints(ends), ctx.ints(a.axes), ctx.ints(a.steps)], [ctx.name(n.outputs[0])]);
  },
  vjp: (n, [g]) => {
    if (!g) return [null];
    const a = n.attrs;
    if (a.steps.some((s) => s !== 1)) throw new HybridVisionError('gradient of a strided slice is not supported');
    const x = n.inputs[0];
    const before = new Array(x.rank).fill(0);
    const after = new Array(x.rank).fill(0);
    a.axes.forEach((ax, i) => {
      before[ax] = a.starts[i];
      after[ax] = x.shape[ax] - a.ends[i];
    });
    return [pad(g, before, after)];
  },
};
/** Static slice with clamped, non-negative bounds; steps default to 1. */
export function slice(x: Value, starts: number[], ends: number[], axes: number[], steps?: number[]): Value {
  const ax = axes.map((a) => normAxis(a, x.rank));
  const st = steps ?? ax.map(() => 1);
  const s: number[] = [];
  const e: number[] = [];
  ax.forEach((a, i) => {
    const d = x.shape[a];
    const norm = (v: number) => (v < 0 ? v + d : v);
    if (st[i] > 0) {
      s.push(Math.min(Math.max(norm(starts[i]), 0), d));
      e.push(Math.min(Math.max(norm(ends[i]), 0), d));
    } else {
      s.push(Math.min(Math.max(norm(starts[i]), 0), d - 1));
      e.push(ends[i] < -d ? -1 : Math.min(Math.max(norm(ends[i]), -1), d - 1));
    }
  });
  if (st.every((v) => v === 1) && ax.every((a, i) => s[i] === 0 && e[i] === x.shape[a])) return x;
  return x.graph.apply1(SliceOp, [x], { starts: s, ends: e, axes: ax, steps: st });
}

export const PadOp: OpDef<{ before: number[]; after: number[] }> = {
  name: 'pad',
  shape: ([x], { before, after }) => [{ shape: x.shape.map((d, i) => d + before[i] + after[i]), dtype: x.dtype }],
  lower: (ctx, n) => ctx.emit('Pad', [ctx.name(n.inputs[0]), ctx.ints([...n.attrs.before, ...n.attrs.after])], [ctx.name(n.outputs[0])]),
  vjp: (n, [g]) => {
    if (!g) return [null];
    const x = n.inputs[0];
    const axes = x.shape.map((_, i) => i);
    return [slice(g, n.attrs.before, axes.map((i) => n.attrs.before[i] + x.shape[i]), axes)];
  },
};
/** Zero padding. */
export function pad(x: Value, before: number[], after: number[]): Value {
  if (before.every((v) => v === 0) && after.every((v) => v === 0)) return x;
  return x.graph.apply1(PadOp, [x], { before, after });
}

export const ExpandOp: OpDef<{ shape: number[] }> = {
  name: 'expand',
  shape: ([x], { shape }) => [{ shape: [...shape], dtype: x.dtype }],
  lower: (ctx, n) => ctx.emit('Expand', [ctx.name(n.inputs[0]), ctx.ints(n.attrs.shape)], [ctx.name(n.outputs[0])]),
  vjp: (n, [g]) => [g && sumTo(g, n.inputs[0].shape)],
};
export function expand(x: Value, shape: number[]): Value {
  if (sameShape(x.shape, shape)) return x;
  return x.graph.apply1(ExpandOp, [x], { shape });
}

export const SplitOp: OpDef<{ axis: number; sizes: number[] }> = {
  name: 'split',
  shape: ([x], { axis, sizes }) => {
    if (sizes.reduce((a, b) => a + b, 0) !== x.shape[axis]) shapeError('split', `sizes [${sizes}] do not add up to ${x.shape[axis]}`);
    return sizes.map((d) => ({ shape: x.shape.map((v, i) => (i === axis ? d : v)), dtype: x.dtype }));
  },
  lower: (ctx, n) =>
    ctx.emit('Split', [ctx.name(n.inputs[0]), ctx.ints(n.attrs.sizes)], n.outputs.map((o) => ctx.name(o) || ctx.fresh('split_unused')), { axis: attr.int(n.attrs.axis) }),
  // One Concat of the pieces' gradients (zeros where none flows) instead of a padded copy per piece.
  vjp: (n, gs) => {
    if (gs.every((g) => !g)) return [null];
    const some = gs.find((g) => g)!;
    const pieces = gs.map((g, i) => g ?? expand(some.graph.scalar(0), [...n.outputs[i].shape]));
    return [concat(pieces, n.attrs.axis)];
  },
};
/** Splits x along `axis` into pieces of the given sizes (one engine op). */
export function split(x: Value, sizes: number[], axis: number): Value[] {
  return x.graph.apply(SplitOp, [x], { axis: normAxis(axis, x.rank), sizes });
}
