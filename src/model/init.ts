/**
 * init.ts: where a fresh recursion starts, i.e. the (y, z) a carry slot is reset to (reference/
 * experiments.md 2.2, 6.3). Four modes, usable independently in training and evaluation:
 *   static             the model's fixed H_init / L_init buffers (the official behaviour)
 *   random             one fresh vector per latent per reset call, N(0, scale^2) of shape [D], shared
 *                      by every slot reset in that call and by all positions (trm-jax `random`)
 *   random-per-sample  the same, but a vector per slot
 *   mixed              Anil et al.: per slot, Bernoulli(0.5) between the zero latent and N(0, 1)
 *                      over the whole [S, D] latent (both y and z); at test time zeros
 * `scale` is the std of the random modes: 1 matches the official buffers (truncated N(0, 1)) and
 * tiny-trm, 1/sqrt(D) matches trm-jax. The random numbers come from the caller's Rng, so every
 * draw is a function of (seed, step) in training and (seed, batch, chain) in evaluation.
 */
import { Rng } from '../data/rng.js';
import { TrmError } from '../errors.js';
import type { Weights } from './params.js';
import { type Carry, resetCarry } from './step.js';
import type { TrmConfig } from './config.js';

export const INIT_MODES = ['static', 'random', 'random-per-sample', 'mixed'] as const;
export type InitMode = typeof INIT_MODES[number];

export interface InitSpec {
  mode: InitMode;
  /** std of the random modes */
  scale: number;
  /** mixed: noise/zero mix in training, zeros at test */
  training: boolean;
}

export function parseInitMode(s: string, where: string): InitMode {
  if (!(INIT_MODES as readonly string[]).includes(s))
    throw new TrmError('TRM_BAD_CONFIG', `${where}: init mode must be one of ${INIT_MODES.join(', ')}, got '${s}'`);
  return s as InitMode;
}

/** True when the mode draws random numbers (best-of-k chains differ only then). */
export function isRandomInit(spec: InitSpec): boolean {
  return spec.mode === 'random' || spec.mode === 'random-per-sample' || (spec.mode === 'mixed' && spec.training);
}

function gaussian(dst: Float32Array, rng: Rng, scale: number): Float32Array {
  for (let i = 0; i < dst.length; i++) dst[i] = scale * rng.normal();
  return dst;
}

/** Slots with reset[b] != 0 get their (y, z) from the init mode; the others are untouched. */
export function initCarry(carry: Carry, w: Weights, reset: Uint8Array, D: number, spec: InitSpec, rng: Rng | null): void {
  const B = reset.length, per = carry.y.length / B;
  if (!rng && isRandomInit(spec)) throw new TrmError('TRM_BAD_CONFIG', `init mode '${spec.mode}' needs a random stream`);
  if (spec.mode === 'static') return resetCarry(carry, w, reset, D);
  const yv = new Float32Array(D), zv = new Float32Array(D);
  if (spec.mode === 'random') { gaussian(yv, rng!, spec.scale); gaussian(zv, rng!, spec.scale); }
  for (let b = 0; b < B; b++) {
    if (!reset[b]) continue;
    const y = carry.y.subarray(b * per, (b + 1) * per), z = carry.z.subarray(b * per, (b + 1) * per);
    switch (spec.mode) {
      case 'random':
      case 'random-per-sample':
        if (spec.mode === 'random-per-sample') { gaussian(yv, rng!, spec.scale); gaussian(zv, rng!, spec.scale); }
        for (let o = 0; o < per; o += D) { y.set(yv, o); z.set(zv, o); }
        break;
      case 'mixed':
        if (spec.training && rng!.float() < 0.5) { gaussian(y, rng!, 1); gaussian(z, rng!, 1); }
        else { y.fill(0); z.fill(0); }
        break;
    }
  }
}

// ---- evaluation starts -------------------------------------------------------------------------

/** Chains per batch an evaluation may run (k of best-of-k). */
export const MAX_CHAINS = 1024;
const EVAL_SEED_MIX = 0x1a17c4a1;

/** The init stream of evaluation chain r on test batch i: results depend on (seed, batch, chain) only. */
export function chainRng(seed: number, batchIndex: number, r: number): Rng {
  return new Rng((seed ^ EVAL_SEED_MIX) >>> 0, (batchIndex * MAX_CHAINS + r) >>> 0);
}

/** A fresh carry of B slots, every slot started by the init mode. */
export function startCarry(c: TrmConfig, w: Weights, B: number, S: number, init: InitSpec, rng: Rng | null): Carry {
  const D = c.hidden_size, carry = { y: new Float32Array(B * S * D), z: new Float32Array(B * S * D) };
  initCarry(carry, w, new Uint8Array(B).fill(1), D, init, rng);
  return carry;
}
