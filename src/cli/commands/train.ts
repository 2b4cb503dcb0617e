/**
 * `hybridvision train <model> --data fashion-mnist|DIR`: trains with a live progress bar, writes a
 * resumable checkpoint atomically after every epoch, the final model (official keys + metadata) and
 * an HTML report with curves and the test-set confusion matrix.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rng } from '../../models/init.js';
import { modelToSafetensors } from '../../models/model_file.js';
import { loadModelFile } from '../../models/model_file_node.js';
import { createModel } from '../../models/registry.js';
import { trainValSplit, subset, permutation } from '../../data/dataset.js';
import { writeFileAtomic } from '../../io/node_files.js';
import { loadTrainCheckpoint, saveTrainCheckpoint } from '../../train/checkpoint_node.js';
import { evaluate } from '../../train/evaluate.js';
import { fit, type FitOptions } from '../../train/fit.js';
import { trainingReport } from '../../train/report.js';
import { HybridVisionError } from '../../tensor.js';
import { nonNegInt, parse, posInt } from '../args.js';
import { AUGMENT_KINDS, type AugmentKind } from '../../data/augment.js';
import { loadData } from '../data.js';
import { duration, Progress } from '../progress.js';

function augmentOf(s: string | undefined, fallback: AugmentKind): AugmentKind {
  if (s === undefined) return fallback;
  const a = AUGMENT_KINDS.find((v) => v === s);
  if (!a) throw new HybridVisionError(`--aug must be one of ${AUGMENT_KINDS.join(', ')}, got '${s}'`);
  return a;
}

function num(s: string | undefined, name: string, fallback: number): number {
  if (s === undefined) return fallback;
  const v = Number(s);
  if (!Number.isFinite(v) || v < 0) throw new HybridVisionError(`--${name} needs a non-negative number, got '${s}'`);
  return v;
}

export async function trainCommand(argv: string[]): Promise<void> {
  const usage =
    'hybridvision train <model> --data fashion-mnist|DIR [--epochs N] [--batch N] [--lr X] [--size S] [--weights FILE] [--freeze backbone] [--out DIR] [--resume] [--aug pad-crop|flip|rrc|none] [--shift PX] [--mixup A] [--cutmix A] [--ema D] [--dropout] [--limit N] [--seed N]';
  const opt = { type: 'string' } as const;
  const { values, positionals } = parse(
    argv,
    {
      data: opt, 'data-path': opt, epochs: opt, batch: opt, lr: opt, 'min-lr': opt, warmup: opt, size: opt, wd: opt, optimizer: opt, smoothing: opt, clip: opt,
      weights: opt, freeze: opt, out: opt, resume: { type: 'boolean' }, aug: opt, shift: opt, mixup: opt, cutmix: opt, 'mix-prob': opt, ema: opt, dropout: { type: 'boolean' }, limit: opt, seed: opt, val: opt, threads: opt,
    },
    usage,
  );
  if (positionals.length !== 1 || !values.data) throw new HybridVisionError(`expected a model and --data (usage: ${usage})`);
  const name = positionals[0];
  const size = posInt(values.size, 'size', 32);
  const seed = posInt(values.seed, 'seed', 1) ;
  const data = await loadData(values.data, { size, dataPath: values['data-path'] });
  let all = data.train;
  if (values.limit) all = subset(all, permutation(all.count, rng(seed)).subarray(0, Math.min(all.count, posInt(values.limit, 'limit', 1))));
  const valFrac = num(values.val, 'val', 0.1);
  const split = valFrac > 0 ? trainValSplit(all, valFrac, rng(seed + 1)) : { train: all, val: null };
  const classNames = [...data.train.classNames];
  const threads = posInt(values.threads, 'threads', 2);

  const model = values.weights ? await loadModelFile(values.weights, name, { threads }) : createModel(name, { numClasses: classNames.length, seed, threads });
  if (model.numClasses !== classNames.length) model.resetClassifier(classNames.length, seed);
  model.labels = classNames;
  model.cfg = { ...model.cfg, inputSize: [size, size], cropPct: 1, interpolation: 'bilinear', mean: data.mean, std: data.std, channelOrder: 'RGB', pad: data.pad };

  const mix = values.cutmix ? { kind: 'cutmix' as const, alpha: num(values.cutmix, 'cutmix', 1), prob: num(values['mix-prob'], 'mix-prob', 1) } : values.mixup ? { kind: 'mixup' as const, alpha: num(values.mixup, 'mixup', 0.2), prob: num(values['mix-prob'], 'mix-prob', 1) } : null;
  const o: FitOptions = {
    epochs: posInt(values.epochs, 'epochs', 10),
    batchSize: posInt(values.batch, 'batch', 64),
    size,
    lr: num(values.lr, 'lr', 2e-3),
    minLr: values['min-lr'] ? num(values['min-lr'], 'min-lr', 0) : undefined,
    warmupEpochs: num(values.warmup, 'warmup', 1),
    weightDecay: num(values.wd, 'wd', 0.05),
    optimizer: values.optimizer === 'sgd' ? 'sgd' : 'adamw',
    noDecayNormBias: true,
    labelSmoothing: num(values.smoothing, 'smoothing', 0.1),
    clipGrad: values.clip ? num(values.clip, 'clip', 0) : null,
    augment: augmentOf(values.aug, data.pad > 0 ? 'pad-crop' : 'rrc'),
    pad: data.pad,
    shift: values.shift === undefined ? undefined : nonNegInt(values.shift, 'shift'),
    flip: true,
    mix,
    emaDecay: values.ema ? num(values.ema, 'ema', 0.999) : null,
    dropout: Boolean(values.dropout),
    freeze: values.freeze === 'backbone' ? 'backbone' : undefined,
    seed,
    norm: { mean: data.mean, std: data.std, channelOrder: 'RGB' },
  };
  const out = values.out ?? join('runs', `${name}-${data.name.replace(/[^\w.-]+/g, '_')}`);
  mkdirSync(out, { recursive: true });
  const ckpt = join(out, 'checkpoint.safetensors');
  const config = { ...o, data: values.data, limit: values.limit ?? null, val: valFrac, weights: values.weights ?? null };
  let resume = null;
  if (values.resume) {
    const c = await loadTrainCheckpoint(ckpt);
    if (c.meta.model !== name || JSON.stringify(c.meta.config) !== JSON.stringify(JSON.parse(JSON.stringify(config)))) {
      throw new HybridVisionError(`${ckpt} was written by a run with other options; resume with the same command`);
    }
    resume = c.state;
    console.log(`resuming after epoch ${resume.epoch}`);
  }
  const command = `hybridvision train ${argv.join(' ')}`;
  console.log(`${name}: ${split.train.count} train / ${split.val?.count ?? 0} val images, ${classNames.length} classes, ${size}x${size}, batch ${o.batchSize}, ${o.epochs} epochs -> ${out}`);
  const bar = new Progress();
  const t0 = Date.now();
  const { history } = await fit(model, split.train, split.val, o, {
    resume,
    onStep: (s) => {
      const done = s.epoch * s.stepsPerEpoch + s.step - (resume ? resume.epoch * s.stepsPerEpoch : 0);
      const total = (o.epochs - (resume?.epoch ?? 0)) * s.stepsPerEpoch;
      const eta = ((Date.now() - t0) / 1000 / done) * (total - done);
      bar.update(`epoch ${s.epoch + 1}/${o.epochs} step ${s.step}/${s.stepsPerEpoch} loss ${s.loss.toFixed(4)} acc ${(100 * s.acc).toFixed(1)}% ${s.imgPerSec.toFixed(0)} img/s ETA ${duration(eta)}`, s.step / s.stepsPerEpoch);
    },
    onEpoch: (r) =>
      bar.done(`epoch ${r.epoch}/${o.epochs}: train loss ${r.trainLoss.toFixed(4)} acc ${(100 * r.trainAcc).toFixed(2)}%${r.val ? `, val top-1 ${(100 * r.val.top1).toFixed(2)}%` : ''}, ${r.imgPerSec.toFixed(0)} img/s, ${duration(r.seconds)}`),
    checkpoint: (s) => saveTrainCheckpoint(ckpt, { model: name, numClasses: classNames.length, config: JSON.parse(JSON.stringify(config)) }, s),
  });
  const view = { size, pad: data.pad, norm: o.norm };
  const test = data.test ? await evaluate(model, data.test, view) : null;
  if (test) console.log(`test set: top-1 ${(100 * test.top1).toFixed(2)}%, top-5 ${(100 * test.top5).toFixed(2)}% (${test.count} images)`);
  await writeFileAtomic(join(out, 'model.safetensors'), modelToSafetensors(model, { extra: { trained_with: command } }));
  writeFileSync(join(out, 'history.json'), JSON.stringify({ command, history, test: test && { top1: test.top1, top5: test.top5, perClass: test.perClass } }, null, 2));
  writeFileSync(join(out, 'report.html'), trainingReport({ title: `${name} on ${data.name}`, command, history, test, classNames, notes: [`wall time ${duration((Date.now() - t0) / 1000)}`] }));
  console.log(`wrote ${join(out, 'model.safetensors')}, ${join(out, 'report.html')}`);
  await model.dispose();
}
