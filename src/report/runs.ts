/**
 * runs.ts: reading what `trm train` and `trm eval --out RUN/eval` leave in a run directory
 * (docs/TRAINING.md "Run directory"): config.json, metrics.jsonl, the latest checkpoint's step,
 * eval/scaling.json and eval/aas.json. Read-only; a run still being written is fine (an
 * unfinished last line of metrics.jsonl is ignored). Also finds run directories under paths.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { TrmError } from '../errors.js';
import {
  aasFileSchema,
  checkJson,
  checkpointStepSchema,
  metricsLineSchema,
  readJsonFile,
  runConfigSchema,
  scalingFileSchema,
} from '../io/schema.js';
import type { AasPoint } from '../experiments/aas.js';

export interface TrainLine {
  type: 'train';
  step: number;
  lm_loss: number;
  step_time: number;
  [k: string]: unknown;
}
export interface EvalLine {
  type: 'eval';
  step: number;
  exact_acc: number;
  token_acc: number;
  exact_acc_halting?: number;
  mean_halt_steps?: number;
  [k: string]: unknown;
}

export interface ScalingRow {
  aggregator: string;
  k: number;
  nsup: number;
  exact_acc: number;
  token_acc: number;
  /** test-time noise std (absent in files from before the noise axis: 0) */
  noise?: number;
  /** supervision steps per puzzle, k x N_sup (absent in older files) */
  compute?: number;
}
export interface ScalingResult {
  type: 'scaling';
  step: number | null;
  nsup: number[];
  k: number[];
  aggregators: string[];
  rows: ScalingRow[];
  [k: string]: unknown;
}
export interface AasResult {
  type: 'aas';
  step: number | null;
  nsup: number;
  aas_y: number;
  aas_z: number;
  pred_match: number;
  exact_acc: number;
  curve?: AasPoint[];
  [k: string]: unknown;
}

export interface RunData {
  dir: string;
  /** label in plots and tables: the path under the report's input, e.g. baseline/seed-1 */
  name: string;
  /** runs of one variant differ only by seed: `<variant>/seed-<s>` in a sweep, else the run itself */
  variant: string;
  seed: number | null;
  /** step of the latest checkpoint and the run's configured length (null before the first checkpoint) */
  step: number | null;
  totalSteps: number | null;
  train: TrainLine[];
  evals: EvalLine[];
  scaling: ScalingResult | null;
  aas: AasResult | null;
}

function readJson<T>(file: string, schema: z.ZodType<T>): T {
  return readJsonFile(file, schema, 'TRM_BAD_RUN');
}

/** metrics.jsonl lines by type; a malformed line is an error unless it is the last (being written). */
export function readMetrics(file: string): { train: TrainLine[]; evals: EvalLine[] } {
  const train: TrainLine[] = [],
    evals: EvalLine[] = [];
  if (!existsSync(file)) return { train, evals };
  const lines = readFileSync(file, 'utf8').split('\n');
  lines.forEach((l, i) => {
    if (!l.trim()) return;
    let r: { type?: string };
    try {
      r = JSON.parse(l);
    } catch {
      if (lines.slice(i + 1).every(x => !x.trim())) return;
      throw new TrmError('TRM_BAD_RUN', `${file}:${i + 1}: not a JSON line`);
    }
    r = checkJson(r, metricsLineSchema, `${file}:${i + 1}`, 'TRM_BAD_RUN');
    if (r.type === 'train') train.push(r as TrainLine);
    else if (r.type === 'eval') evals.push(r as EvalLine);
  });
  return { train, evals };
}

/**
 * Seconds spent in the training step itself up to each train line: a line's step_time is the mean
 * over its log interval, so each interval adds step_time x its steps (evaluations not included).
 */
export function trainSeconds(train: TrainLine[]): number[] {
  let seconds = 0,
    prev = 0;
  return train.map(t => {
    seconds += t.step_time * (t.step - prev);
    prev = t.step;
    return seconds;
  });
}

/**
 * Held-out evaluations against training time: minutes = the training seconds up to the evaluation's
 * step (trainSeconds) plus the evaluations' own seconds so far. Wall-clock gaps (a stop and a
 * resume, time spent loading) do not count, so a resumed run reads as one.
 */
