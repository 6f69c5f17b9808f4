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
 * draw is a function of (seed, step) in training and (seed, batch, chain) in evaluation. The
 * carry module (carry.ts) applies them.
 */
import { TrmError } from '../errors.js';

export const INIT_MODES = ['static', 'random', 'random-per-sample', 'mixed'] as const;
export type InitMode = (typeof INIT_MODES)[number];

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
