/**
 * mlp.ts: the channel SwiGLU MLP over the hidden axis (models/layers.py:151-161):
 * out = down( silu(gate) * up ), [gate | up] = inp @ gate_up^T (gate = first I features).
 */
import { swigluBackward, swigluForward } from '../kernels/index.js';
import { linearBackward, linearForward } from './linear.js';

export interface MlpActs {
  gateUp: Float32Array; // (N, 2I) pre-activation
  h: Float32Array;      // (N, I) silu(gate) * up
}

export interface MlpScratch {
  dh: Float32Array;      // (N, I)
  dgateUp: Float32Array; // (N, 2I)
}

/** out (N, D) = SwiGLU(inp (N, D)); wGateUp (2I, D), wDown (D, I). */
export function mlpForward(out: Float32Array, acts: MlpActs, inp: Float32Array, wGateUp: Float32Array, wDown: Float32Array,
  N: number, D: number, I: number): void {
  linearForward(acts.gateUp, inp, wGateUp, N, D, 2 * I);
  swigluForward(acts.h, acts.gateUp, N, I);
  linearForward(out, acts.h, wDown, N, I, D);
}

/** dinp (N, D) += d/dinp; dwGateUp, dwDown +=. */
export function mlpBackward(dinp: Float32Array, dwGateUp: Float32Array, dwDown: Float32Array, dout: Float32Array, acts: MlpActs,
  inp: Float32Array, wGateUp: Float32Array, wDown: Float32Array, N: number, D: number, I: number, s: MlpScratch): void {
  linearBackward(s.dh, dwDown, dout, acts.h, wDown, N, I, D, 0);
  swigluBackward(s.dgateUp, s.dh, acts.gateUp, N, I);
  linearBackward(dinp, dwGateUp, s.dgateUp, inp, wGateUp, N, D, 2 * I, 1);
}
