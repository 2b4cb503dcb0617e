/**
 * `train` for the dense models (DeepLabv3, SSDLite, RetinaNet): the same fit loop, checkpoints,
 * resume, EMA and report as classification, with the task's objective, targets and evaluation
 * (mIoU or COCO mAP on the test set). `--weights` takes a classification checkpoint (its weights
 * initialise the backbone) or a model file of this dense model (fine-tuning).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadDetectionData, loadSegmentationData } from '../../data/dense_data_node.js';
import { writeFileAtomic } from '../../io/node_files.js';
import type { HybridModel } from '../../models/model.js';
import { modelToSafetensors } from '../../models/model_file.js';
import { createModel, getModelSpec } from '../../models/registry.js';
import { ANCHOR_SCALES_RULE, validAnchorScales } from '../../models/ssdlite.js';
import { HybridVisionError, type HostTensor } from '../../tensor.js';
import { prepareRunDir, saveTrainCheckpoint } from '../../train/checkpoint_node.js';
import { retinaTask, segmentationTask, ssdTask } from '../../train/dense_tasks.js';
import { fit, type FitOptions } from '../../train/fit.js';
import { trainingReport } from '../../train/report.js';
import type { TaskEval, TrainTask } from '../../train/task.js';
import { checkBatchInput, numberList, posInt } from '../args.js';
import { duration, Eta, Progress, StatusLine } from '../progress.js';
import { loadWeights } from '../weights.js';
import { interruptHint, optimisationOptions, resumeState } from '../train_run.js';

export const DENSE_FAMILIES = new Set(['deeplabv3', 'ssdlite', 'retinanet']);

/** The backbone's key prefix in the dense model: a classification checkpoint's keys sit under it. */
const backbonePrefix = (m: HybridModel) => m.spec.backbonePrefixes?.[0] ?? '';

/**
 * Copies a classification model's weights into the dense model's backbone (same key under the
 * backbone prefix, same shape); returns how many tensors it set.
 */
export function initBackbone(dense: HybridModel, cls: Map<string, HostTensor>): { copied: number; of: number } {
  const p = backbonePrefix(dense);
  const sd = dense.stateDict();
  let copied = 0;
  let of = 0;
  for (const [k, t] of sd) {
    if (!p || !k.startsWith(p)) continue;
    of++;
    const src = cls.get(k.slice(p.length));
    if (src && src.shape.join() === t.shape.join() && src.dtype === t.dtype) {
      sd.set(k, src);
      copied++;
    }
  }
  dense.loadStateDict(sd);
  return { copied, of };
}

/** `--anchor-scales MIN,MAX` and `--match-iou X`: SSD models only, checked. */
function ssdTrainOptions(family: string, values: Record<string, any>): { anchorScales?: [number, number]; matchIou?: number } {
  const given = ['anchor-scales', 'match-iou'].filter((k) => values[k] !== undefined);
  if (!given.length) return {};
  if (family !== 'ssdlite') throw new HybridVisionError(`--${given[0]} applies to SSD models only`);
  const out: { anchorScales?: [number, number]; matchIou?: number } = {};
  if (values['anchor-scales'] !== undefined) {
    const v = numberList(values['anchor-scales'], 'anchor-scales', 2, [], true);
    if (!validAnchorScales(v[0], v[1])) throw new HybridVisionError(`--anchor-scales needs MIN,MAX with ${ANCHOR_SCALES_RULE.toUpperCase()}, got '${values['anchor-scales']}'`);
    out.anchorScales = [v[0], v[1]];
  }
  if (values['match-iou'] !== undefined) {
    const v = Number(values['match-iou']);
    if (!(v > 0 && v < 1) || String(values['match-iou']).trim() === '') throw new HybridVisionError(`--match-iou needs a number between 0 and 1, got '${values['match-iou']}'`);
    out.matchIou = v;
  }
  return out;
}

export const fmtMetrics = (m: TaskEval | null) =>
  m ? Object.entries(m.metrics).filter(([k]) => ['AP', 'AP50', 'AP75', 'mIoU', 'pixelAccuracy'].includes(k)).map(([k, v]) => `${k} ${(100 * v).toFixed(2)}`).join(' ') : '';

