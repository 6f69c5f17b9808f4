/**
 * run.ts: a training run as one library call, `run(config, data, callbacks)`. It owns everything
 * around the loop (loop.ts) that makes a run a run:
 *   - creating the state, or resuming one from a checkpoint (shape-defining keys may not change;
 *     the data must fit the checkpoint's model; a different data path is warned about);
 *   - checking the data before step 1: no empty split, train and test agreeing with each other and
 *     with the model (seq_len, vocab_size, puzzle ids), each error naming the split's directory;
 *   - the run directory: a lock (RUN/.lock holds the pid: a second writer is refused, the lock of a
 *     dead process is taken over and its temporary files removed), config.json, metrics.jsonl (one
 *     JSON line per log interval and per evaluation; on resume the lines after the checkpoint and
 *     a damaged last line are dropped), checkpoints (checkpoint.ts);
 *   - the evaluation and checkpoint cadence (the config's eval_interval / checkpoint_interval);
 *   - interruption: an AbortSignal stops the run after the step in progress, with a checkpoint;
 *   - a NaN loss: stops before the weights change, saying what to do.
 * Every file write goes through src/io/files.ts: a failing disk is one TrmError 'TRM_WRITE'
 * (`cannot write PATH: reason`). Nothing here prints or touches the process (signals, exit): all
 * output goes to the callbacks, so a CLI, a job-queue worker or a test can drive it alike.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { readDatasetSplit, type DatasetSplit } from '../data/dataset.js';
import { TrmError, UsageError } from '../errors.js';
import {
  appendLine,
  failpoint,
  lockDir,
  lockedError,
  lockHolder,
  mkdirp,
  writeFileAtomic,
  type DirLock,
} from '../io/files.js';
import { removeStaleTemps } from '../io/tmp.js';
import { allocActs, type StepActs } from '../model/acts.js';
import { resolveConfig, storedConfig, type TrmConfig } from '../model/config.js';
import { paramCount, paramSpec, specSize } from '../model/params.js';
import { findCheckpoint, hostSnapshot, loadTrainState, readSidecar, saveCheckpoint } from './checkpoint.js';
import { parseSets, resolveTrainConfig, storedTrainConfig, trainPresets, type TrainConfig } from './config.js';
import { splitSize } from './data.js';
import { evaluate, type EvalResult } from './evaluate.js';
import { readSplitMilestones } from '../data/sudoku/milestones-files.js';
import { addon } from '../kernels/native.js';
import { device } from '../kernels/core.js';
import { createWorkspace, evalWeights, train, type LogRecord } from './loop.js';
import { expectedCompute, type ComputeEstimate } from './recursion.js';
import { checkActsFit, createTrainState, modelConfigFor, type TrainState } from './state.js';

/** What to run: a new run (preset and/or overrides, or a resolved config) or a resume. */
export interface RunConfig {
  /** a new run: the preset (trm train --help lists them); its name is recorded in config.json */
  preset?: string;
  /**
   * Overrides: `key=value` strings as `--set` takes them, or an already parsed partial config.
   * On resume only training keys that do not define shapes may change (steps, lr, eval, ...).
   */
  sets?: string[] | Partial<TrainConfig>;
  /** a new run from a fully resolved config (instead of preset + sets) */
  config?: TrainConfig;
  /** the run directory; default for a new run: runs/<preset>-<time>; for a resume: the checkpoint's run */
  out?: string;
  /** continue this run directory or checkpoint directory exactly where it stopped */
  resume?: string;
}

/** The data of a run: the splits, and where they came from (named in errors and recorded in the run). */
export interface RunData {
  train: DatasetSplit;
  /** the held-out split evaluated during training (null: no evaluation) */
  test: DatasetSplit | null;
  /** the dataset directory (recorded in config.json and the checkpoints; compared on resume) */
  path?: string;
  /** names of the two splits in messages (default: PATH/train, PATH/test) */
  trainName?: string;
  testName?: string;
}

