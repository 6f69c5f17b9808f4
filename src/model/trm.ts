/**
 * trm.ts: the TRM network and recursion (reference/trm-algorithm.md 1.1, 2.1; official
 * models/recursive_reasoning/trm.py:65-115, 196-222). One net call f(h, u) = block_L(...block_1(h + u));
 * a block is post-norm: h = rms(h + mixer(h)); h = rms(h + swiglu(h)), where the mixer is the
 * token-mixing MLP with a sequence-axis norm (mlp_t) or RoPE attention with a hidden-axis norm.
 * Not here: the embedding, heads and loss (step.ts), halting and the carry policy (training).
 */
import { add, add3, copy, type F32T, rmsnormBackward, rmsnormForward, rmsnormSeqBackward, rmsnormSeqForward, sizeOf } from '../kernels/core.js';
import { type AttentionActs, type AttentionScratch, attentionBackward, attentionForward } from '../nn/attention.js';
import { mlpBackward, mlpForward } from '../nn/mlp.js';
import { type TokenMixerActs, type TokenMixerScratch, tokenMixerBackward, tokenMixerForward } from '../nn/token-mixer.js';
import type { BlockActs, NetActs, StepActs } from './acts.js';
import type { TrmConfig } from './config.js';
import type { BlockWeights, Weights } from './params.js';

// ---- one block --------------------------------------------------------------------------------

function blockForward(c: TrmConfig, a: StepActs, ba: BlockActs, h: F32T, w: BlockWeights): void {
  const { B, S, D, I, Is, H, hd } = a.d, N = B * S, eps = c.rms_norm_eps;
  if (c.mlp_t) {
    tokenMixerForward(a.r, ba.mixer as TokenMixerActs, h, w.mlptGateUp!, w.mlptDown!, B, S, D, Is);
    add(a.r, a.r, h, N * D);
    rmsnormSeqForward(ba.n1, ba.rstd1, a.r, B, S, D, eps);
  } else {
    attentionForward(a.r, ba.mixer as AttentionActs, h, { qkv: w.qkv!, o: w.o! }, a.rope, { B, S, D, H, hd }, a.mixScratch as AttentionScratch);
    add(a.r, a.r, h, N * D);
    rmsnormForward(ba.n1, ba.rstd1, a.r, N, D, eps);
  }
  mlpForward(a.r, ba.mlp, ba.n1, w.mlpGateUp, w.mlpDown, N, D, I);
  add(a.r, a.r, ba.n1, N * D);
  rmsnormForward(ba.n2, ba.rstd2, a.r, N, D, eps);
}

/** In place: dh holds d(block output) on entry, d(block input h) on return. */
function blockBackward(c: TrmConfig, a: StepActs, ba: BlockActs, h: F32T, w: BlockWeights, g: BlockWeights, dh: F32T): void {
  const { B, S, D, I, Is, H, hd } = a.d, N = B * S;
  rmsnormBackward(a.r, dh, ba.n2, ba.rstd2, N, D);
  copy(a.dn1, a.r, N * D);
  mlpBackward(a.dn1, g.mlpGateUp, g.mlpDown, a.r, ba.mlp, ba.n1, w.mlpGateUp, w.mlpDown, N, D, I, a.mlpScratch);
  if (c.mlp_t) {
    rmsnormSeqBackward(a.r, a.dn1, ba.n1, ba.rstd1, B, S, D);
    copy(dh, a.r, N * D);
    tokenMixerBackward(dh, g.mlptGateUp!, g.mlptDown!, a.r, ba.mixer as TokenMixerActs, h, w.mlptGateUp!, w.mlptDown!, B, S, D, Is,
      a.mixScratch as TokenMixerScratch);
  } else {
    rmsnormBackward(a.r, a.dn1, ba.n1, ba.rstd1, N, D);
    copy(dh, a.r, N * D);
    attentionBackward(dh, { qkv: g.qkv!, o: g.o! }, a.r, ba.mixer as AttentionActs, h, { qkv: w.qkv!, o: w.o! }, a.rope,
      { B, S, D, H, hd }, a.mixScratch as AttentionScratch);
  }
}

// ---- one net call ------------------------------------------------------------------------------

/** f applied to na.inp (= h + u, already filled); returns the output view (last block's n2). */
export function netForward(c: TrmConfig, a: StepActs, na: NetActs, w: Weights): F32T {
  let h = na.inp;
  for (let i = 0; i < c.L_layers; i++) {
    blockForward(c, a, na.blocks[i], h, w.layers[i]);
    h = na.blocks[i].n2;
  }
  return h;
}

/** In place: dh holds d(output) on entry, d(na.inp) on return; parameter gradients += into g. */
export function netBackward(c: TrmConfig, a: StepActs, na: NetActs, w: Weights, g: Weights, dh: F32T): void {
  for (let i = c.L_layers - 1; i >= 0; i--) {
    blockBackward(c, a, na.blocks[i], i === 0 ? na.inp : na.blocks[i - 1].n2, w.layers[i], g.layers[i], dh);
  }
}

// ---- the recursion -----------------------------------------------------------------------------

/** One recursion (spec 1.1): n times z <- f(z + (y + x)), then y <- f(y + z). Calls use a.calls[k]
 *  when `keep`, else a.calls[0] as scratch (nothing kept). y and z (B, S, D) are updated in place. */
export function latentRecursion(c: TrmConfig, a: StepActs, w: Weights, x: F32T, y: F32T, z: F32T, keep: boolean): void {
  const n = c.L_cycles, size = sizeOf(y);
  for (let i = 0; i < n; i++) {
    const na = a.calls[keep ? i : 0];
    add3(na.inp, y, x, z, size);   // (y + x) + z, the same bits as z + (y + x)
    copy(z, netForward(c, a, na, w), size);
  }
  const na = a.calls[keep ? n : 0];
  add(na.inp, y, z, size);
  copy(y, netForward(c, a, na, w), size);
}

/** One supervision step's recursion (spec 1.1): T-1 recursions without gradient, then one whose
 *  n+1 calls keep their activations for deepRecursionBackward. y, z become the new carry. */
export function deepRecursion(c: TrmConfig, a: StepActs, w: Weights, x: F32T, y: F32T, z: F32T): void {
  for (let t = 0; t < c.H_cycles - 1; t++) latentRecursion(c, a, w, x, y, z, false);
  latentRecursion(c, a, w, x, y, z, true);
}

/** Backward through the last recursion: a.dh = d(new y) on entry; on return a.dx = d(x) (the
 *  carry that entered the recursion is detached, so its gradient is dropped). */
export function deepRecursionBackward(c: TrmConfig, a: StepActs, w: Weights, g: Weights): void {
  const n = c.L_cycles, dh = a.dh;
  netBackward(c, a, a.calls[n], w, g, dh);           // dh = d(y + z_n): its z part flows on
  for (let i = n - 1; i >= 0; i--) {
    netBackward(c, a, a.calls[i], w, g, dh);         // dh = d(z_i + (y + x)) = dz_i = d(y + x)
    if (i === n - 1) copy(a.dx, dh, sizeOf(dh)); else add(a.dx, a.dx, dh, sizeOf(dh));
  }
}
