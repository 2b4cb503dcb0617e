/** Elementwise ops with numpy broadcasting. */
import { broadcastShapes, sameShape, type Node, type Value } from '../ir.js';
import type { OpDef } from '../op.js';
import { attr } from '../op.js';
import { reduceSum } from './reduce.js';
import { reshape } from './shape.js';

export type Operand = Value | number;

function lift(x: Operand, other: Operand): Value {
  if (typeof x !== 'number') return x;
  if (typeof other === 'number') throw new Error('at least one operand must be a graph value');
  return other.graph.scalar(x);
}

/** Sums a broadcast gradient back to `shape`. */
export function sumTo(g: Value, shape: readonly number[]): Value {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = axes.length ? reduceSum(g, axes, true) : g;
  return sameShape(s.shape, shape) ? s : reshape(s, [...shape]);
}

function binary(name: string, onnx: string, vjp: OpDef['vjp']): OpDef<{}> {
  return {
    name,
    shape: ([a, b]) => [{ shape: broadcastShapes(name, a.shape, b.shape), dtype: a.dtype }],
    lower: (ctx, n) => ctx.emit(onnx, n.inputs.map((v) => ctx.name(v)), [ctx.name(n.outputs[0])]),
    vjp,
  };
}

export const AddOp = binary('add', 'Add', (n, [g]) => [g && sumTo(g, n.inputs[0].shape), g && sumTo(g, n.inputs[1].shape)]);
export const SubOp = binary('sub', 'Sub', (n, [g]) => [g && sumTo(g, n.inputs[0].shape), g && sumTo(neg(g), n.inputs[1].shape)]);
export const MulOp = binary('mul', 'Mul', (n, [g]) => {
  const [a, b] = n.inputs;
  return [g && sumTo(mul(g, b), a.shape), g && sumTo(mul(g, a), b.shape)];
});
export const DivOp = binary('div', 'Div', (n, [g]) => {
  const [a, b] = n.inputs;
  if (!g) return [null, null];
  const ga = div(g, b);
  return [sumTo(ga, a.shape), sumTo(neg(mul(ga, n.outputs[0])), b.shape)];
});
/** Elementwise maximum; ties split the gradient in half, as torch.maximum does. */
export const MaxOp = binary('max', 'Max', (n, [g]) => {
  const [a, b] = n.inputs;
  if (!g) return [null, null];
  const tie = mul(compare(a, b, 'eq'), 0.5);
  return [sumTo(mul(g, add(compare(a, b, 'gt'), tie)), a.shape), sumTo(mul(g, add(compare(a, b, 'lt'), tie)), b.shape)];
});

export const add = (a: Operand, b: Operand): Value => lift(a, b).graph.apply1(AddOp, [lift(a, b), lift(b, a)], {});
export const sub = (a: Operand, b: Operand): Value => lift(a, b).graph.apply1(SubOp, [lift(a, b), lift(b, a)], {});
export const mul = (a: Operand, b: Operand): Value => lift(a, b).graph.apply1(MulOp, [lift(a, b), lift(b, a)], {});
export const div = (a: Operand, b: Operand): Value => lift(a, b).graph.apply1(DivOp, [lift(a, b), lift(b, a)], {});
export const maximum = (a: Operand, b: Operand): Value => lift(a, b).graph.apply1(MaxOp, [lift(a, b), lift(b, a)], {});

/** A float 0/1 mask comparing a and b elementwise (no gradient). */
export const CompareOp: OpDef<{ mode: 'gt' | 'lt' | 'eq' }> = {
  name: 'compare',
  shape: ([a, b], { mode }) => [{ shape: broadcastShapes(`compare ${mode}`, a.shape, b.shape), dtype: 'float32' }],
  lower: (ctx, n) => {
    const t = ctx.fresh('cmp');
    const onnx = { gt: 'Greater', lt: 'Less', eq: 'Equal' }[n.attrs.mode];
    ctx.emit(onnx, n.inputs.map((v) => ctx.name(v)), [t]);
    ctx.emit('Cast', [t], [ctx.name(n.outputs[0])], { to: attr.int(1) });
  },
  vjp: () => [null, null],
};
export const compare = (a: Operand, b: Operand, mode: 'gt' | 'lt' | 'eq'): Value =>
  lift(a, b).graph.apply1(CompareOp, [lift(a, b), lift(b, a)], { mode });

