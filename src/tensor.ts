/** Host-side tensors: plain typed arrays with a shape, shared by io/, data/, runtime/ and models/. */

export type DType = 'float32' | 'float16' | 'int64' | 'int32' | 'uint8' | 'bool';

export type TypedData = Float32Array | BigInt64Array | Int32Array | Uint8Array | Uint16Array;

export interface HostTensor {
  dtype: DType;
  shape: number[];
  data: TypedData;
}

/**
 * A float32 input as users write it: an object literal such as
 * `{ dtype: 'float32', shape: [1, 3, 224, 224], data }` typechecks without `as const` (its dtype
 * widens to string); the dtype is checked when the tensor is used.
 */
export interface InputTensor {
  dtype: string;
  shape: readonly number[];
  data: Float32Array;
}

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function f32(shape: number[], data?: Float32Array | number[]): HostTensor & { data: Float32Array } {
  const n = numel(shape);
  const arr = data === undefined ? new Float32Array(n) : data instanceof Float32Array ? data : Float32Array.from(data);
  if (arr.length !== n) throw new Error(`tensor data has ${arr.length} elements, shape [${shape.join(', ')}] needs ${n}`);
  return { dtype: 'float32', shape: [...shape], data: arr };
}

export function i64(shape: number[], data: BigInt64Array | number[]): HostTensor & { data: BigInt64Array } {
  const arr = data instanceof BigInt64Array ? data : BigInt64Array.from(data.map((v) => BigInt(v)));
  if (arr.length !== numel(shape)) throw new Error(`tensor data has ${arr.length} elements, shape [${shape.join(', ')}] needs ${numel(shape)}`);
  return { dtype: 'int64', shape: [...shape], data: arr };
}

export function shapeStr(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * A user-facing error: the CLI prints its message on one line and exits non-zero, without a stack.
 * Control characters (terminal escapes from a hostile file, newlines) are shown as escapes.
 */
export class HybridVisionError extends Error {
  constructor(message: string) {
    super(message.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => {
      const n = c.charCodeAt(0);
      return n > 0xff ? `\\u${n.toString(16).padStart(4, '0')}` : `\\x${n.toString(16).padStart(2, '0')}`;
    }));
    this.name = 'HybridVisionError';
  }
}
