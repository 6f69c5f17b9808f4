/**
 * trm.ts: the TRM network and recursion (reference/trm-algorithm.md 1.1, 2.1; official
 * models/recursive_reasoning/trm.py:65-115, 196-222). One net call f(h, u) = block_L(...block_1(h + u));
 * a block is post-norm: h = rms(h + mixer(h)); h = rms(h + swiglu(h)), where the mixer is the
 * token-mixing MLP with a sequence-axis norm (mlp_t) or RoPE attention with a hidden-axis norm.
 * Not here: the embedding, heads and loss (step.ts), halting and the carry policy (training).
 */
import {
  add,
  add3,
  copy,
  type F32T,
  fill,
  gemm,
  gemmPrecision,
  mlpNormBackward,
  mlpNormForward,
  rmsnormBackward,
  rmsnormForward,
  rmsnormSeqBackward,
  rmsnormSeqForward,
  sizeOf,
  tokenMixerNormBackward,
  tokenMixerNormForward,
  transpose,
} from '../kernels/core.js';
import { type AttentionActs, type AttentionScratch, attentionBackward, attentionForward } from '../nn/attention.js';
import { mlpBackward, mlpForward, type SwigluWeights } from '../nn/mlp.js';
import {
  type TokenMixerActs,
  type TokenMixerScratch,
  mixerWeightGrad,
  tokenMixerBackward,
  tokenMixerForward,
} from '../nn/token-mixer.js';
import type { Rng } from '../data/rng.js';
import { type BlockActs, type BlockScratch, f32Act, type NetActs, type StepActs } from './acts.js';
import { type Dims, FUSED_MAX_D, type TrmConfig } from './config.js';
import { addSkipGrad, dampedOutputGrad, updateLatent, usesDamping } from './damping.js';
import type { BlockWeights, Weights } from './params.js';

/** A block's SwiGLU weights (or gradients) as the layers take them. */
const mlpWeights = (w: BlockWeights): SwigluWeights => ({ gateUp: w.mlpGateUp, down: w.mlpDown });
const mixerWeights = (w: BlockWeights): SwigluWeights => ({ gateUp: w.mlptGateUp!, down: w.mlptDown! });

// ---- one block --------------------------------------------------------------------------------

/** Up to this hidden size a block's forward runs as two fused half-block kernels (one call and one
 *  native parallel region each, split over items or rows; bitwise the op-by-op sequence). Above it
 *  the op-by-op sequence is faster: the big GEMMs split inside each product, a shared weight is
 *  packed once per thread instead of per item. fp32 only: the fused kernels run fp32 products, so a
 *  bf16 run takes the op-by-op path (its GEMMs go to gemmBf16). */
let fusedMaxD = FUSED_MAX_D;

/** Tests: set the fused path's limit (0: never fused); returns the previous one. */
export function setFusedMaxD(d: number): number {
  const prev = fusedMaxD;
  fusedMaxD = d;
  return prev;
}

const useFused = (D: number): boolean => D <= fusedMaxD && gemmPrecision() === 'fp32';

