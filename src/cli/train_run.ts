/** What every `train` run shares, classification or dense: the optimisation options and --resume. */
import { HybridVisionError } from '../tensor.js';
import { loadTrainCheckpoint } from '../train/checkpoint_node.js';
import type { FitOptions, FitState } from '../train/fit.js';
import { nonNegNumber as num, posInt } from './args.js';

type OptimisationOptions = Pick<
  FitOptions,
  | 'epochs'
  | 'batchSize'
  | 'lr'
  | 'minLr'
  | 'warmupEpochs'
  | 'weightDecay'
  | 'optimizer'
  | 'momentum'
  | 'nesterov'
  | 'schedule'
  | 'stepEpochs'
  | 'gamma'
  | 'noDecayNormBias'
  | 'clipGrad'
  | 'emaDecay'
  | 'dropout'
  | 'freeze'
>;

/** The schedule, optimizer, EMA, dropout and freezing options of `train`, with the task's defaults. */
export function optimisationOptions(values: Record<string, any>, defaults: { batch: number; weightDecay: number }): OptimisationOptions {
  return {
    epochs: posInt(values.epochs, 'epochs', 10),
    batchSize: posInt(values.batch, 'batch', defaults.batch),
    lr: num(values.lr, 'lr', 2e-3),
    minLr: values['min-lr'] ? num(values['min-lr'], 'min-lr', 0) : undefined,
    warmupEpochs: num(values.warmup, 'warmup', 1),
    weightDecay: num(values.wd, 'wd', defaults.weightDecay),
    optimizer: values.optimizer ?? 'adamw',
    momentum: values.momentum === undefined ? undefined : num(values.momentum, 'momentum', 0.9),
    // Left undefined at their defaults so that a checkpoint's recorded options stay comparable across versions.
    nesterov: values['no-nesterov'] ? false : undefined,
    schedule: values.schedule,
    stepEpochs: values['step-epochs'] === undefined ? undefined : posInt(values['step-epochs'], 'step-epochs', 1),
    gamma: values.gamma === undefined ? undefined : num(values.gamma, 'gamma', 0.1),
    noDecayNormBias: true,
    clipGrad: values.clip ? num(values.clip, 'clip', 0) : null,
    emaDecay: values.ema ? num(values.ema, 'ema', 0.999) : null,
    dropout: Boolean(values.dropout),
    freeze: values.freeze,
  };
}

/** JSON with object keys sorted, so recorded options compare whatever order they were written in. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x));
}

/** The state to resume from `ckpt`, refusing a checkpoint written by another model or other options. */
export async function resumeState(ckpt: string, name: string, config: unknown): Promise<FitState> {
  const c = await loadTrainCheckpoint(ckpt);
  if (c.meta.model !== name || canonical(c.meta.config) !== canonical(JSON.parse(JSON.stringify(config)))) {
    throw new HybridVisionError(`${ckpt} was written by a run with other options; resume with the same command`);
  }
  console.log(`resuming after epoch ${c.state.epoch}`);
  return c.state;
}

/**
 * Ctrl-C during a run: the last completed epoch is in the checkpoint, so say how to continue from it
 * (exit 130). `record(epoch)` after each checkpoint; `release()` when the run ends.
 */
export function interruptHint(opts: { argv: string[]; ckpt: string; out: string; outGiven: boolean; epochs: number; startEpoch: number; onStop(): void }) {
  let last = opts.startEpoch;
  const command = `hybridvision train ${opts.argv.join(' ')}`;
  const handler = () => {
    opts.onStop();
    const again = opts.argv.includes('--resume') ? command : `${command} --resume`;
    console.error(
      last > 0
        ? `interrupted: ${opts.ckpt} holds epoch ${last}/${opts.epochs}; continue with: ${again}${opts.outGiven ? '' : ` (same --out: ${opts.out})`}`
        : `interrupted before the first checkpoint: nothing to resume yet (one is written after every epoch; --resume continues from it)`,
    );
    process.exit(130);
  };
  process.on('SIGINT', handler);
  return {
    record: (epoch: number) => {
      last = epoch;
    },
    release: () => process.removeListener('SIGINT', handler),
  };
}
