/**
 * `hybridvision train <model> --data fashion-mnist|DIR`: trains with a live progress bar, writes a
 * resumable checkpoint atomically after every epoch, the final model (official keys + metadata) and
 * an HTML report with curves and the test-set confusion matrix.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rng } from '../../random.js';
import { modelToSafetensors } from '../../models/model_file.js';
import { loadWeights } from '../weights.js';
import { createModel } from '../../models/registry.js';
import { trainValSplit, subset, permutation } from '../../data/dataset.js';
import { writeFileAtomic } from '../../io/node_files.js';
import { prepareRunDir, saveTrainCheckpoint } from '../../train/checkpoint_node.js';
import { evaluate } from '../../train/evaluate.js';
import { fit, type FitOptions } from '../../train/fit.js';
import { trainingReport } from '../../train/report.js';
import { checkBatchInput, nonNegInt, nonNegNumber, parse, posInt, usageError, type CommandSpec } from '../args.js';
import { AUGMENT_KINDS, type AugmentKind } from '../../data/augment.js';
import { loadData } from '../data.js';
import { duration, Eta, Progress, StatusLine } from '../progress.js';
import { getModelSpec } from '../../models/registry.js';
import { DENSE_FAMILIES, trainDenseCommand } from './train_dense.js';
import { interruptHint, optimisationOptions, resumeState } from '../train_run.js';

const num = nonNegNumber;

const str = (value: string, help: string, choices?: readonly string[]) => ({ type: 'string' as const, value, help, choices });
const flag = (help: string) => ({ type: 'boolean' as const, help });

export const trainSpec: CommandSpec = {
  usage: 'train <model> --data fashion-mnist|fmnist-scenes|DIR',
  about:
    'Trains (or fine-tunes, with --weights) a model: a live progress bar, a resumable checkpoint written atomically after every epoch, ' +
    'then OUT/model.safetensors (official key names), the test-set accuracy and OUT/report.html (curves, confusion matrix).',
  options: {
    data: str('SRC', "classifiers: 'fashion-mnist' (the Debian IDX files) or a folder with one sub-folder of images per class; dense models: 'fmnist-scenes' (made in memory) or a COCO-format detection / VOC-format segmentation folder"),
    scenes: str('N', 'fmnist-scenes: training scenes (default 8000; the test set is always the same 1,000 scenes)'),
    'test-scenes': str('N', 'fmnist-scenes: test scenes (default 1000)'),
    'no-flip': flag('dense models: no random horizontal flips'),
    'anchor-scales': str('MIN,MAX', 'SSD models: smallest and largest prior-box scale, fractions of the image side (default the official 0.1,1.05); recorded in the model file'),
    'match-iou': str('X', 'SSD models: IoU a prior needs with a box to be matched to it (default the official 0.5)'),
    'data-path': str('DIR', 'where the Fashion-MNIST IDX files are (default /usr/share/datasets/fashion-mnist)'),
    epochs: str('N', 'epochs (default 10)'),
    batch: str('N', 'batch size (default 64)'),
    size: str('S', 'square input size (default 32)'),
    lr: str('X', 'peak learning rate (default 0.002)'),
    'min-lr': str('X', 'cosine schedule: final learning rate (default lr/100)'),
    warmup: str('EPOCHS', 'linear warm-up length, may be fractional (default 1)'),
    schedule: str('', 'learning-rate schedule after the warm-up (default cosine)', ['cosine', 'step']),
    'step-epochs': str('N', 'step schedule: epochs between decays (default epochs/3)'),
    gamma: str('X', 'step schedule: factor per decay (default 0.1)'),
    optimizer: str('', 'default adamw (decoupled weight decay)', ['adamw', 'sgd']),
    momentum: str('X', 'SGD momentum (default 0.9)'),
    'no-nesterov': flag('SGD: plain momentum instead of Nesterov'),
    wd: str('X', 'weight decay, not applied to norms, biases and tokens (default 0.05)'),
    smoothing: str('X', 'label smoothing (default 0.1)'),
    clip: str('X', 'clip gradients to this global L2 norm'),
    aug: str('', 'augmentation (default pad-crop for Fashion-MNIST, rrc for folders)', AUGMENT_KINDS),
    shift: str('PX', 'pad-crop: largest shift in pixels'),
    mixup: str('ALPHA', 'mixup with this Beta alpha'),
    cutmix: str('ALPHA', 'cutmix with this Beta alpha'),
    'mix-prob': str('P', 'probability of mixing a batch (default 1)'),
    ema: str('DECAY', 'keep an EMA of the weights with this decay; its weights are saved'),
    dropout: flag("enable the model's dropout rates"),
    weights: str('FILE', "start from these weights (a model file, or 'pretrained' for the official ImageNet weights); the head is replaced when the class count differs"),
    freeze: str('', 'train only the head (dense models: freeze the backbone network)', ['backbone']),
    val: str('FRACTION', 'held-out validation fraction of the training set (default 0.1; 0 for none)'),
    limit: str('N', 'train on a random subset of N images'),
    seed: str('N', 'seed for initialisation, shuffling and augmentation (default 1)'),
    threads: str('N', 'engine threads (default 2)'),
    out: str('DIR', 'output folder (default runs/<model>-<data>)'),
    resume: flag('continue the run in --out from its last checkpoint (same options)'),
  },
};

export async function trainCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, trainSpec);
  if (positionals.length !== 1 || !values.data) throw usageError(trainSpec, 'expected a model and --data');
  const name = positionals[0];
  if (DENSE_FAMILIES.has(getModelSpec(name).family)) return trainDenseCommand(name, values, argv);
  const size = posInt(values.size, 'size', 32);
  const seed = posInt(values.seed, 'seed', 1) ;
  const status = new StatusLine();
  status.show(`loading ${values.data}`);
  const data = await loadData(values.data, { size, dataPath: values['data-path'] });
  status.clear();
  let all = data.train;
  if (values.limit) all = subset(all, permutation(all.count, rng(seed)).subarray(0, Math.min(all.count, posInt(values.limit, 'limit', 1))));
  const valFrac = num(values.val, 'val', 0.1);
  const split = valFrac > 0 ? trainValSplit(all, valFrac, rng(seed + 1)) : { train: all, val: null };
  const classNames = [...data.train.classNames];
  const threads = posInt(values.threads, 'threads', 2);

  const model = values.weights ? await loadWeights(values.weights, name, { threads }) : createModel(name, { numClasses: classNames.length, seed, threads });
  if (model.numClasses !== classNames.length) model.resetClassifier(classNames.length, seed);
  model.labels = classNames;
  model.cfg = { ...model.cfg, inputSize: [size, size], cropPct: 1, interpolation: 'bilinear', mean: data.mean, std: data.std, channelOrder: 'RGB', pad: data.pad };

  const mix = values.cutmix ? { kind: 'cutmix' as const, alpha: num(values.cutmix, 'cutmix', 1), prob: num(values['mix-prob'], 'mix-prob', 1) } : values.mixup ? { kind: 'mixup' as const, alpha: num(values.mixup, 'mixup', 0.2), prob: num(values['mix-prob'], 'mix-prob', 1) } : null;
  const o: FitOptions = {
    ...optimisationOptions(values, { batch: 64, weightDecay: 0.05 }),
    size,
    labelSmoothing: num(values.smoothing, 'smoothing', 0.1),
    augment: (values.aug as AugmentKind | undefined) ?? (data.pad > 0 ? 'pad-crop' : 'rrc'),
    pad: data.pad,
    shift: values.shift === undefined ? undefined : nonNegInt(values.shift, 'shift'),
    flip: true,
    mix,
    seed,
    norm: { mean: data.mean, std: data.std, channelOrder: 'RGB' },
  };
  const out = values.out ?? join('runs', `${name}-${data.name.replace(/[^\w.-]+/g, '_')}`);
  checkBatchInput(o.batchSize, size, size);
  const releaseOut = prepareRunDir(out);
  const ckpt = join(out, 'checkpoint.safetensors');
  const config = { ...o, data: values.data, limit: values.limit ?? null, val: valFrac, weights: values.weights ?? null };
  const resume = values.resume ? await resumeState(ckpt, name, config) : null;
  console.log(`${name}: ${split.train.count} train / ${split.val?.count ?? 0} val images, ${classNames.length} classes, ${size}x${size}, batch ${o.batchSize}, ${o.epochs} epochs -> ${out}`);
  const bar = new Progress();
  const t0 = Date.now();
  const etaClock = new Eta();
  const command = `hybridvision train ${argv.join(' ')}`;
  const interrupt = interruptHint({ argv, ckpt, out, outGiven: Boolean(values.out), epochs: o.epochs, startEpoch: resume?.epoch ?? 0, onStop: () => bar.done('') });
  const { history } = await fit(model, split.train, split.val, o, {
    resume,
    onStep: (s) => {
      const done = s.epoch * s.stepsPerEpoch + s.step - (resume ? resume.epoch * s.stepsPerEpoch : 0);
      const total = (o.epochs - (resume?.epoch ?? 0)) * s.stepsPerEpoch;
      const eta = etaClock.update(done, total);
      bar.update(`epoch ${s.epoch + 1}/${o.epochs} step ${s.step}/${s.stepsPerEpoch} loss ${s.loss.toFixed(4)} acc ${(100 * s.acc).toFixed(1)}% ${s.imgPerSec.toFixed(0)} img/s ETA ${duration(eta)}`, s.step / s.stepsPerEpoch);
    },
    onEpoch: (r) => {
      bar.done(`epoch ${r.epoch}/${o.epochs}: train loss ${r.trainLoss.toFixed(4)}${(o.labelSmoothing ?? 0) > 0 ? ' (label-smoothed)' : ''} acc ${(100 * r.trainAcc).toFixed(2)}%${r.val ? `, val loss ${r.val.loss.toFixed(4)} top-1 ${(100 * r.val.top1).toFixed(2)}%` : ''}, ${r.imgPerSec.toFixed(0)} img/s, ${duration(r.seconds)}`);
    },
    checkpoint: async (s) => {
      await saveTrainCheckpoint(ckpt, { model: name, numClasses: classNames.length, config: JSON.parse(JSON.stringify(config)) }, s);
      interrupt.record(s.epoch);
    },
  });
  interrupt.release();
  const view = { size, pad: data.pad, norm: o.norm };
  const test = data.test ? await evaluate(model, data.test, view) : null;
  if (test) console.log(`test set: top-1 ${(100 * test.top1).toFixed(2)}%${classNames.length > 5 ? `, top-5 ${(100 * test.top5).toFixed(2)}%` : ''} (${test.count} images)`);
  await writeFileAtomic(join(out, 'model.safetensors'), modelToSafetensors(model, { extra: { trained_with: command } }));
  writeFileSync(join(out, 'history.json'), JSON.stringify({ command, history, test: test && { top1: test.top1, top5: test.top5, perClass: test.perClass } }, null, 2));
  writeFileSync(join(out, 'report.html'), trainingReport({ title: `${name} on ${data.name}`, command, history, test, classNames, labelSmoothing: o.labelSmoothing, notes: [`wall time ${duration((Date.now() - t0) / 1000)}`] }));
  console.log(`wrote ${join(out, 'model.safetensors')}, ${join(out, 'report.html')}`);
  await model.dispose();
  releaseOut();
}