/** Read a dataset directory (DIR/train and, when present, DIR/test) or a single split directory. */
export async function readRunData(path: string): Promise<RunData> {
  const trainDir = existsSync(join(path, 'train', 'dataset.json')) ? join(path, 'train') : path;
  const testDir = join(path, 'test');
  const train = await readDatasetSplit(trainDir);
  const test = existsSync(join(testDir, 'dataset.json')) ? await readDatasetSplit(testDir) : null;
  return { train, test, path, trainName: trainDir, testName: testDir };
}

/** What a run is about to do (the first callback). */
export interface RunStart {
  runDir: string;
  resumed: boolean;
  /** the step it starts from (0 for a new run) */
  step: number;
  totalSteps: number;
  preset?: string;
  config: TrainConfig;
  model: TrmConfig;
  parameters: number;
  trainExamples: number;
  testExamples: number | null;
  compute: ComputeEstimate;
}

export interface RunCallbacks {
  /** abort: the run finishes the step in progress, saves a checkpoint and returns `stopped: true` */
  signal?: AbortSignal;
  onStart?(s: RunStart): void;
  /** after every optimizer step (seconds: the step itself) */
  onStep?(s: TrainState, seconds: number): void;
  /** every log_interval steps and at the end (also written to metrics.jsonl) */
  onLog?(rec: LogRecord): void;
  /** after each evaluation (also written to metrics.jsonl) */
  onEval?(step: number, e: EvalResult, weights: 'ema' | 'raw'): void;
  /** after each checkpoint save */
  onCheckpoint?(path: string, step: number, why: 'interval' | 'end' | 'stop'): void;
  /** something the user should know that does not stop the run (a damaged metrics line dropped, another data path, a stale lock) */
  onWarning?(message: string): void;
}

export interface RunResult {
  runDir: string;
  state: TrainState;
  lastEval: EvalResult | null;
  /** the newest checkpoint this call saved (null: none) */
  checkpoint: string | null;
  /** true when the signal stopped the run before its last step */
  stopped: boolean;
  /** steps trained by this call, wall seconds, and seconds inside the steps themselves */
  steps: number;
  seconds: number;
  stepSeconds: number;
}

const examples = (s: DatasetSplit) => splitSize(s);

/** Refuse data a run cannot use, before anything is allocated or written (each message names the split). */
export function checkRunData(d: RunData, model?: TrmConfig): void {
  const tn = d.trainName ?? (d.path ? join(d.path, 'train') : 'the training split');
  const sn = d.testName ?? (d.path ? join(d.path, 'test') : 'the test split');
  const bad = (msg: string): never => {
    throw new TrmError('TRM_DATASET', msg);
  };
  const tm = d.train.meta;
  if (examples(d.train) === 0 || d.train.groupIndices.length < 2)
    bad(
      `${tn}: the training split holds no examples (${examples(d.train)} rows, ${Math.max(0, d.train.groupIndices.length - 1)} groups); rebuild it with 'trm data build'`,
    );
  if (d.test) {
    const sm = d.test.meta;
    if (examples(d.test) === 0)
      bad(
        `${sn}: the test split holds no examples; rebuild it with 'trm data build', or remove it to train without evaluation`,
      );
    for (const k of ['seq_len', 'vocab_size'] as const)
      if (sm[k] !== tm[k])
        bad(
          `${sn}/dataset.json: ${k} ${sm[k]}, but the training split ${tn} has ${k} ${tm[k]}; both splits must come from one 'trm data build'`,
        );
  }
  if (!model) return;
  for (const [split, name] of [
    [d.train, tn],
    [d.test, sn],
  ] as const) {
    if (!split) continue;
    if (split.meta.seq_len !== model.seq_len)
      bad(`${name}/dataset.json: seq_len ${split.meta.seq_len}, but the model has seq_len ${model.seq_len}`);
    if (split.meta.vocab_size !== model.vocab_size)
      bad(
        `${name}/dataset.json: vocab_size ${split.meta.vocab_size}, but the model has vocab_size ${model.vocab_size}`,
      );
    const P = model.num_puzzle_identifiers,
      ids = split.puzzleIdentifiers;
    for (let i = 0; i < ids.length; i++)
      if (ids[i] < 0 || ids[i] >= P)
        bad(
          `${name}: puzzle identifier ${ids[i]} (puzzle ${i}) is outside the model's ${P} puzzle identifiers [0, ${P - 1}]`,
        );
    const blank = split.meta.blank_identifier_id;
    if (split === d.test && (blank < 0 || blank >= P))
      bad(`${name}/dataset.json: blank_identifier_id ${blank} is outside the model's ${P} puzzle identifiers`);
  }
}

