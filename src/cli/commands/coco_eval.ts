/** `hybridvision coco-eval --gt GT.json --dt DT.json [--json]`: pycocotools-exact COCO bbox mAP. */
import { readFileBytes } from '../../io/node_files.js';
import { cocoEvaluate, cocoEvalJson, summaryLines, type CocoDetection, type CocoGroundTruth } from '../../eval/coco_eval.js';
import { HybridVisionError } from '../../tensor.js';
import { parse, usageError, type CommandSpec } from '../args.js';
import { table } from '../format.js';

export const cocoEvalSpec: CommandSpec = {
  usage: 'coco-eval --gt GT.json --dt DT.json',
  about: "COCO bbox evaluation exactly as pycocotools' COCOeval: the 12 summary numbers and AP per category. GT is a COCO instances file, DT a result list [{image_id, category_id, bbox, score}].",
  options: {
    gt: { type: 'string', value: 'FILE', help: 'ground truth (COCO instances JSON)' },
    dt: { type: 'string', value: 'FILE', help: 'detections (COCO results JSON list)' },
    json: { type: 'boolean', help: 'print {"stats": {...}, "per_category": {...}} as JSON' },
  },
};

async function readJson(path: string, what: string): Promise<unknown> {
  const bytes = await readFileBytes(path);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new HybridVisionError(`${what} ${path} is not valid JSON: ${(e as Error).message.split('\n')[0]}`);
  }
}

export async function cocoEvalCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, cocoEvalSpec);
  if (positionals.length) throw usageError(cocoEvalSpec, `unexpected argument '${positionals[0]}'`);
  if (!values.gt || !values.dt) throw usageError(cocoEvalSpec, '--gt and --dt are required');
  const gt = (await readJson(values.gt, 'ground truth')) as CocoGroundTruth;
  const dt = (await readJson(values.dt, 'detections')) as CocoDetection[];
  const r = cocoEvaluate(gt, dt);
  if (values.json) {
    console.log(JSON.stringify(cocoEvalJson(r)));
    return;
  }
  console.log(summaryLines(r.stats).join('\n'));
  const names = new Map(gt.categories.map((c) => [c.id, c.name ?? '']));
  const f = (v: number) => (v < 0 ? '-' : v.toFixed(3));
  console.log('');
  console.log(table(['category', 'name', 'AP', 'AP50', 'AP75', 'AR100'], [...r.perCategory].map(([id, v]) => [String(id), names.get(id) ?? '', f(v.AP), f(v.AP50), f(v.AP75), f(v.AR100)])));
}
