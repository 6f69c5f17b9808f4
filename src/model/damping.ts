/**
 * damping.ts: EqR's damped noisy latent update (reference/test-time-breadth.md, "EqR"), the one
 * place the model applies `damping` (d) and `train_noise` (s). Every net call of the recursion
 * (the n z-updates and the y-update) replaces its latent h by
 *     h <- d h + (1 - d) f(h + u) + s eps,   eps ~ N(0, I) from the carry's noise stream,
 * in training and at test alike (the config travels with the checkpoint). d = 0 and s = 0 run
 * exactly today's update (copy), bit for bit.
 *
 * Composed from existing kernels (no new kernel): the combine is emaUpdate(h, out, d) (shadow =
 * d shadow + (1 - d) param); the noise is drawn on the host (Rng.fillNormal, scale s) and added
 * with `add`. Backward through a damped call with upstream g = d(h_new): the net's backward takes
 * (1 - d) g (fill 0 + emaUpdate with decay d), which also scales the parameter gradients, and the
 * skip term adds d g to d(h_old) (fill 0 + emaUpdate with decay 1 - d, then add). The noise is a
 * constant of the step: no gradient.
 */
import type { Rng } from '../data/rng.js';
import { TrmError } from '../errors.js';
import { add, copy, emaUpdate, f32, type F32T, fill, sizeOf, write } from '../kernels/core.js';
import type { StepActs } from './acts.js';
import type { TrmConfig } from './config.js';

/** The buffers damping and noise use (B, S, D each; host staging for the noise draws). */
export interface DampActs {
  /** backward: (1 - d) g, then d g */
  scratch: F32T;
  /** s eps of the current call, on the device */
  noise: F32T;
  host: Float32Array;
}

/** Whether the config uses the damped or noisy update at all. */
export function usesDamping(c: TrmConfig): boolean {
  return c.damping > 0 || c.train_noise > 0;
}

/** The damping buffers for N = B * S * D elements. */
export function allocDampActs(N: number): DampActs {
  return { scratch: f32(N), noise: f32(N), host: new Float32Array(N) };
}

function dampActs(a: StepActs, n: number): DampActs {
  // acts allocated for a config without damping (allocActs only adds them when asked): once, here
  if (!a.damp || sizeOf(a.damp.noise) !== n) a.damp = allocDampActs(n);
  return a.damp;
}

/** After a net call: h <- d h + (1 - d) out (+ s eps). Without damping and noise: copy(h, out). */
export function updateLatent(c: TrmConfig, a: StepActs, h: F32T, out: F32T, noise: Rng | null): void {
  const n = sizeOf(h);
  if (c.damping > 0) emaUpdate(h, out, n, c.damping);
  else copy(h, out, n);
  if (c.train_noise > 0) {
    if (!noise)
      throw new TrmError(
        'TRM_BAD_CONFIG',
        `train_noise ${c.train_noise} needs a noise stream on the carry (startCarry and the trainer set one)`,
      );
    const da = dampActs(a, n);
    noise.fillNormal(da.host, c.train_noise);
    write(da.noise, da.host);
    add(h, h, da.noise, n);
  }
}

/** The upstream gradient the net's backward takes for a call with output gradient g: (1 - d) g
 *  (in scratch), or g itself without damping. */
export function dampedOutputGrad(c: TrmConfig, a: StepActs, g: F32T): F32T {
  if (!(c.damping > 0)) return g;
  const n = sizeOf(g),
    s = dampActs(a, n).scratch;
  fill(s, 0, n);
  emaUpdate(s, g, n, c.damping);
  return s;
}

/** The skip term of a damped call: dh += d g (dh = d(h before the call), g = d(h after)). */
export function addSkipGrad(c: TrmConfig, a: StepActs, dh: F32T, g: F32T): void {
  if (!(c.damping > 0)) return;
  const n = sizeOf(g),
    s = dampActs(a, n).scratch;
  fill(s, 0, n);
  emaUpdate(s, g, n, 1 - c.damping);
  add(dh, dh, s, n);
}
