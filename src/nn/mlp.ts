/**
 * mlp.ts: the channel SwiGLU MLP over the hidden axis (models/layers.py:151-161):
 * out = down( silu(gate) * up ), [gate | up] = inp @ gate_up^T (gate = first I features).
 */
import { type F32T, fill, swigluBackward, swigluForward } from '../kernels/core.js';
import { linearBackward, linearForward } from './linear.js';

export interface MlpActs {
  gateUp: F32T; // (N, 2I) pre-activation
  h: F32T; // (N, I) silu(gate) * up
}

export interface MlpScratch {
  dh: F32T; // (N, I)
  dgateUp: F32T; // (N, 2I)
}

/** out (N, D) = SwiGLU(inp (N, D)); wGateUp (2I, D), wDown (D, I). */
export function mlpForward(
  out: F32T,
  acts: MlpActs,
  inp: F32T,
  wGateUp: F32T,
  wDown: F32T,
  N: number,
  D: number,
  I: number,
): void {
  linearForward(acts.gateUp, inp, wGateUp, N, D, 2 * I);
  swigluForward(acts.h, acts.gateUp, N, I);
  linearForward(out, acts.h, wDown, N, I, D);
}

/** dinp (N, D) += d/dinp; dwGateUp, dwDown +=. */
export function mlpBackward(
  dinp: F32T,
  dwGateUp: F32T,
  dwDown: F32T,
  dout: F32T,
  acts: MlpActs,
  inp: F32T,
  wGateUp: F32T,
  wDown: F32T,
  N: number,
  D: number,
  I: number,
  s: MlpScratch,
): void {
  linearBackward(s.dh, dwDown, dout, acts.h, wDown, N, I, D, true);
  fill(s.dgateUp, 0, N * 2 * I);
  swigluBackward(s.dgateUp, s.dh, acts.gateUp, N, I);
  linearBackward(dinp, dwGateUp, s.dgateUp, inp, wGateUp, N, D, 2 * I);
}
