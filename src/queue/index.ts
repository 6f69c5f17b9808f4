/** The distributed sweep: submit, status, cancel (sweep.ts), workers (worker.ts), one run (execute.ts). */
export { parseQueueUrl, checkReachable, type QueueConnection } from './connection.js';
export {
  submitSweep,
  sweepStatus,
  cancelSweep,
  type SweepStatus,
  type RunStatus,
  type SubmitOutcome,
  type CancelOutcome,
  type RunResult,
  type SweepResult,
} from './sweep.js';
export { startWorker, type WorkerOptions, type RunningWorker } from './worker.js';
export { executeRun, type ExecuteOptions, type ExecuteOutcome } from './execute.js';
export { RUNS_QUEUE, SWEEPS_QUEUE, sweepId, runJobId, portableSpec, localSpec, type RunProgress } from './jobs.js';
