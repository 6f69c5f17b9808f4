/**
 * sweep.ts (queue side): submit a sweep spec to the queue as one BullMQ flow (a parent job for the
 * sweep, a child job per run), read back each run's state, and cancel. Workers (worker.ts) do the
 * work; nothing here trains. A run job that fails is ignored by its parent (ignoreDependencyOnFailure),
 * so the sweep still finishes and writes the results table of the runs that have metrics.
 */
import { FlowProducer, Job, Queue } from 'bullmq';
import { TrmError } from '../errors.js';
import { expandRuns, type SweepSpec } from '../report/spec.js';
import { planSweep } from '../report/sweep.js';
import { checkReachable, redisOptions, type QueueConnection } from './connection.js';
import {
  JOB_FORMAT,
  portableSpec,
  RUNS_QUEUE,
  runJobId,
  runName,
  sweepId,
  SWEEPS_QUEUE,
  type RunJobData,
  type RunProgress,
  type SweepJobData,
} from './jobs.js';

/** Redis key that marks a sweep as cancelled (workers poll it); it lives for 30 days. */
export const cancelKey = (sweep: string) => `trm:cancelled:${sweep}`;
const CANCEL_TTL_S = 30 * 24 * 3600;
const LIVE = new Set(['waiting', 'waiting-children', 'active', 'delayed', 'prioritized']);

/** What a worker returns for a finished run job, and for the sweep's parent job. */
export interface RunResult {
  action: string;
  seconds: number;
  step: number | null;
  worker: string;
}
export interface SweepResult {
  results: string | null;
  runs: number;
  of: number;
  failed: string[];
  cancelled: boolean;
}

export interface RunStatus {
  name: string;
  state: 'queued' | 'running' | 'done' | 'failed' | 'not queued';
  progress: RunProgress | null;
  /** failed: the error; done: what the run did */
  error: string | null;
  result: RunResult | null;
}
export interface SweepStatus {
  sweep: string;
  /** the parent job: 'running' (runs to go), 'writing results', 'done', 'failed', or 'not queued' */
  state: string;
  cancelled: boolean;
  runs: RunStatus[];
  result: SweepResult | null;
  error: string | null;
}

async function withQueues<T>(conn: QueueConnection, f: (q: { sweeps: Queue; runs: Queue }) => Promise<T>): Promise<T> {
  await checkReachable(conn);
  const connection = redisOptions(conn);
  const sweeps = new Queue(SWEEPS_QUEUE, { connection }),
    runs = new Queue(RUNS_QUEUE, { connection });
  try {
    return await f({ sweeps, runs });
  } finally {
    await Promise.all([sweeps.close(), runs.close()]);
  }
}

export interface SubmitOutcome {
  sweep: string;
  runs: number;
  queued: boolean;
  replaced: number;
}

/**
 * Enqueue every run of `spec` (paths carried relative to the shared run root `root`). Every run's
 * training config is checked first (as the local sweep does). A sweep that is still queued or
 * running is left alone (queued: false); a finished, failed or cancelled one is replaced, and its
 * runs then skip the work their directories already hold.
 */
export async function submitSweep(conn: QueueConnection, spec: SweepSpec, root: string): Promise<SubmitOutcome> {
  planSweep(spec); // throws TRM_BAD_SPEC naming the variant before anything is queued
  const ps = portableSpec(spec, root),
    id = sweepId(ps),
    runs = expandRuns(spec);
  return withQueues(conn, async q => {
    const old = await Job.fromId(q.sweeps, id);
    if (old && LIVE.has(await old.getState())) return { sweep: id, runs: runs.length, queued: false, replaced: 0 };
    let replaced = 0;
    if (old) {
      await old.remove({ removeChildren: true });
      replaced++;
    }
    for (const r of runs) {
      const j = await Job.fromId(q.runs, runJobId(id, r));
      if (!j) continue;
      if ((await j.getState()) === 'active')
        throw new TrmError(
          'TRM_QUEUE_BUSY',
          `run ${runName(r)} of this sweep is still running on a worker (${(j.progress as RunProgress | undefined)?.worker ?? 'unknown'}); wait for it to stop, then submit again`,
        );
      await j.remove();
      replaced++;
    }
    await (await q.sweeps.getBackend().client).del(cancelKey(id));
    const flow = new FlowProducer({ connection: redisOptions(conn) });
    try {
      await flow.add({
        name: 'sweep',
        queueName: SWEEPS_QUEUE,
        opts: { jobId: id },
        data: { format: JOB_FORMAT, sweep: id, spec: ps, runs: runs.map(runName) } satisfies SweepJobData,
        children: runs.map(r => ({
          name: runName(r),
          queueName: RUNS_QUEUE,
          data: {
            format: JOB_FORMAT,
            sweep: id,
            spec: ps,
            variant: r.variant,
            seed: r.seed,
            sets: r.sets,
          } satisfies RunJobData,
          opts: { jobId: runJobId(id, r), attempts: 1, ignoreDependencyOnFailure: true },
        })),
      });
    } finally {
      await flow.close();
    }
    return { sweep: id, runs: runs.length, queued: true, replaced };
  });
}

