/**
 * execute.ts: carry out one run of a sweep on a worker: the ONE place where the queue runs training.
 * Today it plans the run with the local sweep's planner (src/report/sweep.ts: train new, resume from
 * the last checkpoint, or only the missing evals, or nothing) and runs the planned `trm train` /
 * `trm eval` steps as child processes (through child.ts, so they die with the worker), appending
 * to RUN/train.log and RUN/eval.log as the local sweep does; progress comes from RUN/metrics.jsonl.
 * When the library's training run (`train.run`) lands, this is the function to switch to it.
 */
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TrmError } from '../errors.js';
import type { SweepRun, SweepSpec } from '../report/spec.js';
import { childLabel, cliEntry, planSweep, type Action, type ChildStep } from '../report/sweep.js';
import { runName, type RunProgress } from './jobs.js';

export interface ExecuteOptions {
  /** kernel threads of the run (TRM_THREADS of the children) */
  threads: number;
  onProgress?: (p: Omit<RunProgress, 'worker'>) => void;
  /** abort: SIGINT to the running child (a trainer saves a checkpoint), then resolve with stopped = true */
  signal?: AbortSignal;
  /** the CLI entry (default: this package's dist/cli/main.js) */
  cli?: string;
  /** how often progress is read from metrics.jsonl (ms) */
  pollMs?: number;
}

export interface ExecuteOutcome {
  action: Action;
  stopped: boolean;
  seconds: number;
  step: number | null;
}

const wrapper = fileURLToPath(new URL('./child.js', import.meta.url));

/** The last `trm: ...` line a child wrote to its log (its one-line error), if any. */
function lastError(log: string): string | null {
  try {
    const size = statSync(log).size,
      n = Math.min(size, 16384),
      buf = Buffer.alloc(n),
      fd = openSync(log, 'r');
    try {
      readSync(fd, buf, 0, n, size - n);
    } finally {
      closeSync(fd);
    }
    const lines = buf
      .toString('utf8')
      .split('\n')
      .map(l => l.trim())
      .filter(l => l.startsWith('trm: ') || l.startsWith('Error'));
    return lines.length ? lines[lines.length - 1] : null;
  } catch {
    return null;
  }
}

/** The step of the last `train` line of RUN/metrics.jsonl (null: none yet). */
function lastTrainStep(file: string): number | null {
  if (!existsSync(file)) return null;
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    try {
      const r = JSON.parse(lines[i]) as { type?: string; step?: number };
      if (r.type === 'train' && typeof r.step === 'number') return r.step;
    } catch {
      /* a line being written */
    }
  }
  return null;
}

/** `node child.js CLI args` with output appended to the child's log; resolves to the exit code (128 + signal when killed). */
function runChild(cli: string, child: ChildStep, threads: number, signal: AbortSignal | undefined): Promise<number> {
  appendFileSync(child.log, `# ${new Date().toISOString()} trm ${child.args.join(' ')}\n`);
  const fd = openSync(child.log, 'a');
  return new Promise(res => {
    // own process group (as the local sweep's children): a terminal's Ctrl-C reaches only the worker, which passes
    // on exactly one SIGINT (a trainer takes a second one as "exit now, without a checkpoint")
    const p = spawn(process.execPath, [wrapper, cli, ...child.args], {
      stdio: ['pipe', fd, fd],
      env: { ...process.env, TRM_THREADS: String(threads) },
      detached: true,
    });
    const onAbort = () => p.kill('SIGINT');
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) onAbort();
    const done = (code: number) => {
      signal?.removeEventListener('abort', onAbort);
      closeSync(fd);
      res(code);
    };
    p.on('error', e => {
      appendFileSync(child.log, `trm worker: cannot start the child: ${e.message}\n`);
      done(127);
    });
    p.on('exit', (code, sig) => done(code ?? 128 + (sig === 'SIGINT' ? 2 : sig === 'SIGKILL' ? 9 : 15)));
  });
}

/**
 * Run what `run` still needs (its directory decides: new, resume, evals, or nothing). Throws
 * TRM_RUN_FAILED naming the run, the failed step, its error line and its log.
 */
export async function executeRun(spec: SweepSpec, run: SweepRun, o: ExecuteOptions): Promise<ExecuteOutcome> {
  const t0 = performance.now();
  const planned = planSweep(spec, [run])[0];
  if (planned.action === 'skip') return { action: 'skip', stopped: false, seconds: 0, step: planned.step };
  if (!existsSync(spec.data))
    throw new TrmError(
      'TRM_BAD_SPEC',
      `${spec.file}: data: ${spec.data} does not exist on this worker (is the shared run root mounted there?)`,
    );
  const cli = o.cli ?? cliEntry;
  if (!existsSync(cli)) throw new TrmError('TRM_NO_CLI', `${cli} not found: build the CLI first (npm run build:ts)`);
  mkdirSync(run.dir, { recursive: true });
  // a run that never reached a checkpoint starts over: drop its partial metrics and evals
  if (planned.action === 'train')
    for (const f of ['metrics.jsonl', 'eval']) rmSync(join(run.dir, f), { recursive: true, force: true });

  const metrics = join(run.dir, 'metrics.jsonl'),
    total = planned.target;
  for (const child of planned.children) {
    const stage = child.kind;
    const c0 = performance.now(),
      step0 = stage === 'train' ? (lastTrainStep(metrics) ?? planned.step ?? 0) : null;
    const report = () => {
      if (stage !== 'train') {
        o.onProgress?.({ stage, step: null, total, eta_s: null });
        return;
      }
      const step = lastTrainStep(metrics) ?? step0;
      const rate =
        step !== null && step0 !== null && step > step0 ? (step - step0) / ((performance.now() - c0) / 1000) : 0;
      o.onProgress?.({
        stage,
        step,
        total,
        eta_s: rate > 0 && total !== null && step !== null ? Math.max(0, (total - step) / rate) : null,
      });
    };
    report();
    const timer = setInterval(report, o.pollMs ?? 2000);
    let code: number;
    try {
      code = await runChild(cli, child, o.threads, o.signal);
    } finally {
      clearInterval(timer);
    }
    if (o.signal?.aborted)
      return {
        action: planned.action,
        stopped: true,
        seconds: (performance.now() - t0) / 1000,
        step: lastTrainStep(metrics),
      };
    if (code !== 0) {
      const why = lastError(child.log);
      throw new TrmError(
        'TRM_RUN_FAILED',
        `run ${runName(run)}: trm ${childLabel(child)} exited with code ${code}${why ? `: ${why}` : ''} (log: ${child.log})`,
      );
    }
    report();
  }
  return {
    action: planned.action,
    stopped: false,
    seconds: (performance.now() - t0) / 1000,
    step: lastTrainStep(metrics),
  };
}
