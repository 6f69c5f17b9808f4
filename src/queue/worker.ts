/**
 * worker.ts: a queue worker (`trm worker`). Takes run jobs from `trm-runs` (N at a time), runs them
 * with executeRun in the shared run root, and reports progress on the job (stage, step, total, ETA,
 * worker). Takes the sweeps' parent jobs from `trm-sweeps` once all of a sweep's runs have finished,
 * and writes the sweep's results table. A worker that dies holds a lock that expires after
 * `lockMs`; another worker's stalled-job check then puts the job back, and it resumes from the run's
 * last checkpoint. A graceful stop (stop()) hands running jobs back to the queue at once, after the
 * trainers saved a checkpoint.
 */
import { hostname } from 'node:os';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { TrmError } from '../errors.js';
import { writeResults } from '../report/results.js';
import { readRun } from '../report/runs.js';
import { expandRuns } from '../report/spec.js';
import { checkReachable, redisOptions, type QueueConnection } from './connection.js';
import { executeRun } from './execute.js';
import {
  checkJobData,
  jobRun,
  localSpec,
  RUNS_QUEUE,
  runName,
  SWEEPS_QUEUE,
  type RunJobData,
  type SweepJobData,
} from './jobs.js';
import { cancelKey, type RunResult, type SweepResult } from './sweep.js';

export interface WorkerOptions {
  conn: QueueConnection;
  /** the shared run root: the jobs' relative paths are resolved against it */
  root: string;
  /** run jobs at a time (default 1) */
  concurrency?: number;
  /** kernel threads per run (default 1) */
  threads?: number;
  /** job lock: a dead worker's job moves to another worker about this long after it died (default 30 s) */
  lockMs?: number;
  /** a name for this worker in progress and status (default HOST:PID) */
  name?: string;
  /** the CLI entry the runs use (default: this package's) */
  cli?: string;
  log?: (line: string) => void;
}

export interface RunningWorker {
  name: string;
  /** stop taking jobs; running runs save a checkpoint and go back to the queue; resolves when closed */
  stop(): Promise<void>;
}

export async function startWorker(o: WorkerOptions): Promise<RunningWorker> {
  await checkReachable(o.conn);
  const name = o.name ?? `${hostname()}:${process.pid}`;
  const log = o.log ?? (() => undefined);
  const lockDuration = o.lockMs ?? 30_000;
  const common = {
    connection: redisOptions(o.conn),
    name,
    lockDuration,
    stalledInterval: Math.max(500, Math.floor(lockDuration / 2)),
    maxStalledCount: 10, // a job survives up to 10 lost workers
  };
  const running = new Set<AbortController>();
  let stopping = false;

  const runs = new Worker(
    RUNS_QUEUE,
    async (job: Job, token?: string): Promise<RunResult> => {
      let d: RunJobData;
      try {
        d = checkJobData<RunJobData>(job.data, 'run');
      } catch (e) {
        throw new UnrecoverableError((e as Error).message);
      }
      const client = await runs.getBackend().client;
      if ((await client.get(cancelKey(d.sweep))) !== null)
        throw new UnrecoverableError('cancelled (trm sweep --cancel)');
      const { spec, run } = jobRun(d, o.root);
      const ac = new AbortController();
      running.add(ac);
      let cancelled = false;
      const watch = setInterval(() => {
        client.get(cancelKey(d.sweep)).then(
          v => {
            if (v !== null && !ac.signal.aborted) {
              cancelled = true;
              ac.abort();
            }
          },
          () => undefined,
        );
      }, 2000);
      log(
        `${name}: start ${runName(d)} (job ${job.id}${job.attemptsStarted > 1 || job.stalledCounter > 0 ? `, taken over after ${job.stalledCounter} lost worker(s)` : ''})`,
      );
      try {
        const out = await executeRun(spec, run, {
          threads: o.threads ?? 1,
          signal: ac.signal,
          cli: o.cli,
          onProgress: p => {
            job.updateProgress({ worker: name, ...p }).catch(() => undefined);
          },
        });
        if (out.stopped) {
          if (cancelled) {
            log(`${name}: cancelled ${runName(d)} at step ${out.step ?? 0} (trm sweep --cancel)`);
            throw new UnrecoverableError(
              `cancelled (trm sweep --cancel) at step ${out.step ?? 0}; a new submit resumes it`,
            );
          }
          await job.moveToWait(token); // this worker is stopping: the job goes back for another
          log(`${name}: handed back ${runName(d)} at step ${out.step ?? 0}`);
          throw new WaitingError();
        }
        log(`${name}: done ${runName(d)} (${out.action}) in ${out.seconds.toFixed(1)} s`);
        return { action: out.action, seconds: out.seconds, step: out.step, worker: name };
      } catch (e) {
        if (e instanceof TrmError) {
          log(`${name}: FAILED ${runName(d)}: ${e.message}`);
          throw new UnrecoverableError(e.message);
        }
        throw e;
      } finally {
        clearInterval(watch);
        running.delete(ac);
      }
    },
    { ...common, concurrency: o.concurrency ?? 1 },
  );

  const sweeps = new Worker(
    SWEEPS_QUEUE,
    async (job: Job): Promise<SweepResult> => {
      let d: SweepJobData;
      try {
        d = checkJobData<SweepJobData>(job.data, 'sweep');
      } catch (e) {
        throw new UnrecoverableError((e as Error).message);
      }
      const spec = localSpec(d.spec, o.root),
        all = expandRuns(spec);
      const failed = Object.keys(await job.getIgnoredChildrenFailures()).map(k =>
        k.slice(k.indexOf(`${d.sweep}/`) + d.sweep.length + 1),
      );
      const cancelled = (await (await sweeps.getBackend().client).get(cancelKey(d.sweep))) !== null;
      const have = all.filter(r => existsSync(join(r.dir, 'metrics.jsonl'))).map(r => readRun(r.dir, runName(r)));
      let results: string | null = null;
      if (have.length) {
        const { files } = writeResults(spec, have);
        results = relative(o.root, files[2]) || files[2];
      }
      log(
        `${name}: sweep ${d.sweep} finished: ${all.length - failed.length} of ${all.length} runs${failed.length ? `, failed: ${failed.join(', ')}` : ''}${cancelled ? ' (cancelled)' : ''}; results: ${results ?? 'none'}`,
      );
      return { results, runs: have.length, of: all.length, failed, cancelled };
    },
    { ...common, concurrency: 1 },
  );

  for (const w of [runs, sweeps]) w.on('error', e => log(`${name}: queue error: ${e.message}`));
  await Promise.all([runs.waitUntilReady(), sweeps.waitUntilReady()]);
  log(
    `${name}: waiting for jobs on ${o.conn.url} (${o.concurrency ?? 1} at a time, TRM_THREADS=${o.threads ?? 1} each, run root ${o.root})`,
  );

  return {
    name,
    async stop() {
      if (stopping) return;
      stopping = true;
      for (const ac of running) ac.abort();
      await Promise.all([runs.close(), sweeps.close()]);
    },
  };
}
