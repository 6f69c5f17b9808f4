/**
 * `trm train`: train a TRM on a dataset directory with a preset and `--set key=value` overrides,
 * or resume a run. Writes RUN_DIR/config.json, RUN_DIR/metrics.jsonl (one JSON line per log
 * interval and per evaluation) and checkpoints (src/train/checkpoint.ts). Shows a one-line
 * progress display on a terminal (plain lines otherwise). Ctrl-C (or SIGTERM) saves a checkpoint and exits;
 * a NaN loss stops with the step and the last good checkpoint. The work is in src/train/.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from '../command.js';
import { TrmError, UsageError } from '../../errors.js';
import { readDatasetSplit, type DatasetSplit } from '../../data/dataset.js';
import {
  checkActsFit, createTrainState, createWorkspace, evalWeights, evaluate, loadTrainState, modelConfigFor, parseSets, resolveTrainConfig, saveCheckpoint,
  train, trainPresets, writeFileAtomic, type EvalResult, type LogRecord, type TrainState,
} from '../../train/index.js';
import { expectedCompute } from '../../train/recursion.js';
import { paramCount } from '../../model/params.js';
import { allocActs, type StepActs } from '../../model/acts.js';

/** A one-line status display: rewritten in place on a TTY, silent otherwise; log() prints above it. */
export class StatusLine {
  private last = '';
  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}
  get tty(): boolean { return !!this.stream.isTTY; }
  show(text: string): void {
    if (!this.tty) return;
    const cols = this.stream.columns || 120;
    this.last = text.length > cols - 1 ? text.slice(0, cols - 1) : text;
    this.stream.write(`\r\x1b[K${this.last}`);
  }
  log(line: string, out: NodeJS.WriteStream = process.stdout): void {
    if (this.tty && this.last) this.stream.write('\r\x1b[K');
    out.write(line + '\n');
    if (this.tty && this.last) this.stream.write(this.last);
  }
  clear(): void { if (this.tty && this.last) this.stream.write('\r\x1b[K'); this.last = ''; }
}

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
/** A 20-character progress bar for a fraction in [0, 1]. */
export const bar = (f: number) => '#'.repeat(Math.round(20 * Math.min(1, Math.max(0, f)))).padEnd(20, '.');
function duration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = Math.floor(s % 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(sec).padStart(2, '0')}s`;
}

/** Split directory from a dataset directory (DIR/<split>) or a split directory itself. */
export async function readSplit(data: string, split: string): Promise<DatasetSplit> {
  const dir = existsSync(join(data, split, 'dataset.json')) ? join(data, split) : data;
  return readDatasetSplit(dir);
}

export interface TrainRunOptions {
  data: string;
  preset?: string;
  sets?: string[];
  out?: string;
  resume?: string;
  /** the line printed after each evaluation (default: the `trm train` line) */
  evalLine?: (step: number, e: EvalResult) => string;
  /** print plain progress lines (log records) when not on a terminal */
  quiet?: boolean;
}

export interface TrainRunResult {
  runDir: string;
  state: TrainState;
  lastEval: EvalResult | null;
  checkpoint: string | null;
  stopped: boolean;
}

/** The whole `trm train` behaviour, reusable by the demo. */
export async function runTraining(o: TrainRunOptions): Promise<TrainRunResult> {
  const trainSplit = await readSplit(o.data, 'train');
  const testSplit = existsSync(join(o.data, 'test', 'dataset.json')) ? await readDatasetSplit(join(o.data, 'test')) : null;
  const over = parseSets(o.sets ?? []);
  let st: TrainState, runDir: string;
  if (o.resume) {
    const loaded = loadTrainState(o.resume, over);
    st = loaded.state;
    runDir = o.out ?? resolve(loaded.dir, '..', '..');
    const want = modelConfigFor({ ...st.config, model: {} }, trainSplit.meta);
    if (want.seq_len !== st.model.seq_len || want.vocab_size !== st.model.vocab_size)
      throw new TrmError('TRM_BAD_CONFIG', `${o.data}: seq_len ${want.seq_len} / vocab ${want.vocab_size}, but the checkpoint was trained on seq_len ${st.model.seq_len} / vocab ${st.model.vocab_size}`);
    if (st.step >= st.totalSteps) throw new TrmError('TRM_DONE', `the run is complete (step ${st.step} of ${st.totalSteps}); extend it with --set steps=N`);
  } else {
    if (!o.preset) throw new UsageError(`train: --preset is required for a new run (presets: ${Object.keys(trainPresets).join(', ')})`);
    st = createTrainState(resolveTrainConfig(o.preset, over), trainSplit.meta);
    runDir = o.out ?? join('runs', `${o.preset}-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}`);
    if (existsSync(join(runDir, 'latest'))) throw new TrmError('TRM_RUN_EXISTS', `${runDir} already holds a run; continue it with --resume ${runDir}, or choose another --out`);
  }
  const ws = createWorkspace(st, trainSplit);
  if (testSplit) checkActsFit(st.model, st.config.eval_batch_size, 'eval_batch_size');
  mkdirSync(runDir, { recursive: true });
  const compute = expectedCompute(st.config, st.model);
  writeFileAtomic(join(runDir, 'config.json'), JSON.stringify({ data: resolve(o.data), preset: o.preset, model: st.model, train: st.config, total_steps: st.totalSteps, expected_compute: compute }, null, 2) + '\n');
  const metricsFile = join(runDir, 'metrics.jsonl');
  if (o.resume && existsSync(metricsFile)) {
    // lines a stopped or crashed run wrote after its last checkpoint would repeat: keep steps <= the resumed one
    const kept = readFileSync(metricsFile, 'utf8').split('\n').filter(l => l.trim() && (JSON.parse(l) as { step: number }).step <= st.step);
    writeFileAtomic(metricsFile, kept.map(l => l + '\n').join(''));
  }
  const record = (r: Record<string, unknown>) => appendFileSync(metricsFile, JSON.stringify({ ...r, time: new Date().toISOString() }) + '\n');

  const cfg = st.config, status = new StatusLine();
  status.log(`trm train: ${o.resume ? `resuming at step ${st.step}` : `preset ${o.preset}`}, ${paramCount(st.model).toLocaleString('en-US')} parameters, batch ${cfg.batch_size}, ${st.totalSteps} steps, ${trainSplit.inputs.length / trainSplit.meta.seq_len} training examples -> ${runDir}`);
  if (cfg.rand_n_width || cfg.rand_T_width || cfg.rand_nsup_width || cfg.curriculum !== 'none')
    status.log(`recursion: ${compute.net_calls.toFixed(2)} net calls per sample per step (${compute.net_calls_ratio.toFixed(2)}x the fixed n ${st.model.L_cycles}, T ${st.model.H_cycles}), ${compute.grad_calls.toFixed(2)} with gradient (${compute.grad_calls_ratio.toFixed(2)}x), mean N_sup cap ${compute.nsup_cap.toFixed(2)}`);
  let lastEval: EvalResult | null = null, checkpoint: string | null = null, lastLog: LogRecord | null = null;
  let stop = false;
  const onSigint = () => {
    if (stop) { status.clear(); process.stderr.write('trm: second Ctrl-C, exiting without a checkpoint\n'); process.exit(130); }
    stop = true;
    status.log('trm: Ctrl-C: finishing this step and saving a checkpoint (Ctrl-C again to abort)', process.stderr);
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  const t0 = performance.now(), step0 = st.step;
  let rateSteps = 0, rateTime = 0;
  let evalActs: StepActs | undefined;
  try {
    const outcome = await train(st, ws, {
      onStep: (s, _r, sec) => {
        rateSteps++; rateTime += sec;
        const rate = rateSteps / Math.max(1e-9, (performance.now() - t0) / 1000);
        const m = lastLog;
        status.show(`train [${bar(s.step / s.totalSteps)}] ${s.step}/${s.totalSteps} | loss ${m ? (m.lm_loss + 0.5 * m.q_halt_loss).toFixed(3) : '-'} | tok ${m ? pct(m.token_acc) : '-'} | exact ${m ? pct(m.exact_acc) : '-'} | steps ${m ? m.mean_steps.toFixed(2) : '-'} | ${rate.toFixed(2)} it/s | ETA ${duration((s.totalSteps - s.step) / rate)}`);
      },
      onLog: rec => {
        lastLog = rec;
        record({ type: 'train', ...rec });
        if (!status.tty && !o.quiet)
          status.log(`step ${rec.step}: loss ${(rec.lm_loss + 0.5 * rec.q_halt_loss).toFixed(4)}, token ${pct(rec.token_acc)}, exact ${pct(rec.exact_acc)}, mean steps ${rec.mean_steps.toFixed(2)}, lr ${rec.lr.toExponential(2)}, ${(1 / Math.max(1e-9, rec.step_time)).toFixed(2)} steps/s`);
      },
      onEval: async s => {
        if (!testSplit) return;
        evalActs ??= allocActs(s.model, cfg.eval_batch_size);
        const e = await evaluate(s.model, evalWeights(s), testSplit, {
          batchSize: cfg.eval_batch_size, limit: cfg.eval_limit, acts: evalActs,
          init: { mode: cfg.train_init, scale: cfg.init_scale, training: false }, seed: cfg.seed,
        });
        lastEval = e;
        record({ type: 'eval', step: s.step, weights: s.ema ? 'ema' : 'raw', ...e });
        if (o.evalLine) status.log(o.evalLine(s.step, e));
        else status.log(`eval @ ${s.step}: exact ${pct(e.exact_acc)}, token ${pct(e.token_acc)} on ${e.examples} test puzzles (${s.ema ? 'EMA' : 'raw'} weights, ${e.nsup} steps; with q-halting ${pct(e.exact_acc_halting)} at ${e.mean_halt_steps.toFixed(2)} steps)`);
      },
      onSave: (s, why) => {
        checkpoint = saveCheckpoint(runDir, s, { train: lastLog, eval: lastEval }, resolve(o.data));
        if (why === 'stop') status.log(`trm: stopped at step ${s.step}; checkpoint ${checkpoint}; continue with: trm train --data ${o.data} --resume ${runDir}`, process.stderr);
      },
      stopRequested: () => stop,
    });
    status.clear();
    const secs = (performance.now() - t0) / 1000;
    status.log(`trained ${st.step - step0} steps in ${duration(secs)} (${((st.step - step0) / Math.max(1e-9, secs)).toFixed(2)} steps/s, ${(rateSteps / Math.max(1e-9, rateTime)).toFixed(2)} in the step itself); checkpoint ${checkpoint}`);
    return { runDir, state: st, lastEval, checkpoint, stopped: outcome === 'stopped' };
  } catch (e) {
    status.clear();
    if (e instanceof TrmError && e.code === 'TRM_NAN')
      throw new TrmError('TRM_NAN', `${e.message}. Last good checkpoint: ${checkpoint ?? 'none saved yet'}`);
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'train a TRM on a dataset directory (presets, checkpoints, resume)',
  usage: '--data DIR --preset NAME [--set key=value ...] [--out RUN_DIR] | --data DIR --resume RUN_DIR',
  options: {
    data: { type: 'string', argument: 'DIR', description: "dataset directory from 'trm data build' (train/ and test/)" },
    preset: { type: 'string', argument: 'NAME', description: `configuration: ${Object.keys(trainPresets).join(', ')}` },
    set: { type: 'string', argument: 'KEY=VALUE', multiple: true, description: 'override a training or model key, e.g. --set steps=2000 --set lr=3e-4 --set L_cycles=4 (repeatable)' },
    out: { type: 'string', argument: 'RUN_DIR', description: 'run directory (default: runs/<preset>-<time>)' },
    resume: { type: 'string', argument: 'PATH', description: 'continue a run directory or checkpoint exactly where it stopped (--set may change steps, lr, eval)' },
    seed: { type: 'string', argument: 'S', description: 'random seed (same as --set seed=S)' },
    init: { type: 'string', argument: 'MODE', description: 'training latent init: static, random, random-per-sample, mixed (same as --set train_init=MODE)' },
    'rand-n': { type: 'string', argument: 'W', description: 'draw n per step uniformly on [max(1, n-W), n+W] (--set rand_n_width=W)' },
    'rand-T': { type: 'string', argument: 'W', description: 'draw T per step on [max(1, T-W), T+W] (--set rand_T_width=W)' },
    'rand-nsup': { type: 'string', argument: 'W', description: 'draw each sample\'s N_sup on [max(1, N-W), N+W] (--set rand_nsup_width=W)' },
    curriculum: { type: 'string', argument: 'NAME', description: "'cgar': (n, T) grows in thirds at 30% / 60% of training (--set curriculum=cgar)" },
    hsw: { type: 'string', argument: 'DECAY', description: 'weight the loss of supervision step s by DECAY^s, CGAR uses 0.7 (--set hsw_decay=DECAY)' },
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
    const data = args.values.data as string | undefined;
    if (!data) throw new UsageError("train: --data DIR is required (see 'trm train --help')");
    if (args.positionals.length) throw new UsageError(`train: unexpected argument '${args.positionals[0]}'`);
    if (args.values.resume && args.values.preset) throw new UsageError('train: --resume takes the preset from the checkpoint; drop --preset');
    const flagSets: [string, string][] = [['seed', 'seed'], ['init', 'train_init'], ['rand-n', 'rand_n_width'], ['rand-T', 'rand_T_width'],
      ['rand-nsup', 'rand_nsup_width'], ['curriculum', 'curriculum'], ['hsw', 'hsw_decay']];
    const sets = [...((args.values.set as string[] | undefined) ?? []),
      ...flagSets.filter(([f]) => args.values[f] !== undefined).map(([f, k]) => `${k}=${args.values[f] as string}`)];
    const r = await runTraining({
      data, preset: args.values.preset as string | undefined, sets,
      out: args.values.out as string | undefined, resume: args.values.resume as string | undefined,
    });
    return r.stopped ? 130 : 0;
  },
};
