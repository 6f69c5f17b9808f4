/**
 * `trm train`: train a TRM on a dataset directory with a preset and `--set key=value` overrides,
 * or resume a run. The run itself is the library's `train.run` (src/train/run.ts: run directory,
 * lock, config.json, metrics.jsonl, checkpoints, eval cadence, NaN handling); this command parses
 * flags, turns SIGINT / SIGTERM into an abort (the run saves a checkpoint and exits 130; the
 * same signal again exits at once) and prints: a one-line progress display on a terminal, plain
 * lines otherwise (src/cli/format.ts).
 */
import { backendOption, useBackendChoice } from '../backend.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { defineCommand } from '../command.js';
import { UsageError } from '../../errors.js';
import { readDatasetSplit, type DatasetSplit } from '../../data/dataset.js';
import { run, trainPresets, type RunConfig, type RunData, type RunResult } from '../../train/index.js';
import { StatusLine, trainPrinter, type Lines, type TrainPrinterOptions } from '../format.js';

export { bar, StatusLine } from '../format.js';

/** Split directory from a dataset directory (DIR/<split>) or a split directory itself. */
export async function readSplit(data: string, split: string): Promise<DatasetSplit> {
  const dir = existsSync(join(data, split, 'dataset.json')) ? join(data, split) : data;
  return readDatasetSplit(dir);
}

const signalName = (sig: NodeJS.Signals) => (sig === 'SIGINT' ? 'Ctrl-C (SIGINT)' : sig);

/**
 * SIGINT and SIGTERM as an AbortSignal: the first aborts (reason: the signal's name) and says what
 * happens next; a second one exits 130 at once. `dispose` removes the handlers.
 */
