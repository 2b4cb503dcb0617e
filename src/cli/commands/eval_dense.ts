/**
 * `hybridvision eval` on dense models: COCO mAP (the 12 COCOeval numbers and AP per category) of a
 * detector on a COCO-format folder; mIoU, pixel accuracy and IoU per class of a segmenter on a
 * VOC-format folder. Images run at their own size through the same code as `detect` / `segment`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeImageFile } from '../../data/decode_node.js';
import { readCocoFolder } from '../../data/coco_format_node.js';
import { ssdLabelToCocoId } from '../../data/coco_classes.js';
import { readVocFolder } from '../../data/voc_format_node.js';
import { classNames, detectImages, segmentImages } from '../../dense_pipeline.js';
import { cocoEvaluate, cocoEvalJson, summaryLines, type CocoDetection, type CocoGroundTruth } from '../../eval/coco_eval.js';
import { toCocoResults } from '../../eval/coco_results.js';
import { ConfusionMatrix } from '../../eval/segmentation.js';
import { writeFileAtomic } from '../../io/node_files.js';
import type { HybridModel } from '../../models/model.js';
import { taskOf } from '../../models/task.js';
import { HybridVisionError } from '../../tensor.js';
import { table } from '../format.js';
import { StatusLine } from '../progress.js';

export interface DenseEvalOptions {
  data: string;
  split?: string;
  json?: boolean;
  /** detectors: write the COCO result list here (what `coco-eval --dt` reads) */
  dtOut?: string;
}

/** The split to evaluate when none is given: test, else val, else train, whichever the folder has. */
function defaultSplit(has: (split: string) => boolean): string {
  return ['test', 'val', 'train'].find(has) ?? 'test';
}

/**
 * Model label → COCO category id: a head with one class per category plus background (label k ↔ the
 * k-th category by ascending id, as the data loaders number them), or a full COCO head (SSD's 81
 * classes, RetinaNet's 91 = category ids).
 */
export function categoryMapping(model: HybridModel, categoryIds: number[]): (label: number) => number | null {
  const C = model.numClasses;
  if (C === categoryIds.length + 1) return (k) => (k >= 1 && k <= categoryIds.length ? categoryIds[k - 1] : null);
  if (model.spec.family === 'ssdlite' && C === 81) return ssdLabelToCocoId;
  if (model.spec.family === 'retinanet' && C === 91) return (k) => (k >= 1 ? k : null);
  throw new HybridVisionError(`${model.name} has ${C} classes; the data has ${categoryIds.length} categories (a detector needs categories + 1 classes, or a COCO head)`);
}

export async function denseEval(model: HybridModel, o: DenseEvalOptions): Promise<void> {
  if (!existsSync(o.data)) throw new HybridVisionError(`no such folder: ${o.data}`);
  const status = new StatusLine();
  if (taskOf(model.spec) === 'object-detection') {
    const split = o.split ?? defaultSplit((s) => existsSync(join(o.data, `instances_${s}.json`)) || existsSync(join(o.data, 'annotations', `instances_${s}.json`)));
    const folder = readCocoFolder(o.data, split);
    const categoryOf = categoryMapping(model, folder.categoryIds);
    const gt = JSON.parse(readFileSync(folder.annotationFile, 'utf8')) as CocoGroundTruth;
    const dt: CocoDetection[] = [];
    for (const [i, s] of folder.samples.entries()) {
      status.show(`detecting ${i}/${folder.samples.length} images`, i / folder.samples.length);
      const [d] = await detectImages(model, [await decodeImageFile(folder.imagePaths[i])]);
      dt.push(...toCocoResults(s.imageId, d, categoryOf));
    }
    status.clear();
    const r = cocoEvaluate(gt, dt);
    if (o.dtOut) await writeFileAtomic(o.dtOut, new TextEncoder().encode(JSON.stringify(dt)));
    if (o.json) {
      console.log(JSON.stringify({ model: model.name, images: folder.samples.length, detections: dt.length, ...cocoEvalJson(r) }));
      return;
    }
    console.log(`${model.name} on ${folder.annotationFile} (${folder.samples.length} images, ${dt.length} detections)`);
    console.log(summaryLines(r.stats).join('\n'));
    const names = new Map(gt.categories.map((c) => [c.id, c.name ?? '']));
    const f = (v: number) => (v < 0 ? '-' : v.toFixed(3));
    console.log('');
    console.log(table(['category', 'name', 'AP', 'AP50', 'AP75', 'AR100'], [...r.perCategory].map(([id, v]) => [String(id), names.get(id) ?? '', f(v.AP), f(v.AP50), f(v.AP75), f(v.AR100)])));
    return;
  }
  if (taskOf(model.spec) !== 'image-segmentation') throw new HybridVisionError(`${model.name} is not a dense model`);
  const split = o.split ?? defaultSplit((s) => existsSync(join(o.data, 'ImageSets', 'Segmentation', `${s}.txt`)));
  const samples = readVocFolder(o.data, split, model.numClasses);
  const cm = new ConfusionMatrix(model.numClasses);
  for (const [i, s] of samples.entries()) {
    status.show(`segmenting ${i}/${samples.length} images`, i / samples.length);
    const [m] = await segmentImages(model, [await decodeImageFile(s.imagePath)]);
    if (m.width !== s.width || m.height !== s.height) throw new HybridVisionError(`${s.imagePath} is ${m.width}x${m.height}, its label ${s.width}x${s.height}`);
    cm.add(m.map, s.label);
  }
  status.clear();
  const r = cm.metrics();
  const names = classNames(model);
  if (o.json) {
    console.log(JSON.stringify({ model: model.name, images: samples.length, mIoU: r.mIoU, pixelAccuracy: r.pixelAccuracy, meanClassAccuracy: r.meanClassAccuracy, perClassIoU: Object.fromEntries(r.perClassIoU.map((v, k) => [names[k], v])) }));
    return;
  }
  console.log(`${model.name} on ${o.data} (${split}, ${samples.length} images): mIoU ${(100 * r.mIoU).toFixed(2)}%, pixel accuracy ${(100 * r.pixelAccuracy).toFixed(2)}%, mean class accuracy ${(100 * r.meanClassAccuracy).toFixed(2)}%`);
  console.log(table(['class', 'IoU %'], r.perClassIoU.map((v, k) => [names[k], v === null ? '-' : (100 * v).toFixed(2)])));
}
