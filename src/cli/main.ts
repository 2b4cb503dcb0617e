#!/usr/bin/env node
/** The hybridvision command line. Errors print one line and exit non-zero. */
import '../node.js';
import { HybridVisionError } from '../tensor.js';
import { benchCommand } from './commands/bench.js';
import { exportCommand } from './commands/export.js';
import { importCommand } from './commands/import.js';
import { predictCommand } from './commands/predict.js';
import { runCommand } from './commands/run.js';
import { summaryCommand } from './commands/summary.js';
import { zooCommand } from './commands/zoo.js';
import { hasDefaultModel } from './assets.js';
import { trainCommand } from './commands/train.js';
import { evalCommand } from './commands/eval.js';

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = {
  models: zooCommand,
  summary: summaryCommand,
  predict: predictCommand,
  run: runCommand,
  import: importCommand,
  export: exportCommand,
  bench: benchCommand,
  train: trainCommand,
  eval: evalCommand,
};

const HELP = `hybridvision — Mobile-Former and MobileViTv3 on ONNX Runtime

usage: hybridvision <command> [options]

  models [pattern]                       the zoo: live params/MAdds beside the papers' figures
  summary <model> [--size H W]           per-stage output shape, params, MAdds
  predict <model> --weights FILE IMG...  top-k labels (JPEG/PNG/WebP)
  run <model> --weights FILE --input IN.safetensors --output OUT.safetensors
  import CHECKPOINT -o OUT.safetensors [--model NAME]   .pt/.pth/.pth.tar -> safetensors
  export <model> --weights FILE -o model.onnx [--size H W] [--batch N]
  bench <model...> [--batch 1,8] [--threads N] [--csv]
  train <model> --data fashion-mnist|DIR [--epochs N --batch N --lr X --size S --weights FILE --freeze backbone --resume]
  eval [<model> --weights FILE] --data fashion-mnist|DIR

With no command, classifies the shipped sample images with the shipped default model.`;

async function main(argv: string[]): Promise<void> {
  const [cmd, ...rest] = argv;
  // The main job: classify the shipped samples with the shipped default model (the zoo if none ships).
  if (cmd === undefined) return hasDefaultModel() ? predictCommand([]) : zooCommand([]);
  if (cmd === '-h' || cmd === '--help' || cmd === 'help') {
    console.log(HELP);
    return;
  }
  const f = COMMANDS[cmd];
  if (!f) throw new HybridVisionError(`unknown command '${cmd}' (hybridvision --help lists them)`);
  await f(rest);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  const msg = e instanceof Error ? e.message : String(e);
  console.error(`hybridvision: error: ${msg.split('\n')[0]}`);
  if (process.env.HYBRIDVISION_DEBUG && e instanceof Error && !(e instanceof HybridVisionError)) console.error(e.stack);
  process.exitCode = 1;
});