export function abortOnSignals(
  out: Lines,
  onFirst: string,
  onSecond: string,
): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const handler = (sig: NodeJS.Signals) => {
    if (ac.signal.aborted) {
      out.clear();
      process.stderr.write(`trm: second signal (${signalName(sig)}): ${onSecond}\n`);
      process.exit(130);
    }
    out.log(
      `trm: ${signalName(sig)}: ${onFirst} (${sig === 'SIGINT' ? 'Ctrl-C' : sig} again: ${onSecond})`,
      process.stderr,
    );
    ac.abort(sig);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: ac.signal,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/** `trm train` for the CLI and the demo: train.run with the signals handled and the lines printed. */
export async function runTraining(
  config: RunConfig,
  data: string | RunData,
  o: TrainPrinterOptions & { out?: Lines } = {},
): Promise<RunResult> {
  const out = o.out ?? new StatusLine();
  const sig = abortOnSignals(out, 'finishing this step and saving a checkpoint', 'exiting without a checkpoint');
  const printer = trainPrinter(out, { data: typeof data === 'string' ? data : data.path, ...o });
  try {
    const r = await run(config, data, { ...printer, signal: sig.signal });
    out.log(printer.summary(r));
    return r;
  } finally {
    out.clear();
    sig.dispose();
  }
}

export const trainCommand = defineCommand({
  name: 'train',
  summary: 'train a TRM on a dataset directory (presets, checkpoints, resume)',
  usage: '--data DIR --preset NAME [--set key=value ...] [--out RUN_DIR] | --data DIR --resume RUN_DIR',
  options: {
    ...backendOption,
    data: {
      type: 'string',
      argument: 'DIR',
      description: "dataset directory from 'trm data build' (train/ and test/)",
    },
    preset: { type: 'string', argument: 'NAME', description: `configuration: ${Object.keys(trainPresets).join(', ')}` },
    set: {
      type: 'string',
      argument: 'KEY=VALUE',
      multiple: true,
      description:
        'override a training or model key, e.g. --set steps=2000 --set lr=3e-4 --set L_cycles=4 (repeatable)',
    },
    out: { type: 'string', argument: 'RUN_DIR', description: 'run directory (default: runs/<preset>-<time>)' },
    resume: {
      type: 'string',
      argument: 'PATH',
      description: 'continue a run directory or checkpoint exactly where it stopped (--set may change steps, lr, eval)',
    },
    seed: { type: 'string', argument: 'S', description: 'random seed (same as --set seed=S)' },
    init: {
      type: 'string',
      argument: 'MODE',
      description: 'training latent init: static, random, random-per-sample, mixed (same as --set train_init=MODE)',
    },
    'rand-n': {
      type: 'string',
      argument: 'W',
      description: 'draw n per step uniformly on [max(1, n-W), n+W] (--set rand_n_width=W)',
    },
    'rand-T': {
      type: 'string',
      argument: 'W',
      description: 'draw T per step on [max(1, T-W), T+W] (--set rand_T_width=W)',
    },
    'rand-nsup': {
      type: 'string',
      argument: 'W',
      description: "draw each sample's N_sup on [max(1, N-W), N+W] (--set rand_nsup_width=W)",
    },
    curriculum: {
      type: 'string',
      argument: 'NAME',
      description: "'cgar': (n, T) grows in thirds at 30% / 60% of training (--set curriculum=cgar)",
    },
    hsw: {
      type: 'string',
      argument: 'DECAY',
      description: 'weight the loss of supervision step s by DECAY^s, CGAR uses 0.7 (--set hsw_decay=DECAY)',
    },
    milestones: {
      type: 'string',
      argument: 'KIND',
      description:
        "'sudoku-logic': step s trains towards the grid after s rounds of logic; needs data built with --milestones (--set milestones=KIND)",
    },
  },
  details: [
    'Presets:',
    ...Object.entries(trainPresets).map(([k, p]) => `  ${k.padEnd(18)}${p.summary}`),
    '',
    'Examples:',
    '  trm data generate sudoku --size 4 --count 400 --seed 1 --out s4-train.csv',
    '  trm data generate sudoku --size 4 --count 200 --seed 2 --out s4-test.csv',
    '  trm data build sudoku --train s4-train.csv --test s4-test.csv --aug 20 --out data/sudoku4',
    '  trm train --data data/sudoku4 --preset cpu-sudoku4 --out runs/s4',
    '  trm train --data data/sudoku4 --resume runs/s4 --set steps=600',
    'Writes RUN_DIR/config.json, RUN_DIR/metrics.jsonl and RUN_DIR/checkpoints/step_N/ (model.safetensors: EMA',
    'weights with the official names; train_state.safetensors + checkpoint.json: everything needed to resume).',
  ].join('\n'),
  async run(args) {
    const backend = await useBackendChoice(args.values.backend);
    if (backend !== 'native') process.stderr.write(`trm: computing on ${backend}\n`);
    const data = args.values.data;
    if (!data) throw new UsageError("train: --data DIR is required (see 'trm train --help')");
    if (args.positionals.length) throw new UsageError(`train: unexpected argument '${args.positionals[0]}'`);
    if (args.values.resume && args.values.preset)
      throw new UsageError('train: --resume takes the preset from the checkpoint; drop --preset');
    if (!args.values.resume && !args.values.preset)
      throw new UsageError(
        `train: --preset is required for a new run (presets: ${Object.keys(trainPresets).join(', ')})`,
      );
    const v = args.values;
    const flagSets: [string | undefined, string][] = [
      [v.seed, 'seed'],
      [v.init, 'train_init'],
      [v['rand-n'], 'rand_n_width'],
      [v['rand-T'], 'rand_T_width'],
      [v['rand-nsup'], 'rand_nsup_width'],
      [v.curriculum, 'curriculum'],
      [v.hsw, 'hsw_decay'],
      [v.milestones, 'milestones'],
    ];
    const sets = [...(v.set ?? []), ...flagSets.filter(([f]) => f !== undefined).map(([f, k]) => `${k}=${f}`)];
    const r = await runTraining(
      {
        preset: args.values.preset,
        sets,
        out: args.values.out,
        resume: args.values.resume,
      },
      data,
    );
    return r.stopped ? 130 : 0;
  },
});
