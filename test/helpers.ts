/** helpers.ts: seeded random inputs for tests, from trm's one generator family (Rng(seed), stream 0). */
import { Rng } from '../src/data/rng.js';
import { startCarry, type TrmConfig, type Weights } from '../src/model/index.js';

/** Uniforms in [0, 1) from Rng(seed). */
export function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.float();
}

/** n floats uniform in [-scale, scale). */
export function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = new Rng(seed),
    out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (r.float() * 2 - 1) * scale;
  return out;
}

/** A tensor as its host typed array (tests run on host devices, where this is the same memory). */
export { readSync as host } from '../src/kernels/core.js';

/** A fresh carry of B slots at the static start (H_init, L_init): the model's default. */
export function staticCarry(c: TrmConfig, w: Weights, B: number, S: number) {
  return startCarry(c, w, B, S, { mode: 'static', scale: 1, training: false }, null);
}