const GiB = 2 ** 30;

/**
 * Refuse, before anything is allocated, a model whose training state or logits cannot exist here
 * (huge sizes in a dataset.json): parameters, gradients, Adam moments and the EMA shadow and its
 * evaluation copy, plus the logits and their gradient of `batch` samples. checkActsFit measures
 * the activations exactly afterwards; this bound only keeps sizes that cannot fit from reaching
 * an allocation (a raw RangeError).
 */
function checkTrainingFits(model: TrmConfig, batch: number, ema: boolean, where: string): void {
  const P = specSize(paramSpec(model)),
    copies = 4 + (ema ? 2 : 0); // the flat block: parameters and buffers (the puzzle table too)
  const stateBytes = 4 * P * copies,
    logitsBytes = 2 * 4 * batch * model.seq_len * model.vocab_size;
  const have = totalmem(),
    sizes = `vocab_size ${model.vocab_size}, seq_len ${model.seq_len}, num_puzzle_identifiers ${model.num_puzzle_identifiers}`;
  if (P > MAX_ARRAY || stateBytes + logitsBytes > 0.8 * have)
    throw new TrmError(
      'TRM_OUT_OF_MEMORY',
      `${where}: ${sizes} make a model of ${P.toLocaleString('en-US')} weights: its training state and logits need about ` +
        `${((stateBytes + logitsBytes) / GiB).toFixed(1)} GiB, this machine has ${(have / GiB).toFixed(1)} GiB; check these sizes in the dataset`,
    );
}
/** Elements of the largest Float32Array this runtime makes. */
const MAX_ARRAY = 2 ** 32 - 1;

/** metrics.jsonl of a resumed run: the lines up to `step`; a damaged last line (a crash or a full disk during an append) is dropped. */
function resumeMetrics(file: string, step: number, warn: (m: string) => void): string {
  const text = readFileSync(file, 'utf8');
  const lines = text.split('\n');
  const complete = text.endsWith('\n') || text === '';
  if (lines.at(-1) === '') lines.pop();
  const kept: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (!l.trim()) continue;
    const last = i === lines.length - 1;
    let rec: { step?: unknown } | null = null;
    try {
      rec = JSON.parse(l) as { step?: unknown };
    } catch {
      rec = null;
    }
    if (last && (!complete || rec === null)) {
      warn(
        `${file}:${i + 1}: dropped a damaged last line (${complete ? 'not valid JSON' : 'cut off'}: ${JSON.stringify(l.length > 40 ? l.slice(0, 40) + '...' : l)}), left by an interrupted write`,
      );
      break;
    }
    if (rec === null || typeof rec !== 'object' || typeof rec.step !== 'number')
      throw new TrmError(
        'TRM_BAD_METRICS',
        `${file}:${i + 1}: not a metrics record (${rec === null ? 'not valid JSON' : "no numeric 'step'"}); the file is damaged in the middle: delete that line to resume`,
      );
    if (rec.step <= step) kept.push(l + '\n');
  }
  return kept.join('');
}

