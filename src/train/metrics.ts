/**
 * metrics.ts: training metrics as the official ACT loss head counts them (reference/trm-algorithm.md
 * 6.4; losses.py): accuracies and mean steps over the samples that halted at this step; losses
 * per sample of the global batch. q_halt is scored both as the official binary accuracy and as
 * precision / recall of "halt" (issue #28: the binary accuracy rewards a constant "not done").
 * Sums accumulate over a log interval; `summarize` turns them into the metrics.jsonl fields.
 */
import type { StepReadout } from './loop.js';
import type { TrainCarry } from './carry.js';

export interface MetricSums {
  steps: number; // optimizer steps summed
  samples: number; // B per step
  lmLoss: number; // batch sums
  qHaltLoss: number;
  halted: number; // samples that halted (and have a valid label)
  tokenAcc: number; // sum over halted of correct / valid
  exact: number; // halted and fully correct
  qHaltHit: number; // halted with (q_halt >= 0) == correct
  qHaltTruePos: number; // halted, q_halt >= 0 and correct
  qHaltPredPos: number; // halted, q_halt >= 0
  stepsTaken: number; // sum of supervision steps of halted samples
  stepTime: number; // seconds
  netCalls: number; // sum over steps of T (n + 1), the forward net calls per sample
}

export function emptySums(): MetricSums {
  return {
    steps: 0,
    samples: 0,
    lmLoss: 0,
    qHaltLoss: 0,
    halted: 0,
    tokenAcc: 0,
    exact: 0,
    qHaltHit: 0,
    qHaltTruePos: 0,
    qHaltPredPos: 0,
    stepsTaken: 0,
    stepTime: 0,
    netCalls: 0,
  };
}

/** Add one training step (after updateHalting) to `s`. */
export function addStep(s: MetricSums, r: StepReadout, tc: TrainCarry, seconds: number, netCalls = 0): void {
  const B = tc.steps.length;
  s.steps++;
  s.netCalls += netCalls;
  s.samples += B;
  s.lmLoss += r.lmLoss;
  s.qHaltLoss += r.qHaltLoss;
  s.stepTime += seconds;
  for (let b = 0; b < B; b++) {
    const valid = r.counts[2 * b];
    if (!tc.halted[b] || valid === 0) continue;
    const ok = r.seqCorrect[b] === 1,
      halt = r.q[2 * b] >= 0;
    s.halted++;
    s.tokenAcc += r.counts[2 * b + 1] / valid;
    if (ok) s.exact++;
    if (halt === ok) s.qHaltHit++;
    if (halt) {
      s.qHaltPredPos++;
      if (ok) s.qHaltTruePos++;
    }
    s.stepsTaken += tc.steps[b];
  }
}

export interface TrainMetrics {
  lm_loss: number; // per sample
  q_halt_loss: number; // per sample
  token_acc: number; // over halted samples
  exact_acc: number;
  q_halt_acc: number; // official binary accuracy
  q_halt_precision: number; // of "halt" predictions, the fraction that were right
  q_halt_recall: number; // of correct halted samples, the fraction predicted "halt"
  mean_steps: number; // supervision steps of halted samples
  halted: number; // halted samples per step
  step_time: number; // seconds per optimizer step
  net_calls: number; // forward net calls per sample per step, T (n + 1) averaged
}

const div = (a: number, b: number) => (b > 0 ? a / b : 0);

export function summarize(s: MetricSums): TrainMetrics {
  return {
    lm_loss: div(s.lmLoss, s.samples),
    q_halt_loss: div(s.qHaltLoss, s.samples),
    token_acc: div(s.tokenAcc, s.halted),
    exact_acc: div(s.exact, s.halted),
    q_halt_acc: div(s.qHaltHit, s.halted),
    q_halt_precision: div(s.qHaltTruePos, s.qHaltPredPos),
    q_halt_recall: div(s.qHaltTruePos, s.exact),
    mean_steps: div(s.stepsTaken, s.halted),
    halted: div(s.halted, s.steps),
    step_time: div(s.stepTime, s.steps),
    net_calls: div(s.netCalls, s.steps),
  };
}
