/**
 * sweep.ts: running a sweep spec. `planSweep` looks at each run directory and decides what is
 * left: train (new), resume (checkpoint short of the configured steps), eval (trained, eval
 * outputs missing or from another step or grid) or skip (finished). `runSweep` carries out the
 * plan. One run at a time (parallel 1), training runs in this process through `train.run`
 * (src/train/run.ts); with N > 1 each training is a `trm train` child process (which calls
 * `train.run` in turn), N at a time with floor(cores / N) kernel threads each: the kernels' thread
 * pool and the synchronous steps belong to one process, so in-process runs could not overlap.
 * Evaluations are `trm eval` children in both modes. Output goes to RUN/train.log and RUN/eval.log.
 * A failed run stops new runs; the ones in flight finish, then the sweep fails naming the run and
 * its log. An abort (Ctrl-C) reaches the trainers (the signal of an in-process run, one SIGINT or
 * SIGTERM to a child), so they save a checkpoint and the next run of the same spec resumes them.
 * Nothing here prints: progress goes to `onEvent`, an in-process trainer's lines to `trainOutput`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TrmError } from '../errors.js';
import { appendLine, lockedError, lockHolder, mkdirp, withWrite } from '../io/files.js';
import { parseSets, resolveTrainConfig } from '../train/config.js';
import {
  readRunData,
  run as trainRun,
  type RunCallbacks,
  type RunConfig,
  type RunData,
  type RunResult,
} from '../train/run.js';
import { latestCheckpoint, readEvalFile, type AasResult, type ScalingResult } from './runs.js';
import { expandRuns, type SweepRun, type SweepSpec } from './spec.js';

export type Action = 'train' | 'resume' | 'eval' | 'skip';

export interface ChildStep {
  /** train (or resume), the test-time scaling eval, or the AAS eval */
  kind: 'train' | 'scaling' | 'aas';
  /** arguments after `trm` */
  args: string[];
  log: string;
  /** a training child: the same as a train.run call (what an in-process run does) */
  run?: { config: RunConfig; data: string };
}

export interface PlannedRun extends SweepRun {
  action: Action;
  /** latest checkpoint step (null: none yet) and the steps the spec asks for (null: decided by epochs) */
  step: number | null;
  target: number | null;
  children: ChildStep[];
}

export type SweepEvent =
  | { type: 'skip'; run: PlannedRun }
  | { type: 'start'; run: PlannedRun; child: ChildStep }
  | { type: 'done'; run: PlannedRun; seconds: number }
  | { type: 'failed'; run: PlannedRun; child: ChildStep; code: number; message?: string }
  | { type: 'stopped'; run: PlannedRun };

/** 'train', 'eval (scaling)' or 'eval (aas)': how progress lines and errors name a child. */
export const childLabel = (c: ChildStep) => (c.kind === 'train' ? 'train' : `eval (${c.kind})`);

/** The `trm` entry the children run: this package's dist/cli/main.js (two levels up from src/report or dist/report). */
export const cliEntry = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** Eval outputs a run still needs (those missing, or written for another checkpoint step, init or grid). */
function evalChildren(spec: SweepSpec, run: SweepRun, step: number | null, all: boolean): ChildStep[] {
  const e = spec.eval;
  if (!e) return [];
  const log = join(run.dir, 'eval.log'),
    out = join(run.dir, 'eval');
  const common = [
    '--checkpoint',
    run.dir,
    '--data',
    spec.data,
    ...(e.init ? ['--init', e.init] : []),
    '--seed',
    String(run.seed),
    ...(e.limit ? ['--limit', String(e.limit)] : []),
    '--out',
    out,
  ];
  const same = (a: number[] | string[], b: number[] | string[]) =>
    a.length === b.length && a.every((x, i) => x === b[i]);
  // written for this checkpoint (step) and this init; the grid is compared per file below
  const current = (r: { step: number | null; init?: unknown } | null) =>
    r !== null && (r.step === null || r.step === step) && (!e.init || r.init === e.init);
  const kids: ChildStep[] = [];
  if (e.scaling) {
    const s = e.scaling,
      r = all ? null : readEvalFile<ScalingResult>(run.dir, 'scaling');
    if (
      !current(r) ||
      !same(r!.nsup, s.nsup) ||
      !same(r!.k, s.k) ||
      (s.aggregate && !same(r!.aggregators, s.aggregate))
    )
      kids.push({
        kind: 'scaling',
        log,
        args: [
          'eval',
          '--nsup',
          s.nsup.join(','),
          '--k',
          s.k.join(','),
          ...(s.aggregate ? ['--aggregate', s.aggregate.join(',')] : []),
          ...common,
        ],
      });
  }
  if (e.aas) {
    const r = all ? null : readEvalFile<AasResult>(run.dir, 'aas');
    if (!current(r) || (e.aas.nsup !== null && r!.nsup !== e.aas.nsup))
      kids.push({
        kind: 'aas',
        log,
        args: ['eval', '--aas', ...(e.aas.nsup !== null ? ['--nsup', String(e.aas.nsup)] : []), ...common],
      });
  }
  return kids;
}

