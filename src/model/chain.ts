/**
 * chain.ts: one chain of supervision steps as evaluation runs it (reference/trm-algorithm.md 6.3;
 * reference/experiments.md 3): a fresh carry from an init mode, then N_sup steps without halting
 * and without gradients. Every evaluation (evaluate, the N_sup x k grid, AAS, solve) is a
 * runChain with a per-step callback that reads what it scores. Chain r of test batch i draws its
 * init from chainRng(seed, i, r) = Rng(seed, STREAM.eval, i, r), so results depend on (seed, batch,
 * chain) only. Test-time noise (PTRM, experiments/scaling.ts) goes in through beforeStep; chain r of
 * example e draws it from noiseRng(seed, e, r) = Rng(seed, STREAM.evalNoise, e, r).
 */
import { Rng, STREAM } from '../data/rng.js';
import type { StepActs } from './acts.js';
import { type Carry, startCarry } from './carry.js';
import type { TrmConfig } from './config.js';
import type { InitSpec } from './init.js';
import type { Weights } from './params.js';
import { type Batch, type StepResult, supervisionStep } from './step.js';

/** The test-time noise stream of chain r of example e (its index in the split): a row's noise
 *  depends on (seed, example, chain) only, whatever the batch it is computed in. */
export function noiseRng(seed: number, example: number, r: number): Rng {
  return new Rng(seed, STREAM.evalNoise, example, r);
}

/** Chains per batch an evaluation may run (k of best-of-k). */
export const MAX_CHAINS = 1024;

/** The init stream of evaluation chain r on test batch i: results depend on (seed, batch, chain) only. */
export function chainRng(seed: number, batchIndex: number, r: number): Rng {
  return new Rng(seed, STREAM.eval, batchIndex, r);
}

export interface ChainOptions {
  /** supervision steps to run */
  nsup: number;
  init: InitSpec;
  /** the chain's init stream (random modes) */
  rng: Rng | null;
  /** start from this carry instead of a fresh one (updated in place) */
  carry?: Carry;
  /** before each step s (1-based), e.g. to perturb the carry (test-time noise) */
  beforeStep?: (s: number, carry: Carry) => void | Promise<void>;
  /** after each step s (1-based): read what you score; may be async (device reads) */
  onStep?: (s: number, r: StepResult, carry: Carry) => void | Promise<void>;
}

/** A fresh carry (or o.carry), then o.nsup supervision steps on `batch`; returns the carry. */
export async function runChain(c: TrmConfig, w: Weights, a: StepActs, batch: Batch, o: ChainOptions): Promise<Carry> {
  const carry = o.carry ?? startCarry(c, w, a.d.B, a.d.S, o.init, o.rng);
  for (let s = 1; s <= o.nsup; s++) {
    await o.beforeStep?.(s, carry);
    const r = supervisionStep(c, w, a, carry, batch, null);
    await o.onStep?.(s, r, carry);
  }
  return carry;
}
