/**
 * carry.ts: the recurrent state (y, z) a chain of supervision steps carries, the one place that
 * constructs it (allocCarry) and starts slots (reference/trm-algorithm.md 1.3; reference/
 * experiments.md 2.2): resetCarry puts the static H_init / L_init into the slots being reset,
 * initCarry applies any init mode (init.ts), startCarry is a fresh carry started by one. The
 * random numbers of the random modes are drawn on the host (slot order, y then z) and written to
 * the device; the resets themselves are kernels.
 */
import { Rng, STREAM } from '../data/rng.js';
import { TrmError } from '../errors.js';
import { broadcastRows, f32, type F32T, fill, sizeOf, u8, type U8T, view, write } from '../kernels/core.js';
import type { TrmConfig } from './config.js';
import { type InitSpec, isRandomInit } from './init.js';
import type { Weights } from './params.js';

/** The recurrent state carried between supervision steps, with the scratch its resets use. */
export interface Carry {
  y: F32T; // (B, S, D)
  z: F32T; // (B, S, D)
  reset: U8T; // (B) slots being reset (written from the host)
  yStart: F32T; // (B, D) start vectors of a reset (row b for slot b, or row 0 for all)
  zStart: F32T; // (B, D)
  /** EqR noise stream of the steps run on this carry (train_noise > 0; damping.ts): the trainer
   *  sets Rng(seed, STREAM.eqrNoise, step) per step, startCarry the chain's own stream */
  noise?: Rng | null;
}

/** A carry of B slots (zeros): start it with resetCarry / init.ts. */
export function allocCarry(B: number, S: number, D: number): Carry {
  return { y: f32(B * S * D), z: f32(B * S * D), reset: u8(B), yStart: f32(B * D), zStart: f32(B * D) };
}

/** Slots with reset[b] != 0 get y <- H_init, z <- L_init at every position (spec 1.3); other starts: init.ts. */
export function resetCarry(carry: Carry, w: Weights, reset: Uint8Array, D: number): void {
  const B = reset.length,
    per = sizeOf(carry.y) / B;
  write(carry.reset, reset);
  broadcastRows(carry.y, w.Hinit, carry.reset, B, per, D, 0);
  broadcastRows(carry.z, w.Linit, carry.reset, B, per, D, 0);
}

function gaussian(dst: Float32Array, rng: Rng, scale: number): Float32Array {
  for (let i = 0; i < dst.length; i++) dst[i] = scale * rng.normal();
  return dst;
}

/** Slots with reset[b] != 0 get their (y, z) from the init mode; the others are untouched. The
 *  random numbers are drawn on the host (slot order, y then z) and written to the device. */
export function initCarry(
  carry: Carry,
  w: Weights,
  reset: Uint8Array,
  D: number,
  spec: InitSpec,
  rng: Rng | null,
): void {
  const B = reset.length,
    per = sizeOf(carry.y) / B;
  if (!rng && isRandomInit(spec))
    throw new TrmError('TRM_BAD_CONFIG', `init mode '${spec.mode}' needs a random stream`);
  if (spec.mode === 'static') {
    resetCarry(carry, w, reset, D);
    return;
  }
  if (spec.mode === 'random' || spec.mode === 'random-per-sample') {
    // one vector per latent (random) or per reset slot and latent (random-per-sample), broadcast over positions
    const perSlot = spec.mode === 'random-per-sample',
      ys = new Float32Array(perSlot ? B * D : D),
      zs = new Float32Array(ys.length);
    if (!perSlot) {
      gaussian(ys, rng!, spec.scale);
      gaussian(zs, rng!, spec.scale);
    } else
      for (let b = 0; b < B; b++) {
        if (!reset[b]) continue;
        gaussian(ys.subarray(b * D, (b + 1) * D), rng!, spec.scale);
        gaussian(zs.subarray(b * D, (b + 1) * D), rng!, spec.scale);
      }
    write(carry.reset, reset);
    write(carry.yStart, ys);
    write(carry.zStart, zs);
    broadcastRows(carry.y, carry.yStart, carry.reset, B, per, D, perSlot ? D : 0);
    broadcastRows(carry.z, carry.zStart, carry.reset, B, per, D, perSlot ? D : 0);
    return;
  }
  // mixed: per slot, the whole (S, D) latent is N(0, 1) noise (training, with probability 1/2) or 0
  const noise = new Float32Array(per);
  for (let b = 0; b < B; b++) {
    if (!reset[b]) continue;
    const y = view(carry.y, b * per, per),
      z = view(carry.z, b * per, per);
    if (spec.training && rng!.float() < 0.5) {
      write(y, gaussian(noise, rng!, 1));
      write(z, gaussian(noise, rng!, 1));
    } else {
      fill(y, 0, per);
      fill(z, 0, per);
    }
  }
}

/** A fresh carry of B slots, every slot started by the init mode. */
export function startCarry(c: TrmConfig, w: Weights, B: number, S: number, init: InitSpec, rng: Rng | null): Carry {
  const D = c.hidden_size,
    carry = allocCarry(B, S, D);
  initCarry(carry, w, new Uint8Array(B).fill(1), D, init, rng);
  // EqR noise at test: the chain's init stream (seed, eval, batch, chain) on the eqrEvalNoise stream id
  if (c.train_noise > 0) carry.noise = rng ? rng.restream(STREAM.eqrEvalNoise) : new Rng(0, STREAM.eqrEvalNoise);
  return carry;
}
