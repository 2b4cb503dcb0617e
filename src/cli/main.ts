#!/usr/bin/env node
/** The hybridvision command line. Errors print one line and exit non-zero. */
import { engineNote } from '../node.js';
import { HybridVisionError } from '../tensor.js';
import { HelpRequested, helpText, type CommandSpec } from './args.js';
import { benchCommand, benchSpec } from './commands/bench.js';
import { cocoEvalCommand, cocoEvalSpec } from './commands/coco_eval.js';
import { dataCommand, dataSpec } from './commands/data.js';
import { evalCommand, evalSpec } from './commands/eval.js';
import { exportCommand, exportSpec } from './commands/export.js';
import { importCommand, importSpec } from './commands/import.js';
import { predictCommand, predictSpec } from './commands/predict.js';
import { runCommand, runSpec } from './commands/run.js';
import { segmentCommand, segmentSpec } from './commands/segment.js';
import { detectCommand, detectSpec } from './commands/detect.js';
import { summaryCommand, summarySpec } from './commands/summary.js';
import { trainCommand, trainSpec } from './commands/train.js';
import { zooCommand, zooSpec } from './commands/zoo.js';
import { hasDefaultModel, packageVersion } from './assets.js';

const COMMANDS: Record<string, { spec: CommandSpec; run: (argv: string[]) => Promise<void> }> = {
  models: { spec: zooSpec, run: zooCommand },
  summary: { spec: summarySpec, run: summaryCommand },
  predict: { spec: predictSpec, run: predictCommand },
  segment: { spec: segmentSpec, run: segmentCommand },
  detect: { spec: detectSpec, run: detectCommand },
  run: { spec: runSpec, run: runCommand },
  import: { spec: importSpec, run: importCommand },
  export: { spec: exportSpec, run: exportCommand },
  bench: { spec: benchSpec, run: benchCommand },
  train: { spec: trainSpec, run: trainCommand },
  eval: { spec: evalSpec, run: evalCommand },
  'coco-eval': { spec: cocoEvalSpec, run: cocoEvalCommand },
  data: { spec: dataSpec, run: dataCommand },
};

const HELP = [
  'hybridvision — Mobile-Former and MobileViTv3 on ONNX Runtime',
  '',
  'usage: hybridvision <command> [options]      hybridvision <command> --help for its options',
  '       hybridvision --version',
  '',
  ...Object.values(COMMANDS).map(({ spec }) => `  ${spec.usage}\n      ${spec.about.split(/[.:;] /)[0]}`),
  '',
  'With no command, classifies the shipped sample images with the shipped default model.',
  "--weights pretrained (predict, eval, export, train) fetches a zoo model's official ImageNet weights into the",
  'cache ($HYBRIDVISION_CACHE; HYBRIDVISION_OFFLINE=1 uses the cache only).',
].join('\n');

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  if (cmd === '--version' || cmd === '-V' || cmd === 'version') {
    console.log(packageVersion());
    return;
  }
  if (engineNote && !rest.includes('--help') && !rest.includes('-h') && cmd !== '--help' && cmd !== '-h' && cmd !== 'help') console.error(`hybridvision: note: ${engineNote}`);
  // The main job: classify the shipped samples with the shipped default model (the zoo if none ships).
  if (cmd === undefined) return hasDefaultModel() ? predictCommand([]) : zooCommand([]);
  if (cmd === '-h' || cmd === '--help' || cmd === 'help') {
    const sub = cmd === 'help' && rest[0] ? COMMANDS[rest[0]] : undefined;
    console.log(sub ? helpText(sub.spec) : HELP);
    return;
  }
  const c = COMMANDS[cmd];
  if (!c) throw new HybridVisionError(`unknown command '${cmd}' (hybridvision --help lists them)`);
  await c.run(rest);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof HelpRequested) return console.log(e.text);
  const msg = e instanceof Error ? e.message : String(e);
  console.error(`hybridvision: error: ${msg.split('\n')[0]}`);
  if (process.env.HYBRIDVISION_DEBUG && e instanceof Error && !(e instanceof HybridVisionError)) console.error(e.stack);
  process.exitCode = 1;
});