function blockForward(
  c: TrmConfig,
  d: Dims,
  s: BlockScratch,
  ba: BlockActs,
  h: F32T,
  w: BlockWeights,
  keep = true,
): void {
  const { B, S, D, I, Is, H, hd } = d,
    N = B * S,
    eps = c.rms_norm_eps,
    fused = useFused(D);
  // keep = false (no backward follows): the fused kernels leave gateUp and h alone (cache-resident
  // per-thread scratch instead), the op-by-op path writes no pre-activation
  if (c.mlp_t && fused) {
    const m = ba.mixer as TokenMixerActs;
    tokenMixerNormForward(
      ba.n1,
      ba.rstd1,
      f32Act(m.gateUp),
      f32Act(m.h),
      s.r,
      h,
      w.mlptGateUp!,
      w.mlptDown!,
      B,
      S,
      D,
      Is,
      eps,
      keep,
    );
  } else if (c.mlp_t) {
    tokenMixerForward(s.r, ba.mixer as TokenMixerActs, h, mixerWeights(w), { B, S, D, Is }, keep);
    add(s.r, s.r, h, N * D);
    rmsnormSeqForward(ba.n1, ba.rstd1, s.r, B, S, D, eps);
  } else {
    attentionForward(
      s.r,
      ba.mixer as AttentionActs,
      h,
      { qkv: w.qkv!, o: w.o! },
      s.rope,
      { B, S, D, H, hd },
      s.mix as AttentionScratch,
    );
    add(s.r, s.r, h, N * D);
    rmsnormForward(ba.n1, ba.rstd1, s.r, N, D, eps);
  }
  if (fused) {
    mlpNormForward(
      ba.n2,
      ba.rstd2,
      f32Act(ba.mlp.gateUp),
      f32Act(ba.mlp.h),
      s.r,
      ba.n1,
      w.mlpGateUp,
      w.mlpDown,
      N,
      D,
      I,
      eps,
      keep,
    );
    return;
  }
  mlpForward(s.r, ba.mlp, ba.n1, mlpWeights(w), { N, D, I }, keep);
  add(s.r, s.r, ba.n1, N * D);
  rmsnormForward(ba.n2, ba.rstd2, s.r, N, D, eps);
}

/** The token mixer's weights transposed as the fused backward reads them: (Is, S) and (S, 2Is). */
function transposeMixerWeights(d: Dims, w: BlockWeights, wt: { down: F32T; gateUp: F32T }): void {
  transpose(wt.down, w.mlptDown!, d.S, d.Is);
  transpose(wt.gateUp, w.mlptGateUp!, 2 * d.Is, d.S);
}

/** blockBackward through the fused half-block kernels (mlp_t, D <= fusedMaxD): each half is one
 *  call for its row- or item-local chain, then the weight gradients as GEMMs over all rows. The
 *  same arithmetic as the op-by-op path (bitwise, up to the sign of an exact zero in d(n1)). */
function blockBackwardFused(
  d: Dims,
  s: BlockScratch,
  ba: BlockActs,
  h: F32T,
  w: BlockWeights,
  g: BlockWeights,
  dinp: F32T,
  dout: F32T,
  wt: { down: F32T; gateUp: F32T } | null,
  fresh: boolean,
): void {
  const { B, S, D, I, Is } = d,
    N = B * S,
    m = ba.mixer as TokenMixerActs,
    x = s.mix as TokenMixerScratch;
  // n2 = rms(n1 + mlp(n1)): d(n1) = dr + mlp'(dr), dr into s.r (s.dn1 written fresh)
  mlpNormBackward(
    s.dn1,
    s.r,
    s.mlp.dh,
    f32Act(s.mlp.dgateUp),
    dout,
    ba.n2,
    ba.rstd2,
    f32Act(ba.mlp.gateUp),
    w.mlpGateUp,
    w.mlpDown,
    N,
    D,
    I,
    true,
  );
  gemm({ A: s.r, B: ba.mlp.h, C: g.mlpDown, M: D, N: I, K: N, transA: true, beta: 1 });
  gemm({ A: s.mlp.dgateUp, B: ba.n1, C: g.mlpGateUp, M: 2 * I, N: D, K: N, transA: true, beta: 1 });
  // n1 = rms(h + mixer(h)): d(h) += dr + mixer'(dr)
  if (!wt) {
    wt = { down: x.wDownT, gateUp: x.wGateUpT };
    transposeMixerWeights(d, w, wt);
  }
  tokenMixerNormBackward(
    dinp,
    s.r,
    x.dh,
    f32Act(x.dgateUp),
    s.dn1,
    ba.n1,
    ba.rstd1,
    f32Act(m.gateUp),
    h,
    w.mlptGateUp!,
    wt.gateUp,
    wt.down,
    B,
    S,
    D,
    Is,
    fresh,
  );
  // the mixer's weight gradients: sums over the items (the op-by-op path's kernel)
  mixerWeightGrad(g.mlptDown!, s.r, m.h, S, Is, D, B, S * D, Is * D);
  mixerWeightGrad(g.mlptGateUp!, x.dgateUp, h, 2 * Is, S, D, B, 2 * Is * D, S * D);
}