/** 1 where lo < x < hi, else 0 (no gradient): the pass-through mask of ReLU/Clip style kinks. */
export const BandMaskOp: OpDef<{ lo: number; hi: number }> = {
  name: 'band_mask',
  shape: ([x]) => [{ shape: [...x.shape], dtype: 'float32' }],
  lower: (ctx, n) => {
    const x = ctx.name(n.inputs[0]);
    const { lo, hi } = n.attrs;
    const parts: string[] = [];
    if (lo > -Infinity) {
      const t = ctx.fresh('gt');
      ctx.emit('Greater', [x, ctx.floats([lo], [])], [t]);
      parts.push(t);
    }
    if (hi < Infinity) {
      const t = ctx.fresh('lt');
      ctx.emit('Less', [x, ctx.floats([hi], [])], [t]);
      parts.push(t);
    }
    let m = parts[0];
    if (parts.length === 2) {
      m = ctx.fresh('and');
      ctx.emit('And', parts, [m]);
    }
    ctx.emit('Cast', [m], [ctx.name(n.outputs[0])], { to: attr.int(1) });
  },
  vjp: () => [null],
};
export const bandMask = (x: Value, lo: number, hi: number): Value => x.graph.apply1(BandMaskOp, [x], { lo, hi });

function unary(name: string, onnx: string, vjp: (n: Node, g: Value) => Value): OpDef<{}> {
  return {
    name,
    shape: ([x]) => [{ shape: [...x.shape], dtype: x.dtype }],
    lower: (ctx, n) => ctx.emit(onnx, [ctx.name(n.inputs[0])], [ctx.name(n.outputs[0])]),
    vjp: (n, [g]) => [g && vjp(n, g)],
  };
}

export const NegOp = unary('neg', 'Neg', (_n, g) => neg(g));
export const ExpOp = unary('exp', 'Exp', (n, g) => mul(g, n.outputs[0]));
export const LogOp = unary('log', 'Log', (n, g) => div(g, n.inputs[0]));
export const SqrtOp = unary('sqrt', 'Sqrt', (n, g) => div(mul(g, 0.5), n.outputs[0]));
export const SigmoidOp = unary('sigmoid', 'Sigmoid', (n, g) => {
  const y = n.outputs[0];
  return mul(g, mul(y, sub(1, y)));
});
export const ReluOp = unary('relu', 'Relu', (n, g) => mul(g, bandMask(n.inputs[0], 0, Infinity)));
export const ErfOp = unary('erf', 'Erf', (n, g) => {
  const x = n.inputs[0];
  return mul(g, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI)));
});

export const neg = (x: Value): Value => x.graph.apply1(NegOp, [x], {});
export const exp = (x: Value): Value => x.graph.apply1(ExpOp, [x], {});
export const log = (x: Value): Value => x.graph.apply1(LogOp, [x], {});
export const sqrt = (x: Value): Value => x.graph.apply1(SqrtOp, [x], {});
export const sigmoid = (x: Value): Value => x.graph.apply1(SigmoidOp, [x], {});
export const relu = (x: Value): Value => x.graph.apply1(ReluOp, [x], {});
export const erf = (x: Value): Value => x.graph.apply1(ErfOp, [x], {});

/** clamp(x, min, max); the gradient passes where min < x < max (torch hardtanh). */
export const ClipOp: OpDef<{ min: number; max: number }> = {
  name: 'clip',
  shape: ([x]) => [{ shape: [...x.shape], dtype: x.dtype }],
  lower: (ctx, n) =>
    ctx.emit('Clip', [ctx.name(n.inputs[0]), ctx.floats([n.attrs.min], []), ctx.floats([n.attrs.max], [])], [ctx.name(n.outputs[0])]),
  vjp: (n, [g]) => [g && mul(g, bandMask(n.inputs[0], n.attrs.min, n.attrs.max))],
};
export const clip = (x: Value, min: number, max: number): Value => x.graph.apply1(ClipOp, [x], { min, max });

/** h_sigmoid(x) = relu6(x + 3) / 6, as one ONNX HardSigmoid. */
export const HardSigmoidOp: OpDef<{}> = {
  name: 'hard_sigmoid',
  shape: ([x]) => [{ shape: [...x.shape], dtype: x.dtype }],
  lower: (ctx, n) =>
    ctx.emit('HardSigmoid', [ctx.name(n.inputs[0])], [ctx.name(n.outputs[0])], { alpha: attr.float(1 / 6), beta: attr.float(0.5) }),
  vjp: (n, [g]) => [g && mul(g, mul(bandMask(n.inputs[0], -3, 3), 1 / 6))],
};
export const hardSigmoid = (x: Value): Value => x.graph.apply1(HardSigmoidOp, [x], {});