export async function trainDenseCommand(name: string, values: Record<string, any>, argv: string[]): Promise<void> {
  const spec = getModelSpec(name);
  const size = posInt(values.size, 'size', 128);
  const seed = posInt(values.seed, 'seed', 1);
  const threads = posInt(values.threads, 'threads', 2);
  const ssdOpts = ssdTrainOptions(spec.family, values);
  const status = new StatusLine();
  status.show(`loading ${values.data}`);
  const dopts = { size, seed, scenes: values.scenes ? posInt(values.scenes, 'scenes', 8000) : undefined, testScenes: values['test-scenes'] ? posInt(values['test-scenes'], 'test-scenes', 1000) : undefined, dataPath: values['data-path'] };
  const seg = spec.family === 'deeplabv3';
  const data = seg ? await loadSegmentationData(values.data, dopts) : await loadDetectionData(values.data, dopts);
  status.clear();
  const classNames = [...data.train.classNames];
  const numClasses = seg ? classNames.length : classNames.length + 1;

  let model: HybridModel;
  if (values.weights) {
    const loaded = await loadWeights(values.weights, undefined, { threads });
    if (loaded.name === name) {
      model = loaded;
      if (model.numClasses !== numClasses) model.resetClassifier(numClasses, seed);
    } else {
      model = createModel(name, { numClasses, seed, threads });
      const { copied, of } = initBackbone(model, loaded.stateDict());
      await loaded.dispose();
      if (copied === 0) throw new HybridVisionError(`${values.weights} (${loaded.name}) holds no weights of ${name}'s backbone`);
      // the backbone's weights expect the preprocessing they were trained with
      model.cfg = { ...model.cfg, mean: loaded.cfg.mean, std: loaded.cfg.std, channelOrder: loaded.cfg.channelOrder };
      console.log(`backbone: ${copied} of ${of} tensors from ${values.weights} (${loaded.name}; its input mean/std)`);
    }
  } else model = createModel(name, { numClasses, seed, threads });
  model.labels = seg ? classNames : ['background', ...classNames];
  const norm = { mean: model.cfg.mean, std: model.cfg.std, channelOrder: model.cfg.channelOrder ?? 'RGB' } as FitOptions['norm'];
  model.cfg = { ...model.cfg, inputSize: [size, size], ...(ssdOpts.anchorScales ? { anchorScales: ssdOpts.anchorScales } : {}) };
  const topts = { norm, flip: values['no-flip'] ? false : true };
  const task: TrainTask = seg
    ? segmentationTask(data.train as any, data.test as any, topts)
    : spec.family === 'ssdlite'
      ? ssdTask(model, data.train as any, data.test as any, { ...topts, matchIou: ssdOpts.matchIou })
      : retinaTask(model, data.train as any, data.test as any, topts);

  const o: FitOptions = {
    ...optimisationOptions(values, { batch: 16, weightDecay: 0.01 }),
    size,
    flip: topts.flip,
    seed,
    norm,
  };
  const out = values.out ?? join('runs', `${name}-${data.name.replace(/[^\w.-]+/g, '_')}`);
  checkBatchInput(o.batchSize, size, size);
  const releaseOut = prepareRunDir(out);
  const ckpt = join(out, 'checkpoint.safetensors');
  const config = { ...o, data: values.data, scenes: dopts.scenes ?? null, weights: values.weights ?? null, ...ssdOpts };
  const resume = values.resume ? await resumeState(ckpt, name, config) : null;
  console.log(`${name}: ${task.count} train / ${data.test?.count ?? 0} test images, ${classNames.length} classes, ${size}x${size}, batch ${o.batchSize}, ${o.epochs} epochs -> ${out}`);
  const bar = new Progress();
  const t0 = Date.now();
  const etaClock = new Eta();
  const command = `hybridvision train ${argv.join(' ')}`;
  const interrupt = interruptHint({ argv, ckpt, out, outGiven: Boolean(values.out), epochs: o.epochs, startEpoch: resume?.epoch ?? 0, onStop: () => bar.done('') });
  const { history, metrics } = await fit(model, task, null, o, {
    resume,
    onStep: (s) => {
      const done = s.epoch * s.stepsPerEpoch + s.step - (resume ? resume.epoch * s.stepsPerEpoch : 0);
      const eta = etaClock.update(done, (o.epochs - (resume?.epoch ?? 0)) * s.stepsPerEpoch);
      bar.update(`epoch ${s.epoch + 1}/${o.epochs} step ${s.step}/${s.stepsPerEpoch} loss ${s.loss.toFixed(4)} ${s.imgPerSec.toFixed(1)} img/s ETA ${duration(eta)}`, s.step / s.stepsPerEpoch);
    },
    onEpoch: (r) => bar.done(`epoch ${r.epoch}/${o.epochs}: train loss ${r.trainLoss.toFixed(4)}${r.metrics ? `, test ${fmtMetrics(r.metrics)}` : ''}, ${r.imgPerSec.toFixed(1)} img/s, ${duration(r.seconds)}`),
    checkpoint: async (s) => {
      await saveTrainCheckpoint(ckpt, { model: name, numClasses, config: JSON.parse(JSON.stringify(config)) }, s);
      interrupt.record(s.epoch);
    },
  });
  interrupt.release();
  const final = metrics ?? (await task.evaluate(model));
  if (final) console.log(`test set: ${fmtMetrics(final)} (${data.test?.count} images)`);
  await writeFileAtomic(join(out, 'model.safetensors'), modelToSafetensors(model, { extra: { trained_with: command } }));
  writeFileSync(join(out, 'history.json'), JSON.stringify({ command, history, test: final }, null, 2));
  writeFileSync(join(out, 'report.html'), trainingReport({ title: `${name} on ${data.name}`, command, history, test: null, classNames, notes: [`wall time ${duration((Date.now() - t0) / 1000)}`, final ? `test set: ${fmtMetrics(final)}` : ''] }));
  console.log(`wrote ${join(out, 'model.safetensors')}, ${join(out, 'report.html')}`);
  await model.dispose();
  releaseOut();
}