/** dinp (d of the block input h) += from dout (d of the block output), or = with `fresh` (dinp's
 *  contents unread); parameter gradients +=. */
function blockBackward(
  c: TrmConfig,
  d: Dims,
  s: BlockScratch,
  ba: BlockActs,
  h: F32T,
  w: BlockWeights,
  g: BlockWeights,
  dinp: F32T,
  dout: F32T,
  wt: { down: F32T; gateUp: F32T } | null,
  fresh: boolean,
): void {
  if (c.mlp_t && useFused(d.D)) {
    blockBackwardFused(d, s, ba, h, w, g, dinp, dout, wt, fresh);
    return;
  }
  const { B, S, D, I, Is, H, hd } = d,
    N = B * S;
  if (fresh) fill(dinp, 0, N * D);
  // n2 = rms(n1 + mlp(n1)): d(n1) = dr + mlp'(dr)
  fill(s.r, 0, N * D);
  rmsnormBackward(s.r, dout, ba.n2, ba.rstd2, N, D);
  copy(s.dn1, s.r, N * D);
  mlpBackward(s.dn1, mlpWeights(g), s.r, ba.mlp, ba.n1, mlpWeights(w), { N, D, I }, s.mlp);
  // n1 = rms(h + mixer(h)): d(h) += dr + mixer'(dr)
  fill(s.r, 0, N * D);
  if (c.mlp_t) rmsnormSeqBackward(s.r, s.dn1, ba.n1, ba.rstd1, B, S, D);
  else rmsnormBackward(s.r, s.dn1, ba.n1, ba.rstd1, N, D);
  add(dinp, dinp, s.r, N * D);
  if (c.mlp_t) {
    const z = { B, S, D, Is };
    tokenMixerBackward(
      dinp,
      mixerWeights(g),
      s.r,
      ba.mixer as TokenMixerActs,
      h,
      mixerWeights(w),
      z,
      s.mix as TokenMixerScratch,
    );
  } else {
    attentionBackward(
      dinp,
      { qkv: g.qkv!, o: g.o! },
      s.r,
      ba.mixer as AttentionActs,
      h,
      { qkv: w.qkv!, o: w.o! },
      s.rope,
      { B, S, D, H, hd },
      s.mix as AttentionScratch,
    );
  }
}

// ---- one net call ------------------------------------------------------------------------------

/** f applied to na.inp (= h + u, already filled); returns the output view (last block's n2).
 *  keep = false: no backward will read na (kernels may skip saving what only the backward needs). */
export function netForward(c: TrmConfig, a: StepActs, na: NetActs, w: Weights, keep = true): F32T {
  let h = na.inp;
  for (let i = 0; i < c.L_layers; i++) {
    blockForward(c, a.d, a.block, na.blocks[i], h, w.layers[i], keep);
    h = na.blocks[i].n2;
  }
  return h;
}

/** dinp (d of na.inp) += from dout (d of the call's output), or = with opts.fresh (dinp's contents
 *  unread); parameter gradients += into g. dinp and dout must be different tensors.
 *  opts.transposed: a.mixerT already holds w's token-mixer weights transposed (mixerTransposes; one
 *  backward's calls share them), else each block makes its own. */
export function netBackward(
  c: TrmConfig,
  a: StepActs,
  na: NetActs,
  w: Weights,
  g: Weights,
  dinp: F32T,
  dout: F32T,
  opts: { transposed?: boolean; fresh?: boolean } = {},
): void {
  let d = dout;
  for (let i = c.L_layers - 1; i >= 0; i--) {
    const into = i === 0 ? dinp : a.dmid[i % 2];
    blockBackward(
      c,
      a.d,
      a.block,
      na.blocks[i],
      i === 0 ? na.inp : na.blocks[i - 1].n2,
      w.layers[i],
      g.layers[i],
      into,
      d,
      opts.transposed && a.mixerT ? a.mixerT[i] : null,
      i > 0 || opts.fresh === true,
    );
    d = into;
  }
}