function nanAdvice(
  e: TrmError,
  st: TrainState,
  checkpoint: string | null,
  runDir: string,
  dataPath: string | undefined,
): string {
  const base = e.message.replace(/\.?\s*Lower lr or raise warm-up\.?$/, '');
  const cfg = st.config,
    lower = Number((cfg.lr / 10).toPrecision(3));
  if (checkpoint)
    return (
      `${base}. Last good checkpoint: ${checkpoint}; continue from it with a lower learning rate (lr is ${cfg.lr}): ` +
      `trm train --data ${dataPath ?? 'DATA'} --resume ${runDir} --set lr=${lower}`
    );
  return (
    `${base}. No checkpoint was saved yet, so nothing is lost by starting over: start the run again with a lower learning rate ` +
    `(--set lr=${lower}; lr is ${cfg.lr}) or a longer warm-up (--set lr_warmup_steps=${Math.max(10, cfg.lr_warmup_steps * 2)}; it is ${cfg.lr_warmup_steps})`
  );
}

/**
 * Train: a new run or a resume, until the configured steps or an abort. Throws TrmError (one line)
 * for bad configs, bad data, a locked run directory, a failed write, or a NaN loss.
 */
export async function run(config: RunConfig, data: string | RunData, cb: RunCallbacks = {}): Promise<RunResult> {
  const warn = (m: string) => cb.onWarning?.(m);
  if (config.resume && (config.preset || config.config))
    throw new UsageError('train: a resume takes the preset and config from the checkpoint; drop the preset');
  const d = typeof data === 'string' ? await readRunData(data) : data;
  const dataPath = d.path !== undefined ? resolve(d.path) : undefined;
  checkRunData(d);
  const over = Array.isArray(config.sets) ? parseSets(config.sets) : (config.sets ?? {});

  // the data against the model it will train, then the run directory: locked before anything in it is read or written
  let runDir: string;
  let fresh: TrainConfig | null = null;
  if (config.resume) {
    const held = lockHolder(join(config.resume, '.lock'));
    if (held) throw lockedError(join(config.resume, '.lock'), held); // before its files, which the holder may be writing
    const dir = findCheckpoint(config.resume),
      side = readSidecar(dir);
    checkRunData(d, side.model_config);
    checkTrainingFits(
      resolveConfig(side.model_config as Partial<TrmConfig>),
      side.train_config.batch_size,
      side.train_config.ema,
      join(dir, 'checkpoint.json'),
    );
    runDir = config.out ?? resolve(dir, '..', '..');
  } else {
    if (!config.config && !config.preset)
      throw new UsageError(
        `train: a preset is required for a new run (presets: ${Object.keys(trainPresets).join(', ')})`,
      );
    fresh = config.config ?? resolveTrainConfig(config.preset, over);
    const model = modelConfigFor(fresh, d.train.meta);
    checkRunData(d, model);
    checkTrainingFits(
      model,
      fresh.batch_size,
      fresh.ema,
      `${d.trainName ?? (d.path ? join(d.path, 'train') : 'the training split')}/dataset.json`,
    );
    runDir =
      config.out ??
      join('runs', `${config.preset ?? 'run'}-${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}`);
  }
  const created = !existsSync(runDir);
  mkdirp(runDir);
  let lock: DirLock;
  try {
    lock = lockDir(join(runDir, '.lock'), config.resume ? 'trm train --resume' : 'trm train');
  } catch (e) {
    if (created) rmSync(runDir, { recursive: true, force: true });
    throw e;
  }
  let wrote = false;
  try {
    if (lock.tookOver)
      warn(
        `${runDir}: took over the lock of pid ${lock.tookOver.pid || '?'}, which is no longer running (an interrupted run)`,
      );
    // what writeFileAtomic and saveCheckpoint leave (NAME.tmp-PID) in the run and checkpoint directories
    const stale = [...removeStaleTemps(runDir), ...removeStaleTemps(join(runDir, 'checkpoints'))];
    if (stale.length)
      warn(
        `${runDir}: removed ${stale.length} temporary file${stale.length > 1 ? 's' : ''} of an interrupted write (${stale.map(p => p.slice(runDir.length + 1)).join(', ')})`,
      );

    let st: TrainState;
    if (config.resume) {
      const loaded = loadTrainState(config.resume, over);
      st = loaded.state;
      checkRunData(d, st.model);
      if (st.step >= st.totalSteps)
        throw new TrmError(
          'TRM_DONE',
          `the run is complete (step ${st.step} of ${st.totalSteps}); extend it with --set steps=N`,
        );
      const was = loaded.sidecar.data;
      if (was && dataPath && resolve(was) !== dataPath)
        warn(
          `resuming on ${dataPath}, but ${loaded.dir} was trained on ${was}; the shapes agree, so training continues on the new data from the saved position`,
        );
    } else {
      if (existsSync(join(runDir, 'latest')))
        throw new TrmError(
          'TRM_RUN_EXISTS',
          `${runDir} already holds a run; continue it with --resume ${runDir}, or choose another --out`,
        );
      st = createTrainState(fresh!, d.train.meta);
      checkRunData(d, st.model);
    }
    if (st.config.milestones !== 'none' && !d.train.milestones) {
      if (!d.trainName)
        throw new TrmError(
          'TRM_DATASET',
          `milestones = ${st.config.milestones} needs the training split's directory (its all__milestones.npy)`,
        );
      d.train.milestones = await readSplitMilestones(d.trainName, d.train, st.config.milestones);
    }
    const ws = createWorkspace(st, d.train);
    const cfg = st.config;
    const slowBf16 = bf16NoFaster(cfg.precision);
    if (slowBf16) warn(slowBf16);
    if (d.test) checkActsFit(st.model, cfg.eval_batch_size, 'eval_batch_size');
    const compute = expectedCompute(cfg, st.model);
    wrote = true;
    writeFileAtomic(
      join(runDir, 'config.json'),
      JSON.stringify(
        {
          data: dataPath,
          preset: config.preset,
          model: storedConfig(st.model),
          train: storedTrainConfig(cfg),
          total_steps: st.totalSteps,
          expected_compute: compute,
        },
        null,
        2,
      ) + '\n',
    );
    const metricsFile = join(runDir, 'metrics.jsonl');
    // a new run starts an empty file (lines of an attempt that never reached a checkpoint go); a resume keeps the lines up to its step
    writeFileAtomic(
      metricsFile,
      config.resume && existsSync(metricsFile) ? resumeMetrics(metricsFile, st.step, warn) : '',
    );
    const record = (r: Record<string, unknown>) =>
      appendLine(metricsFile, JSON.stringify({ ...r, time: new Date().toISOString() }));

    cb.onStart?.({
      runDir,
      resumed: !!config.resume,
      step: st.step,
      totalSteps: st.totalSteps,
      preset: config.preset,
      config: cfg,
      model: st.model,
      parameters: paramCount(st.model),
      trainExamples: examples(d.train),
      testExamples: d.test ? examples(d.test) : null,
      compute,
    });
    let lastEval: EvalResult | null = null,
      checkpoint: string | null = null,
      lastLog: LogRecord | null = null,
      evalActs: StepActs | undefined;
    const t0 = performance.now(),
      step0 = st.step;
    let stepSeconds = 0;
    try {
      const outcome = await train(st, ws, {
        onStep: (s, _r, sec) => {
          stepSeconds += sec;
          cb.onStep?.(s, sec);
        },
        onLog: rec => {
          lastLog = rec;
          record({ type: 'train', ...rec });
          cb.onLog?.(rec);
        },
        onEval: async s => {
          if (!d.test) return;
          evalActs ??= allocActs(s.model, cfg.eval_batch_size);
          const e = await evaluate(s.model, evalWeights(s), d.test, {
            batchSize: cfg.eval_batch_size,
            limit: cfg.eval_limit,
            acts: evalActs,
            init: { mode: cfg.train_init, scale: cfg.init_scale, training: false },
            seed: cfg.seed,
          });
          lastEval = e;
          const weights = s.ema ? 'ema' : 'raw';
          record({ type: 'eval', step: s.step, weights, ...e });
          cb.onEval?.(s.step, e, weights);
        },
        onSave: async (s, why) => {
          checkpoint = saveCheckpoint(runDir, await hostSnapshot(s), { train: lastLog, eval: lastEval }, dataPath);
          cb.onCheckpoint?.(checkpoint, s.step, why);
          failpoint('run:saved');
        },
        stopRequested: () => !!cb.signal?.aborted,
      });
      return {
        runDir,
        state: st,
        lastEval,
        checkpoint,
        stopped: outcome === 'stopped',
        steps: st.step - step0,
        seconds: (performance.now() - t0) / 1000,
        stepSeconds,
      };
    } catch (e) {
      if (e instanceof TrmError && e.code === 'TRM_NAN')
        throw new TrmError('TRM_NAN', nanAdvice(e, st, checkpoint, runDir, d.path));
      if (e instanceof TrmError && e.code === 'TRM_WRITE') {
        const ck = checkpoint ?? (existsSync(join(runDir, 'latest')) ? join(runDir, 'latest') : null);
        throw new TrmError(
          'TRM_WRITE',
          `${e.message}; ${ck ? `the run can continue from its last checkpoint once this is fixed: --resume ${runDir}` : 'no checkpoint was saved yet'}`,
        );
      }
      throw e;
    }
  } catch (e) {
    // a new directory that failed before its first file (bad config, no memory...) is not left behind
    if (created && !wrote) {
      lock.release();
      rmSync(runDir, { recursive: true, force: true });
    }
    throw e;
  } finally {
    lock.release();
  }
}

