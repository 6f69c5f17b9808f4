/**
 * jobs.ts: what goes into Redis for a distributed sweep. A sweep is a BullMQ flow: one parent job
 * in the `trm-sweeps` queue (it writes the results table once every run has finished) whose
 * children are the runs, one job per (configuration, seed) in the `trm-runs` queue.
 *
 * Paths: submitter and workers may mount the shared filesystem at different places, so the jobs
 * carry the spec's `data` and `out` relative to the run root (`--runs DIR`; a path outside it stays
 * absolute and must exist at that path on every worker). Job ids are derived from the sweep's
 * output directory relative to the root, so the same spec always names the same jobs
 * (`trm sweep --status` and `--cancel` find them again, a second submit is recognised).
 */
import { createHash } from 'node:crypto';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { TrmError } from '../errors.js';
import type { SweepRun, SweepSpec } from '../report/spec.js';

export const RUNS_QUEUE = 'trm-runs';
export const SWEEPS_QUEUE = 'trm-sweeps';
/** job data layout version: a worker refuses jobs of another layout with a clear error */
export const JOB_FORMAT = 1;

/** A sweep spec with `data` and `out` relative to the run root (or absolute outside it). */
export type PortableSpec = SweepSpec;

export interface SweepJobData {
  format: number;
  sweep: string;
  spec: PortableSpec;
  runs: string[];
}
export interface RunJobData {
  format: number;
  sweep: string;
  spec: PortableSpec;
  variant: string;
  seed: number;
  sets: string[];
}

/** Progress a worker reports on a run job (job.updateProgress). */
export interface RunProgress {
  worker: string;
  stage: 'plan' | 'train' | 'scaling' | 'aas';
  step: number | null;
  total: number | null;
  /** seconds left in the training stage, from the rate since this worker started the run */
  eta_s: number | null;
}

const toRoot = (root: string, p: string) => {
  const r = relative(root, p);
  return r === '' ? '.' : r.startsWith('..') || isAbsolute(r) ? p : r.split(sep).join('/');
};

/** The spec as the jobs carry it: paths relative to `root` (the submitter's view of the shared root). */
export function portableSpec(spec: SweepSpec, root: string): PortableSpec {
  const r = resolve(root);
  return { ...spec, data: toRoot(r, spec.data), out: toRoot(r, spec.out) };
}

/** The spec as a worker with run root `root` sees it. */
export function localSpec(spec: PortableSpec, root: string): SweepSpec {
  return { ...spec, data: resolve(root, spec.data), out: resolve(root, spec.out) };
}

export const runName = (r: { variant: string; seed: number }) => `${r.variant}/seed-${r.seed}`;

/** BullMQ ids may not contain ':' (run names never do: spec.ts allows letters, digits and . _ + - , =). */
export function sweepId(spec: PortableSpec): string {
  return `sweep-${createHash('sha1').update(spec.out).digest('hex').slice(0, 12)}`;
}
export const runJobId = (sweep: string, r: { variant: string; seed: number }) => `${sweep}/${runName(r)}`;

/** The SweepRun of a run job on a worker with run root `root`. */
export function jobRun(d: RunJobData, root: string): { spec: SweepSpec; run: SweepRun } {
  const spec = localSpec(d.spec, root);
  return {
    spec,
    run: { variant: d.variant, seed: d.seed, sets: d.sets, dir: join(spec.out, d.variant, `seed-${d.seed}`) },
  };
}

/** Checks the job data a worker took from Redis (another trm version, or something else's job). */
export function checkJobData<T extends SweepJobData | RunJobData>(data: unknown, kind: 'run' | 'sweep'): T {
  const d = data as Partial<RunJobData & SweepJobData> | null;
  const ok =
    !!d &&
    typeof d === 'object' &&
    d.format === JOB_FORMAT &&
    typeof d.sweep === 'string' &&
    !!d.spec &&
    typeof d.spec === 'object' &&
    typeof d.spec.out === 'string' &&
    typeof d.spec.data === 'string' &&
    (kind === 'sweep'
      ? Array.isArray(d.runs)
      : typeof d.variant === 'string' && Number.isInteger(d.seed) && Array.isArray(d.sets));
  if (!ok)
    throw new TrmError(
      'TRM_BAD_JOB',
      `not a trm ${kind} job of format ${JOB_FORMAT} (format ${JSON.stringify(d?.format ?? null)}): submitted by another trm version?`,
    );
  return d as T;
}