// ---- the recursion -----------------------------------------------------------------------------

/** One recursion (spec 1.1): n times z <- f(z + (y + x)), then y <- f(y + z). Calls use a.calls[k]
 *  when `keep`, else a.calls[0] as scratch (nothing kept). y and z (B, S, D) are updated in place;
 *  with `damping` / `train_noise` each update is EqR's damped noisy one (damping.ts), its noise
 *  drawn from `noise`. */
export function latentRecursion(
  c: TrmConfig,
  a: StepActs,
  w: Weights,
  x: F32T,
  y: F32T,
  z: F32T,
  keep: boolean,
  noise: Rng | null = null,
): void {
  const n = c.L_cycles,
    size = sizeOf(y);
  // Without damping and noise z is each call's output itself: the next call reads it in place (its
  // output view, which that call overwrites only after its input sum has read it) and z gets one copy
  // per recursion instead of one per call.
  const plain = !usesDamping(c);
  let zv = z;
  for (let i = 0; i < n; i++) {
    const na = a.calls[keep ? i : 0];
    add3(na.inp, y, x, zv, size); // (y + x) + z, the same bits as z + (y + x)
    const f = netForward(c, a, na, w, keep);
    if (plain) zv = f;
    else updateLatent(c, a, z, f, noise);
  }
  if (zv !== z) copy(z, zv, size);
  const na = a.calls[keep ? n : 0];
  add(na.inp, y, z, size);
  updateLatent(c, a, y, netForward(c, a, na, w, keep), noise);
}

/** One supervision step's recursion (spec 1.1): T-1 recursions without gradient, then one whose
 *  n+1 calls keep their activations for deepRecursionBackward (keep = false: no backward follows,
 *  an evaluation). y, z become the new carry. */
export function deepRecursion(
  c: TrmConfig,
  a: StepActs,
  w: Weights,
  x: F32T,
  y: F32T,
  z: F32T,
  noise: Rng | null = null,
  keep = true,
): void {
  for (let t = 0; t < c.H_cycles - 1; t++) latentRecursion(c, a, w, x, y, z, false, noise);
  latentRecursion(c, a, w, x, y, z, keep, noise);
}

/** The fused backward's transposed token-mixer weights of every layer into a.mixerT, once for all
 *  the calls of one backward (the weights do not change within it); false where none are used. */
function mixerTransposes(c: TrmConfig, a: StepActs, w: Weights): boolean {
  // (allocActs gives every mlp_t config a tensor per layer: a device that freezes the weights keys its
  // packs by address, so the layers' transposes cannot share one)
  if (!c.mlp_t || !a.mixerT || !useFused(a.d.D)) return false;
  for (let i = 0; i < c.L_layers; i++) transposeMixerWeights(a.d, w.layers[i], a.mixerT[i]);
  return true;
}

/** Backward through the last recursion: a.dh = d(new y) on entry; on return a.dx = d(x) (the
 *  carry that entered the recursion is detached, so its gradient is dropped). */
export function deepRecursionBackward(c: TrmConfig, a: StepActs, w: Weights, g: Weights): void {
  const n = c.L_cycles,
    size = sizeOf(a.dh);
  let dout = a.dh,
    dinp = a.dh2;
  fill(a.dx, 0, size);
  const transposed = mixerTransposes(c, a, w);
  for (let i = n; i >= 0; i--) {
    // d(inp_i): inp_n = y + z_n, inp_i = (y + x) + z_i; a damped call passes (1 - d) dout
    netBackward(c, a, a.calls[i], w, g, dinp, dampedOutputGrad(c, a, dout), { transposed, fresh: true });
    if (i < n) add(a.dx, a.dx, dinp, size); // the z-updates' (y + x) part is d(x)
    if (i < n) addSkipGrad(c, a, dinp, dout); // damped z-update: d(z_i) += d * d(z_{i+1}) (y's input is detached)
    [dout, dinp] = [dinp, dout]; // d(z_i) = d(inp_i) flows into call i-1
  }
}
