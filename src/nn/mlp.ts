/**
 * mlp.ts: the channel SwiGLU MLP over the hidden axis (models/layers.py:151-161):
 * out = down( silu(gate) * up ), [gate | up] = inp @ gate_up^T (gate = first I features). The gate_up
 * product and SwiGLU are one kernel (linearSwiglu: a gate tile and its up tile meet in registers,
 * only h is written, and the pre-activation only when a backward will read it).
 */
import { type F32T, gemmPrecision, type KeptT, linearSwiglu, linearSwigluBackward } from '../kernels/core.js';
import { linearBackward, linearForward } from './linear.js';

export interface MlpActs {
  gateUp: KeptT; // (N, 2I) pre-activation (bf16 in a bf16 run: model/acts.ts)
  h: KeptT; // (N, I) silu(gate) * up (the down product's operand)
}

/** A SwiGLU MLP's weights, or their gradients: gate_up (2I, D), down (D, I) - the token mixer's
 *  are (2Is, S) and (S, Is). */
export interface SwigluWeights {
  gateUp: F32T;
  down: F32T;
}

/** Sizes of one channel-MLP call: N rows of D features, I hidden. */
export interface MlpSizes {
  N: number;
  D: number;
  I: number;
}

export interface MlpScratch {
  dh: F32T; // (N, I)
  dgateUp: KeptT; // (N, 2I) (bf16 in a bf16 run: read only by the two bf16 products after it)
}

/** out (N, D) = SwiGLU(inp (N, D)). keep = false: no backward follows (acts.gateUp is scratch). */
export function mlpForward(out: F32T, acts: MlpActs, inp: F32T, w: SwigluWeights, z: MlpSizes, keep = true): void {
  const { N, D, I } = z;
  linearSwiglu(acts.h, acts.gateUp, inp, w.gateUp, N, D, I, keep, gemmPrecision() === 'bf16');
  linearForward(out, acts.h, w.down, N, I, D);
}

/** dinp (N, D) += d/dinp; g.gateUp, g.down +=. */
export function mlpBackward(
  dinp: F32T,
  g: SwigluWeights,
  dout: F32T,
  acts: MlpActs,
  inp: F32T,
  w: SwigluWeights,
  z: MlpSizes,
  s: MlpScratch,
): void {
  const { N, D, I } = z;
  linearBackward(null, g.down, dout, acts.h, w.down, N, I, D);
  // dh = dout @ W_down with SwiGLU's backward in its epilogue: dgateUp written fresh, dh never stored
  linearSwigluBackward(s.dgateUp, s.dh, dout, acts.gateUp, w.down, N, D, I, gemmPrecision() === 'bf16', true);
  linearBackward(dinp, g.gateUp, s.dgateUp, inp, w.gateUp, N, D, 2 * I);
}
