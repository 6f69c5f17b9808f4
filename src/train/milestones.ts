/**
 * milestones.ts: milestone supervision in training (`milestones = sudoku-logic`; docs/TRAINING.md).
 * A carry slot's sample at its s-th supervision step (s = the ACT step counter + 1) is trained
 * towards one of its milestones (src/data/sudoku/milestones.ts: per cell, the first milestone that
 * fills it; the row's largest index is the solution):
 *   schedule 'step'    milestone min(s, last)              (one round of logic per step)
 *   schedule 'spread'  milestone ceil(s * last / N_sup)    (the rounds spread over the slot's N_sup)
 * and at the slot's last step (s >= its N_sup) always the solution, so every sample that runs its
 * N_sup steps is trained on the answer. Cells the milestone has not filled yet are ignored (label
 * IGNORE_LABEL: no loss, no gradient), not trained as blanks. The halting target and the exact
 * accuracy stay against the final solution (the step's finalLabels).
 */
import { geometry } from '../data/sudoku/grid.js';
import { logicRounds } from '../data/sudoku/milestones.js';
import { IGNORE_LABEL } from '../model/step.js';
import type { TrainConfig } from './config.js';

/** The milestone step s (from 1) of a row with `last` milestones targets, for a slot of N_sup `nsup`. */
export function milestoneIndex(
  s: number,
  last: number,
  nsup: number,
  schedule: TrainConfig['milestone_schedule'],
): number {
  if (s >= nsup) return last;
  return schedule === 'spread' ? Math.ceil((s * last) / nsup) : Math.min(s, last);
}

/**
 * The labels of this step for every slot: `labels` (final, B x L) where the slot's milestone has
 * filled the cell, IGNORE_LABEL elsewhere. `rounds` (B x L) per slot, `steps` the steps the slot's
 * sample has taken before this one, `cap` its N_sup (0 = `nsup`).
 */
export function milestoneLabels(
  out: Int32Array,
  labels: Int32Array,
  rounds: Uint8Array,
  steps: Int32Array,
  cap: Int32Array,
  nsup: number,
  schedule: TrainConfig['milestone_schedule'],
): Int32Array {
  const B = steps.length,
    L = labels.length / B;
  for (let b = 0; b < B; b++) {
    let last = 0;
    for (let t = b * L; t < (b + 1) * L; t++) last = Math.max(last, rounds[t]);
    const k = milestoneIndex(steps[b] + 1, last, cap[b] > 0 ? cap[b] : nsup, schedule);
    for (let t = b * L; t < (b + 1) * L; t++) out[t] = rounds[t] <= k ? labels[t] : IGNORE_LABEL;
  }
  return out;
}

/** Milestone indices of the slots' samples (B x L tokens: digit + 1, blank 1) computed afresh, as
 *  the dataset builder does (resuming a run trained without milestones). */
export function slotMilestones(inputs: Int32Array, labels: Int32Array, L: number, out: Uint8Array): Uint8Array {
  const geo = geometry(Math.round(Math.sqrt(L))),
    q = new Uint8Array(L),
    a = new Uint8Array(L);
  for (let b = 0; b < inputs.length / L; b++) {
    for (let i = 0; i < L; i++) {
      q[i] = inputs[b * L + i] <= 1 ? 0 : inputs[b * L + i] - 1;
      a[i] = Math.max(0, labels[b * L + i] - 1);
    }
    logicRounds(geo, q, a, out.subarray(b * L, (b + 1) * L), `carry slot ${b}`);
  }
  return out;
}
