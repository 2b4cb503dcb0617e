/**
 * The images of `hybridvision run`, as the golden io files hold them: one float32 `input` [N, 3, H, W],
 * or `input.0 … input.<N-1>` [3, H_i, W_i] (images of different sizes, for models that batch them
 * with their own transform, as RetinaNet does).
 */
import { HybridVisionError, numel, shapeStr, type HostTensor } from '../tensor.js';

export type RunInput = { kind: 'batch'; batch: HostTensor } | { kind: 'images'; images: HostTensor[] };

function checkImage(t: HostTensor, key: string, file: string, rank: number): void {
  if (t.dtype !== 'float32') throw new HybridVisionError(`${file}: '${key}' is ${t.dtype}; run needs float32 images`);
  if (t.shape.length !== rank || t.shape[rank - 3] !== 3 || numel(t.shape) === 0) {
    throw new HybridVisionError(`${file}: run expects ${key} ${rank === 4 ? '[N, 3, H, W]' : '[3, H, W]'}, got ${shapeStr(t.shape)}`);
  }
}

export function readRunInput(tensors: ReadonlyMap<string, HostTensor>, file: string): RunInput {
  const numbered = [...tensors.keys()].filter((k) => k.startsWith('input.'));
  const one = tensors.get('input');
  if (one && numbered.length) throw new HybridVisionError(`${file} holds both 'input' and '${numbered[0]}'; give either one batch or numbered images`);
  if (one) {
    checkImage(one, 'input', file, 4);
    return { kind: 'batch', batch: one };
  }
  if (!numbered.length) throw new HybridVisionError(`${file} has no tensor named 'input' (or 'input.0', 'input.1', …)`);
  const index = (k: string) => (/^input\.(0|[1-9]\d{0,5})$/.test(k) ? Number(k.slice(6)) : -1);
  const bad = numbered.find((k) => index(k) < 0);
  if (bad !== undefined) throw new HybridVisionError(`${file}: '${bad}' is not input.<index>`);
  for (let i = 0; i < numbered.length; i++) {
    if (!tensors.has(`input.${i}`)) throw new HybridVisionError(`${file} has ${numbered.length} numbered images but no 'input.${i}'; they must be input.0 … input.${numbered.length - 1}`);
  }
  const images = numbered.map((_, i) => tensors.get(`input.${i}`)!);
  images.forEach((t, i) => checkImage(t, `input.${i}`, file, 3));
  return { kind: 'images', images };
}

/** Stacks the run input into one [N, 3, H, W] batch, for models that take one image size. */
export function runBatch(input: RunInput, model: string): HostTensor {
  if (input.kind === 'batch') return input.batch;
  const [, H, W] = input.images[0].shape;
  const odd = input.images.findIndex((t) => t.shape[1] !== H || t.shape[2] !== W);
  if (odd >= 0) throw new HybridVisionError(`${model} takes images of one size: input.0 is ${H}x${W}, input.${odd} is ${input.images[odd].shape[1]}x${input.images[odd].shape[2]}`);
  const data = new Float32Array(input.images.length * 3 * H * W);
  input.images.forEach((t, i) => data.set(t.data as Float32Array, i * 3 * H * W));
  return { dtype: 'float32', shape: [input.images.length, 3, H, W], data };
}
