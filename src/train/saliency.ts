/**
 * Input gradients (saliency maps) in eval mode: ∂(Σ_b logits[b, label_b])/∂input (class-score
 * saliency) and ∂loss/∂input for the label-smoothed cross-entropy, from one compiled graph with the
 * weights baked in.
 */
import { grad } from '../graph/autodiff.js';
import type { Value } from '../graph/ir.js';
import { Program } from '../runtime/program.js';
import type { HybridModel } from '../models/model.js';
import { HybridVisionError, shapeStr, type HostTensor } from '../tensor.js';
import { crossEntropy, labelTensor, oneHot } from './loss.js';

export type SaliencyKind = 'target_logit' | 'loss';

export interface InputGradientOptions {
  /** Which gradients to compute (default both). */
  kinds?: SaliencyKind[];
  /** Label smoothing of the loss (default 0). */
  labelSmoothing?: number;
  threads?: number;
}

export interface InputGradientResult {
  logits: HostTensor;
  loss: number;
  /** kind -> gradient with the input's shape */
  grads: Partial<Record<SaliencyKind, HostTensor>>;
}

export class InputGradient {
  private constructor(
    readonly model: HybridModel,
    readonly inputShape: readonly number[],
    readonly kinds: readonly SaliencyKind[],
    private program: Program,
  ) {}

  /** Compiles the eval-mode input-gradient graph for one input shape, with the model's current weights. */
  static async create(model: HybridModel, inputShape: number[], opts: InputGradientOptions = {}): Promise<InputGradient> {
    const kinds = opts.kinds ?? ['target_logit', 'loss'];
    const b = model.build(inputShape, { mode: 'eval' });
    const g = b.graph;
    const logits = b.out.logits;
    const labels = g.input('labels', [inputShape[0]], 'int64');
    const loss = crossEntropy(logits, labels, opts.labelSmoothing ?? 0);
    const outputs: { name: string; value: Value }[] = [
      { name: 'logits', value: logits },
      { name: 'loss', value: loss },
    ];
    for (const k of kinds) {
      const [gx] = k === 'target_logit' ? grad([logits], [oneHot(labels, logits.shape[1])], [b.input]) : grad([loss], [g.scalar(1)], [b.input]);
      if (!gx) throw new HybridVisionError(`no gradient reaches the input (${k})`);
      outputs.push({ name: `grad_input.${k}`, value: gx });
    }
    const program = await Program.compile({ graph: g, outputs, params: 'initializer', weights: model.weights, threads: opts.threads ?? model.threads });
    return new InputGradient(model, inputShape, kinds, program);
  }

  async run(images: HostTensor, labels: ArrayLike<number> | BigInt64Array): Promise<InputGradientResult> {
    if (images.dtype !== 'float32' || images.shape.join(',') !== this.inputShape.join(',')) {
      throw new HybridVisionError(`compiled for float32 ${shapeStr([...this.inputShape])}, got ${images.dtype} ${shapeStr(images.shape)}`);
    }
    const out = await this.program.run({ input: images, labels: labelTensor(labels, this.model.numClasses) });
    const grads: InputGradientResult['grads'] = {};
    for (const k of this.kinds) grads[k] = out[`grad_input.${k}`];
    return { logits: out['logits'], loss: (out['loss'].data as Float32Array)[0], grads };
  }

  async release(): Promise<void> {
    await this.program.release();
  }
}
