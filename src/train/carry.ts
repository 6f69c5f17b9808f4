/**
 * carry.ts: the persistent training carry and ACT halting (reference/trm-algorithm.md 6.1-6.2;
 * official pretrain.py:297-303, trm.py:251-287). Each of the B slots holds (y, z), a step
 * counter, a halted flag and its current sample. Only halted slots take the fresh batch's sample
 * at their index (with y, z reset to H_init, L_init); the others keep theirs. After a step:
 * halted = steps >= N_sup, or (training) q_halt > 0 unless exploration vetoes it below a
 * minimum drawn from U{2..N_sup}. Exploration draws come from Rng(seed, STREAM.halt, step): a
 * counter-based stream, so the training step number is the whole RNG state. With randomised N_sup each slot
 * carries its own cap, drawn when it is refilled; the init mode decides where a refill starts.
 */
import { Rng, STREAM } from '../data/rng.js';
import { allocBatch, type Batch, type HostBatch } from '../model/step.js';
import { allocCarry, type Carry } from '../model/carry.js';
import { initCarry } from '../model/carry.js';
import type { InitSpec } from '../model/init.js';
import type { Weights } from '../model/params.js';
import { newBatch } from './data.js';

export interface TrainCarry extends Carry {
  steps: Int32Array; // (B) supervision steps taken by the slot's sample
  halted: Uint8Array; // (B) 1: the slot takes a new sample at the next step
  cap: Int32Array; // (B) the slot's halting cap (randomised N_sup); 0 = the run's N_sup
  rounds: Uint8Array; // (B, L) milestone supervision: the slot's sample's milestone indices (else 0)
  batch: HostBatch; // the samples the slots hold (host: the data layer refills it)
  dev: Batch; // the same samples on the device (uploadBatch before each step)
}

export interface FillOptions {
  init: InitSpec;
  /** the refill stream of this step: caps first (slot order), then init draws */
  rng: Rng | null;
  /** a refilled slot's cap (randomised N_sup); absent = the run's N_sup */
  drawCap?: (rng: Rng) => number;
}

const STATIC_FILL: FillOptions = { init: { mode: 'static', scale: 1, training: true }, rng: null };

/** B slots, all halted (the first step fills every slot). */
export function newTrainCarry(B: number, L: number, S: number, D: number): TrainCarry {
  return {
    ...allocCarry(B, S, D),
    steps: new Int32Array(B),
    halted: new Uint8Array(B).fill(1),
    cap: new Int32Array(B),
    rounds: new Uint8Array(B * L),
    batch: newBatch(B, L),
    dev: allocBatch(B, L),
  };
}

/** Halted slots take fresh[b] and restart from the init mode (default H_init, L_init); the rest keep their sample. */
export function fillHalted(
  tc: TrainCarry,
  fresh: HostBatch,
  w: Weights,
  D: number,
  fill: FillOptions = STATIC_FILL,
): void {
  const B = tc.steps.length,
    L = tc.batch.inputs.length / B;
  for (let b = 0; b < B; b++) if (tc.halted[b]) tc.cap[b] = fill.drawCap ? fill.drawCap(fill.rng!) : 0;
  initCarry(tc, w, tc.halted, D, fill.init, fill.rng);
  for (let b = 0; b < B; b++) {
    if (!tc.halted[b]) continue;
    tc.steps[b] = 0;
    tc.batch.inputs.set(fresh.inputs.subarray(b * L, (b + 1) * L), b * L);
    tc.batch.labels.set(fresh.labels.subarray(b * L, (b + 1) * L), b * L);
    tc.batch.puzzleIds[b] = fresh.puzzleIds[b];
  }
}

export interface HaltOptions {
  nsup: number; // halt_max_steps (a slot's own cap replaces it when set)
  exploreProb: number; // halt_exploration_prob
  training: boolean;
  seed: number;
  /** the training step (counter of the exploration stream) */
  step: number;
}

/** After a supervision step: steps += 1 and the new halted flags (q holds [q_halt, q_continue] per slot,
 *  read to the host: the next step's data depends on which slots halted). */
export function updateHalting(tc: TrainCarry, q: Float32Array, o: HaltOptions): void {
  const B = tc.steps.length;
  const rng = new Rng(o.seed, STREAM.halt, o.step);
  for (let b = 0; b < B; b++) {
    const steps = ++tc.steps[b],
      nsup = tc.cap[b] > 0 ? tc.cap[b] : o.nsup;
    let halted = steps >= nsup;
    if (o.training && nsup > 1) {
      halted = halted || q[2 * b] > 0;
      // drawn for every slot at every step, as the official code does
      const explore = rng.float() < o.exploreProb;
      const minHalt = 2 + rng.int(nsup - 1);
      if (explore && steps < minHalt) halted = false;
    }
    tc.halted[b] = halted ? 1 : 0;
  }
}
