/**
 * token-mixer.ts: the mlp_t token-mixing SwiGLU over the sequence axis (trm.py:86-93). The official
 * code transposes h (B, S, D) to (B, D, S) and applies a SwiGLU of width S; here no transpose is
 * made: per batch item b, gate_up (2Is, S) @ x_b (S, D) -> (2Is, D) is one batched GEMM sharing A
 * (strideA = 0) with SwiGLU in its epilogue (gemmSwiglu: gate block (Is, D) and up block (Is, D) of
 * an item meet in registers, h_b = silu(gate) * up is written, the pre-activation only when the
 * backward will need it); down (S, Is) @ h_b (Is, D) -> (S, D). Weight gradients are sums over b of
 * NT products (mixerWeightGrad): for small items (D <= 256, S <= 24) one gemmSumNT (gemmSumNTBf16 in a
 * bf16 run), each element one sum over all items and k; else batched GEMMs summed item by item
 * (strideC = 0).
 */
import {
  type F32T,
  gemm,
  gemmPrecision,
  gemmSumNT,
  gemmSumNTBf16,
  gemmSwiglu,
  gemmSwigluBackward,
  isBf16,
  type KeptT,
  transpose,
} from '../kernels/core.js';
import type { SwigluWeights } from './mlp.js';

export interface TokenMixerActs {
  gateUp: KeptT; // (B, 2Is, D) pre-activation (bf16 in a bf16 run: model/acts.ts)
  h: KeptT; // (B, Is, D) silu(gate) * up (the down product's operand)
}

export interface TokenMixerScratch {
  dh: F32T; // (B, Is, D)
  dgateUp: KeptT; // (B, 2Is, D) (bf16 in a bf16 run: read only by the two bf16 products after it)
  wDownT: F32T; // (Is, S) down_proj transposed
  wGateUpT: F32T; // (S, 2Is) gate_up_proj transposed
}

/** Sizes of one token-mixer call: B items of S positions x D features, Is hidden positions. */
export interface TokenMixerSizes {
  B: number;
  S: number;
  D: number;
  Is: number;
}

/** Up to this D and this sequence length S the mixer's weight gradients are one gemmSumNT each
 *  (gemmSumNTBf16 in a bf16 run): per item they are products short in k (K = D) with one side only S
 *  rows, which gemm's batch sum runs item by item through packed, padded tiles. With more rows
 *  (S >= 26) gemm's packed tiles are the faster of the two (docs/PERFORMANCE.md, "cpu-sudoku4, fourth
 *  session"; bf16 on Zen 5: S = 17 1.8-2.2x faster, S = 82 0.80-0.88x, "Speed II, thirty-fourth session"). */
export const SUM_NT_MAX_D = 256;
export const SUM_NT_MAX_S = 24;

/** dW (M, N) += sum over b < B of dy_b (M, D) @ x_b (N, D)^T, dy_b at b*strideDy, x_b at b*strideX:
 *  the token mixer's weight gradients (down: dr against h; gate_up: dgateUp against the input; the
 *  shorter side is S). The op-by-op and the fused path both come here, so they give the same bits. */
export function mixerWeightGrad(
  dW: F32T,
  dy: KeptT,
  x: KeptT,
  M: number,
  N: number,
  D: number,
  B: number,
  strideDy: number,
  strideX: number,
): void {
  // (bf16 tensors - a bf16 step's h and dgateUp - only ever meet bf16 products: gemmSumNTBf16 or the gemm below)
  const small = D <= SUM_NT_MAX_D && Math.min(M, N) <= SUM_NT_MAX_S;
  if (small && gemmPrecision() === 'fp32' && !isBf16(dy) && !isBf16(x))
    gemmSumNT(dW, dy, x, M, N, D, B, strideDy, strideX, 1);
  else if (small && gemmPrecision() === 'bf16') gemmSumNTBf16(dW, dy, x, M, N, D, B, strideDy, strideX, 1);
  else
    gemm({
      A: dy,
      B: x,
      C: dW,
      M,
      N,
      K: D,
      transB: true,
      batch: B,
      strideA: strideDy,
      strideB: strideX,
      strideC: 0,
      beta: 1,
    });
}

/** out (B, S, D) = mixer(inp (B, S, D)); w.gateUp (2Is, S), w.down (S, Is). keep = false: no
 *  backward follows (acts.gateUp is not written). */
export function tokenMixerForward(
  out: F32T,
  acts: TokenMixerActs,
  inp: F32T,
  w: SwigluWeights,
  z: TokenMixerSizes,
  keep = true,
): void {
  const { B, S, D, Is } = z,
    wDown = w.down;
  gemmSwiglu(acts.h, keep ? acts.gateUp : null, inp, w.gateUp, Is, D, S, B, gemmPrecision() === 'bf16');
  gemm({ A: wDown, B: acts.h, C: out, M: S, N: D, K: Is, batch: B, strideA: 0, strideB: Is * D, strideC: S * D });
}

/** dinp (B, S, D) += d/dinp; g.gateUp (2Is, S), g.down (S, Is) +=. */
export function tokenMixerBackward(
  dinp: F32T,
  g: SwigluWeights,
  dout: F32T,
  acts: TokenMixerActs,
  inp: F32T,
  w: SwigluWeights,
  z: TokenMixerSizes,
  s: TokenMixerScratch,
): void {
  const { B, S, D, Is } = z,
    wGateUp = w.gateUp,
    wDown = w.down,
    dwGateUp = g.gateUp,
    dwDown = g.down;
  // dW_down += sum_b dout_b (S, D) @ h_b^T (D, Is);  dh_b = W_down^T (Is, S) @ dout_b
  mixerWeightGrad(dwDown, dout, acts.h, S, Is, D, B, S * D, Is * D);
  // the shared A operands are transposed once here: a transposed shared A is repacked per item
  transpose(s.wDownT, wDown, S, Is);
  transpose(s.wGateUpT, wGateUp, 2 * Is, S);
  // dh_b = W_down^T @ dout_b with SwiGLU's backward in its epilogue: dgateUp written fresh, dh never stored
  gemmSwigluBackward(s.dgateUp, s.dh, dout, acts.gateUp, s.wDownT, Is, D, S, B, gemmPrecision() === 'bf16', true);
  // dW_gu += sum_b dgu_b (2Is, D) @ x_b^T (D, S);  dx_b += W_gu^T (S, 2Is) @ dgu_b
  mixerWeightGrad(dwGateUp, s.dgateUp, inp, 2 * Is, S, D, B, 2 * Is * D, S * D);
  gemm({
    A: s.wGateUpT,
    B: s.dgateUp,
    C: dinp,
    M: S,
    N: D,
    K: 2 * Is,
    batch: B,
    strideA: 0,
    strideB: 2 * Is * D,
    strideC: S * D,
    beta: 1,
  });
}