/**
 * What each run of the spec still needs. Every run's training config is resolved here, so a
 * bad key or value fails before anything starts, naming the spec and the variant.
 */
export function planSweep(spec: SweepSpec, runs: SweepRun[] = expandRuns(spec)): PlannedRun[] {
  return runs.map(run => {
    let target: number;
    try {
      target = resolveTrainConfig(spec.preset, parseSets(run.sets)).steps;
    } catch (e) {
      if (e instanceof TrmError)
        throw new TrmError('TRM_BAD_SPEC', `${spec.file}: variant '${run.variant}': ${e.message}`);
      throw e;
    }
    const ck = latestCheckpoint(run.dir);
    const want = target > 0 ? target : (ck?.totalSteps ?? null); // steps = 0: the length comes from epochs and the data
    const log = join(run.dir, 'train.log');
    const sets = run.sets.flatMap(s => ['--set', s]);
    let action: Action, children: ChildStep[];
    if (!ck) {
      action = 'train';
      children = [
        {
          kind: 'train',
          log,
          args: ['train', '--data', spec.data, '--preset', spec.preset, ...sets, '--out', run.dir],
          run: { config: { preset: spec.preset, sets: run.sets, out: run.dir }, data: spec.data },
        },
        ...evalChildren(spec, run, null, true),
      ];
    } else if (want !== null && ck.step < want) {
      action = 'resume';
      children = [
        {
          kind: 'train',
          log,
          args: ['train', '--data', spec.data, '--resume', run.dir, ...sets],
          run: { config: { resume: run.dir, sets: run.sets }, data: spec.data },
        },
        ...evalChildren(spec, run, null, true),
      ];
    } else {
      children = evalChildren(spec, run, ck.step, false);
      action = children.length ? 'eval' : 'skip';
    }
    return { ...run, action, step: ck?.step ?? null, target: want, children };
  });
}

export interface SweepOptions {
  /** runs at a time (default 1) */
  parallel?: number;
  /** total kernel threads to share (default: TRM_THREADS, else the core count) */
  cores?: number;
  onEvent?: (e: SweepEvent) => void;
  /** abort: start nothing new and pass the reason ('SIGINT' or 'SIGTERM') to the running children, once */
  signal?: AbortSignal;
  /** the CLI entry to run (default: this package's dist/cli/main.js) */
  cli?: string;
  /**
   * Train in this process through train.run (default: when parallel is 1 and no `cli` is given);
   * otherwise every training is a `trm train` child process.
   */
  inProcess?: boolean;
  /** an in-process training's callbacks, given its log file (the CLI prints `trm train`'s lines there) */
  trainOutput?: (log: string) => Omit<RunCallbacks, 'signal'> & { onDone?(r: RunResult): void };
}

export interface SweepOutcome {
  ran: number;
  skipped: number;
  stopped: boolean;
}

/** Run `node CLI args` with output appended to `log`; resolves to the exit code (128 + signal number when killed). */
function runChild(cli: string, child: ChildStep, env: NodeJS.ProcessEnv, live: Set<ChildProcess>): Promise<number> {
  appendLine(child.log, `# ${new Date().toISOString()} trm ${child.args.join(' ')}`);
  const fd = withWrite(child.log, () => openSync(child.log, 'a'));
  return new Promise(res => {
    // own process group: a terminal's Ctrl-C reaches only the sweep, which passes on exactly one SIGINT
    // (a trainer takes a second one as "exit now, without a checkpoint")
    const p = spawn(process.execPath, [cli, ...child.args], { stdio: ['ignore', fd, fd], env, detached: true });
    live.add(p);
    const done = (code: number) => {
      live.delete(p);
      closeSync(fd);
      res(code);
    };
    p.on('error', e => {
      appendLine(child.log, `trm sweep: cannot start the child: ${e.message}`);
      done(127);
    });
    p.on('exit', (code, sig) => done(code ?? 128 + (sig === 'SIGINT' ? 2 : sig === 'SIGKILL' ? 9 : 15)));
  });
}