/** precision=bf16 on the native backend where its products cannot beat fp32's, said once at the start:
 *  - a CPU without AVX512_BF16 or AMX: the products round their operands to bf16 and run on the fp32
 *    kernel, so the run trains as bf16 does but slower than fp32 (1.6x on a 2-vCPU Zen 3, cpu-sudoku4);
 *  - VDPBF16PS without AMX tiles where it issues no faster than fp32's FMAs (bf16PeakWarning): on a
 *    Sapphire Rapids Xeon with AMX off, 69 GFLOP/s a thread against ~140 for the FMAs, and the paper
 *    step in bf16 ran 0.68x fp32 (16 threads; 4.42 s against 3.04 s in the thirty-fifth session). On
 *    Zen 4/5 it runs twice the FMAs' rate and bf16 steps 1.2-1.85x fp32's. Two 20 ms register-only
 *    loops on one thread decide, so no CPU list is needed. */
function bf16NoFaster(precision: TrainConfig['precision']): string | null {
  if (precision !== 'bf16' || device().name !== 'native' || !addon) return null;
  const info = addon.info();
  if (!info.bf16Native)
    return `precision=bf16: this CPU has no AVX512_BF16 or AMX, so the bf16 products are emulated on the fp32 kernel (${info.gemmBf16Kernel}): bf16 numerics, but slower than precision=fp32 here`;
  if (info.amx) return null;
  return bf16PeakWarning(addon.fmaPeak(0.02, 1), addon.bf16Peak(0.02, 1));
}

/** The bf16 unit's register-only rate on one thread must reach this multiple of the fp32 FMAs' for
 *  bf16 products to gain on their packing and rounding (Zen 5 reads 2.0; the Xeon above ~0.5). */
export const BF16_MIN_PEAK_RATIO = 1.3;

/** The warning for a VDPBF16PS unit (no AMX) whose one-thread peak `bf16` (GFLOP/s) is under
 *  BF16_MIN_PEAK_RATIO times the fp32 FMA peak `fp32`; null where bf16 can pay. */
export function bf16PeakWarning(fp32: number, bf16: number): string | null {
  if (!(fp32 > 0) || bf16 >= BF16_MIN_PEAK_RATIO * fp32) return null;
  return (
    `precision=bf16: this CPU's bf16 products run on VDPBF16PS (AMX tiles absent or off), which reads ${bf16.toFixed(0)} GFLOP/s ` +
    `on one thread against ${fp32.toFixed(0)} for fp32's FMAs, so bf16 saves no arithmetic here and the step is likely ` +
    `slower than precision=fp32 (bf16 numerics either way). Where the CPU has AMX, Linux 5.16+ grants the tiles and trm uses them`
  );
}