function runState(s: string): RunStatus['state'] {
  if (s === 'active') return 'running';
  if (s === 'completed') return 'done';
  if (s === 'failed') return 'failed';
  return LIVE.has(s) ? 'queued' : 'not queued';
}

/** Each run's state, progress (worker, step, ETA) or error, and the sweep's own. */
export async function sweepStatus(conn: QueueConnection, spec: SweepSpec, root: string): Promise<SweepStatus> {
  const ps = portableSpec(spec, root),
    id = sweepId(ps);
  return withQueues(conn, async q => {
    const cancelled = (await (await q.sweeps.getBackend().client).get(cancelKey(id))) !== null;
    const runs: RunStatus[] = [];
    for (const r of expandRuns(spec)) {
      const j = await Job.fromId(q.runs, runJobId(id, r));
      const state = j ? runState(await j.getState()) : 'not queued';
      runs.push({
        name: runName(r),
        state,
        progress: j && typeof j.progress === 'object' && j.progress ? (j.progress as unknown as RunProgress) : null,
        error: state === 'failed' ? (j!.failedReason ?? 'failed') : null,
        result: state === 'done' ? ((j!.returnvalue as RunResult) ?? null) : null,
      });
    }
    const p = await Job.fromId(q.sweeps, id);
    const ps2 = p ? await p.getState() : 'not queued';
    const state =
      ps2 === 'waiting-children'
        ? 'running'
        : ps2 === 'waiting' || ps2 === 'active'
          ? 'writing results'
          : ps2 === 'completed'
            ? 'done'
            : ps2;
    return {
      sweep: id,
      state,
      cancelled,
      runs,
      result: ps2 === 'completed' ? (p!.returnvalue as SweepResult) : null,
      error: ps2 === 'failed' ? p!.failedReason : null,
    };
  });
}

export interface CancelOutcome {
  sweep: string;
  removed: string[];
  stopping: string[];
}

/**
 * Cancel a sweep: mark it cancelled (workers stop its running runs within seconds; the trainers save
 * a checkpoint, so a later submit resumes them), remove its queued runs, and the sweep job itself
 * once nothing runs. Finished runs keep their results.
 */
export async function cancelSweep(conn: QueueConnection, spec: SweepSpec, root: string): Promise<CancelOutcome> {
  const ps = portableSpec(spec, root),
    id = sweepId(ps);
  return withQueues(conn, async q => {
    await (await q.sweeps.getBackend().client).set(cancelKey(id), '1', { EX: CANCEL_TTL_S });
    const removed: string[] = [],
      stopping: string[] = [];
    for (const r of expandRuns(spec)) {
      const j = await Job.fromId(q.runs, runJobId(id, r));
      if (!j) continue;
      const s = await j.getState();
      if (s === 'active') stopping.push(runName(r));
      else if (LIVE.has(s)) {
        try {
          await j.remove();
          removed.push(runName(r));
        } catch {
          stopping.push(runName(r));
        } // taken by a worker meanwhile
      }
    }
    const p = await Job.fromId(q.sweeps, id);
    if (p && !stopping.length && (await p.getState()) !== 'active')
      await p.remove({ removeChildren: false }).catch(() => undefined);
    return { sweep: id, removed, stopping };
  });
}