export function evalsByTime(train: TrainLine[], evals: EvalLine[]): { step: number; minutes: number; exact: number }[] {
  const byStep = <T extends { step: number }>(xs: T[]) => [...xs].sort((a, b) => a.step - b.step);
  const lines = byStep(train),
    cum = trainSeconds(lines);
  let i = 0,
    evalSeconds = 0;
  return byStep(evals).map(e => {
    while (i < lines.length && lines[i].step <= e.step) i++;
    evalSeconds += typeof e.seconds === 'number' ? e.seconds : 0;
    return { step: e.step, minutes: ((i ? cum[i - 1] : 0) + evalSeconds) / 60, exact: e.exact_acc };
  });
}

/**
 * RUN/eval/<name>.json when it exists and has the expected type; for an evaluation directory of
 * its own (`trm eval --out DIR` outside a run, no metrics.jsonl), DIR/<name>.json.
 */
export function readEvalFile<T>(dir: string, name: 'scaling' | 'aas'): T | null {
  const own = join(dir, `${name}.json`);
  const file = existsSync(join(dir, 'metrics.jsonl')) || !existsSync(own) ? join(dir, 'eval', `${name}.json`) : own;
  if (!existsSync(file)) return null;
  const j = readJson(file, z.object({ type: z.unknown() }).loose());
  if (j.type !== name) throw new TrmError('TRM_BAD_RUN', `${file}: type ${JSON.stringify(j.type)}, expected "${name}"`);
  return (name === 'scaling' ? readJson(file, scalingFileSchema) : readJson(file, aasFileSchema)) as T;
}

/** The latest checkpoint's step and total steps, without loading it; null before the first one. */
export function latestCheckpoint(dir: string): { step: number; totalSteps: number } | null {
  const latest = join(dir, 'latest');
  if (!existsSync(latest)) return null;
  const file = join(dir, 'checkpoints', readFileSync(latest, 'utf8').trim(), 'checkpoint.json');
  if (!existsSync(file))
    throw new TrmError(
      'TRM_BAD_RUN',
      `${latest} names a checkpoint without ${basename(file)} (${file}); the run is damaged`,
    );
  const j = readJson(file, checkpointStepSchema);
  return { step: j.step, totalSteps: j.total_steps };
}

/** Everything a report needs from one run directory. */
export function readRun(dir: string, name = basename(dir)): RunData {
  const seedDir = /^seed-(\d+)$/.exec(basename(dir));
  let seed = seedDir ? Number(seedDir[1]) : null;
  if (seed === null && existsSync(join(dir, 'config.json'))) {
    const s = readJson(join(dir, 'config.json'), runConfigSchema).train?.seed;
    if (typeof s === 'number') seed = s;
  }
  const ck = latestCheckpoint(dir);
  return {
    dir,
    name,
    seed,
    variant: seedDir && dirname(name) !== '.' ? dirname(name) : seedDir ? basename(dirname(dir)) : name,
    step: ck?.step ?? null,
    totalSteps: ck?.totalSteps ?? null,
    ...readMetrics(join(dir, 'metrics.jsonl')),
    scaling: readEvalFile<ScalingResult>(dir, 'scaling'),
    aas: readEvalFile<AasResult>(dir, 'aas'),
  };
}

const isRunDir = (d: string) => ['metrics.jsonl', 'scaling.json', 'aas.json'].some(f => existsSync(join(d, f)));

/**
 * Run directories named by `paths`: a path holding metrics.jsonl is a run, one holding
 * scaling.json or aas.json (`trm eval --out DIR`) an evaluation shown like a run; otherwise its
 * subdirectories are searched (a sweep's OUT/<variant>/seed-<s>, two levels; runs are not entered).
 */
export function findRunDirs(paths: string[], depth = 2): { dir: string; name: string }[] {
  const out: { dir: string; name: string }[] = [];
  // a run given directly is named by itself; runs inside a sweep by their path under it
  // (prefixed by the sweep's name when several paths are given, so names stay distinct)
  const walk = (root: string, d: string, left: number) => {
    if (isRunDir(d)) {
      out.push({ dir: d, name: relative(paths.length > 1 ? dirname(root) : root, d) || basename(d) });
      return;
    }
    if (left === 0) return;
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name)))
      if (e.isDirectory()) walk(root, join(d, e.name), left - 1);
  };
  for (const p of paths) {
    if (!existsSync(p) || !statSync(p).isDirectory()) throw new TrmError('TRM_BAD_RUN', `${p}: no such directory`);
    const root = resolve(p),
      before = out.length;
    walk(root, root, depth);
    if (out.length === before)
      throw new TrmError(
        'TRM_BAD_RUN',
        `${p}: no run directories (a run holds metrics.jsonl, an evaluation scaling.json or aas.json; a sweep holds <variant>/seed-<s>/ runs)`,
      );
  }
  return out;
}
