/** What every op defines: a shape rule, an ONNX lowering and (where differentiable) a VJP rule. */
import type { HostTensor } from '../tensor.js';
import type { Node, VDType, Value } from './ir.js';

export type Attr =
  | { kind: 'int'; v: number }
  | { kind: 'float'; v: number }
  | { kind: 'ints'; v: number[] }
  | { kind: 'floats'; v: number[] }
  | { kind: 'string'; v: string }
  | { kind: 'tensor'; v: HostTensor };

export const attr = {
  int: (v: number): Attr => ({ kind: 'int', v }),
  float: (v: number): Attr => ({ kind: 'float', v }),
  ints: (v: number[]): Attr => ({ kind: 'ints', v }),
  floats: (v: number[]): Attr => ({ kind: 'floats', v }),
  string: (v: string): Attr => ({ kind: 'string', v }),
  tensor: (v: HostTensor): Attr => ({ kind: 'tensor', v }),
};

export interface LowerCtx {
  /** The ONNX name of a value. */
  name(v: Value): string;
  /** Emits one ONNX node. */
  emit(opType: string, inputs: string[], outputs: string[], attrs?: Record<string, Attr>): void;
  /** A 1-D int64 initializer (deduplicated). */
  ints(values: number[]): string;
  /** A float32 scalar or tensor initializer (deduplicated for scalars). */
  floats(values: number[], shape?: number[]): string;
  /** A fresh intermediate name. */
  fresh(hint?: string): string;
}

export interface OpDef<A = unknown> {
  readonly name: string;
  shape(inputs: readonly Value[], attrs: A): { shape: number[]; dtype: VDType }[];
  lower(ctx: LowerCtx, node: Node<A>): void;
  /**
   * Given the gradients flowing into the outputs (null where none flows), returns the gradient for
   * each input (null where none or not differentiable). Built from other ops, so it lowers too.
   */
  vjp?(node: Node<A>, gys: (Value | null)[]): (Value | null)[];
  /** MAdds of one node (conv, matmul); counted per layer by the summary. */
  madds?(node: Node<A>): number;
}