/** A training child in this process: train.run with its lines in the child's log; resolves to the exit code `trm train` would give. */
async function runInProcess(
  child: ChildStep,
  data: () => Promise<RunData>,
  o: SweepOptions,
): Promise<{ code: number; message?: string }> {
  appendLine(child.log, `# ${new Date().toISOString()} trm ${child.args.join(' ')} (in the sweep's process)`);
  try {
    const cbs = o.trainOutput?.(child.log) ?? {};
    const r = await trainRun(child.run!.config, await data(), { ...cbs, signal: o.signal });
    cbs.onDone?.(r);
    return { code: r.stopped ? 130 : 0 };
  } catch (e) {
    if (!(e instanceof TrmError)) throw e;
    try {
      appendLine(child.log, `trm: ${e.message}`);
    } catch {
      /* the log itself cannot be written: the message still reaches the sweep */
    }
    return { code: 1, message: e.message };
  }
}

/** Carry out a plan. Throws TRM_SWEEP_FAILED (after in-flight runs finish) when a child fails. */
export async function runSweep(spec: SweepSpec, plan: PlannedRun[], o: SweepOptions = {}): Promise<SweepOutcome> {
  if (!existsSync(spec.data))
    throw new TrmError(
      'TRM_BAD_SPEC',
      `${spec.file}: data: ${spec.data} does not exist (paths are relative to the spec file)`,
    );
  const cli = o.cli ?? cliEntry;
  const parallel = Math.max(1, o.parallel ?? 1);
  const inProcess = o.inProcess ?? (parallel === 1 && o.cli === undefined);
  const needsCli = plan.some(r => r.action !== 'skip' && r.children.some(c => !(inProcess && c.run)));
  if (needsCli && !existsSync(cli))
    throw new TrmError('TRM_NO_CLI', `${cli} not found: build the CLI first (npm run build:ts)`);
  let dataRead: Promise<RunData> | undefined;
  const data = () => (dataRead ??= readRunData(spec.data));
  const cores = o.cores ?? (Number(process.env.TRM_THREADS) || availableParallelism());
  const env = { ...process.env, TRM_THREADS: String(Math.max(1, Math.floor(cores / parallel))) };
  const live = new Set<ChildProcess>();
  const onAbort = () => {
    for (const p of live) p.kill(o.signal?.reason === 'SIGTERM' ? 'SIGTERM' : 'SIGINT');
  };
  o.signal?.addEventListener('abort', onAbort);

  const failures: { run: PlannedRun; child: ChildStep; code: number; message?: string }[] = [];
  let ran = 0,
    skipped = 0,
    next = 0;
  const todo = plan.filter(r => {
    if (r.action === 'skip') {
      skipped++;
      o.onEvent?.({ type: 'skip', run: r });
    }
    return r.action !== 'skip';
  });
  const halted = () => failures.length > 0 || !!o.signal?.aborted;

  const worker = async () => {
    while (!halted() && next < todo.length) {
      const run = todo[next++],
        t0 = performance.now();
      mkdirp(run.dir);
      // another process training this run (a second sweep of the same spec): its files are not ours to touch
      const held = lockHolder(join(run.dir, '.lock'));
      if (held) {
        const child = run.children[0],
          message = lockedError(join(run.dir, '.lock'), held).message;
        failures.push({ run, child, code: 1, message });
        o.onEvent?.({ type: 'failed', run, child, code: 1, message });
        break;
      }
      // a run that never reached a checkpoint starts over: drop its partial metrics and evals
      if (run.action === 'train')
        for (const f of ['metrics.jsonl', 'eval'])
          withWrite(join(run.dir, f), () => rmSync(join(run.dir, f), { recursive: true, force: true }));
      let ok = true;
      for (const child of run.children) {
        o.onEvent?.({ type: 'start', run, child });
        const { code, message } =
          inProcess && child.run
            ? await runInProcess(child, data, o)
            : { code: await runChild(cli, child, env, live), message: undefined };
        if (code === 0) continue;
        ok = false;
        if (o.signal?.aborted) o.onEvent?.({ type: 'stopped', run });
        else {
          failures.push({ run, child, code, message });
          o.onEvent?.({ type: 'failed', run, child, code, message });
        }
        break;
      }
      if (ok) {
        ran++;
        o.onEvent?.({ type: 'done', run, seconds: (performance.now() - t0) / 1000 });
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(parallel, todo.length) }, worker));
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
  if (failures.length) {
    const f = failures[0],
      more =
        failures.length > 1 ? ` (and ${failures.length - 1} more failed run${failures.length > 2 ? 's' : ''})` : '';
    const what =
      f.message !== undefined
        ? `trm ${childLabel(f.child)} failed: ${f.message}`
        : `trm ${childLabel(f.child)} exited with code ${f.code}`;
    throw new TrmError(
      'TRM_SWEEP_FAILED',
      `run ${f.run.variant}/seed-${f.run.seed}: ${what}; see ${f.child.log}${more}`,
    );
  }
  return { ran, skipped, stopped: !!o.signal?.aborted };
}
