/**
 * compose.ts: the fused half-block kernels (backend.ts: tokenMixerNormForward, mlpNormForward) as
 * the op-by-op sequence they fuse, over any backend's kernels (generic in the tensor type): the
 * reference backend composes its kernels (ref/fused.ts), the WebGPU device its dispatches. The
 * sequence is the one the model ran before fusion; native/ops/fused.cpp gives its bits in one
 * call. Device-free.
 */
import type { KernelBackend } from './backend.js';

export type Parts<F> = Pick<
  KernelBackend<F, unknown, unknown>,
  | 'gemm'
  | 'swigluForward'
  | 'swigluBackward'
  | 'add'
  | 'fill'
  | 'rmsnormSeqForward'
  | 'rmsnormForward'
  | 'rmsnormSeqBackward'
  | 'rmsnormBackward'
>;

/** linearSwiglu (backend.ts) as the op-by-op pair: gate_up product into gateUp, then SwiGLU. */
export function linearSwigluVia<F>(
  k: Pick<KernelBackend<F, unknown, unknown>, 'gemm' | 'gemmBf16' | 'swigluForward'>,
  out: F,
  gateUp: F,
  inp: F,
  weight: F,
  N: number,
  D: number,
  I: number,
  _keep: boolean,
  bf16: boolean,
): void {
  (bf16 ? k.gemmBf16 : k.gemm).call(k, false, true, N, 2 * I, D, 1, inp, D, 0, weight, D, 0, 0, gateUp, 2 * I, 0, 1);
  k.swigluForward(out, gateUp, N, I);
}

/** linearSwigluBackward (backend.ts) as the op-by-op sequence: dh, then SwiGLU's backward. */
export function linearSwigluBackwardVia<F>(
  k: Pick<KernelBackend<F, unknown, unknown>, 'gemm' | 'gemmBf16' | 'fill' | 'swigluBackward'>,
  dgateUp: F,
  dh: F,
  dout: F,
  gateUp: F,
  weight: F,
  N: number,
  D: number,
  I: number,
  bf16: boolean,
  fresh: boolean,
): void {
  (bf16 ? k.gemmBf16 : k.gemm).call(k, false, false, N, I, D, 1, dout, D, 0, weight, I, 0, 0, dh, I, 0, 1);
  if (fresh) k.fill(dgateUp, 0, N * 2 * I);
  k.swigluBackward(dgateUp, dh, gateUp, N, I);
}

/** gemmSwigluBackward (backend.ts) as the op-by-op sequence: dh per item, then SwiGLU's backward. */
export function gemmSwigluBackwardVia<F>(
  k: Pick<KernelBackend<F, unknown, unknown>, 'gemm' | 'gemmBf16' | 'fill' | 'swigluBackward'>,
  dgateUp: F,
  dh: F,
  dout: F,
  gateUp: F,
  weightT: F,
  H: number,
  N: number,
  K: number,
  batch: number,
  bf16: boolean,
  fresh: boolean,
): void {
  (bf16 ? k.gemmBf16 : k.gemm).call(k, false, false, H, N, K, 1, weightT, K, 0, dout, N, K * N, 0, dh, N, H * N, batch);
  if (fresh) k.fill(dgateUp, 0, batch * 2 * H * N);
  k.swigluBackward(dgateUp, dh, gateUp, batch, H * N);
}

/** gemmSumNT (backend.ts) as gemm's batch sum: transB, strideC = 0 (items summed in order). */
export function gemmSumNTVia<F>(
  k: Pick<KernelBackend<F, unknown, unknown>, 'gemm'>,
  C: F,
  A: F,
  B: F,
  M: number,
  N: number,
  K: number,
  batch: number,
  strideA: number,
  strideB: number,
  beta: number,
): void {
  k.gemm(false, true, M, N, K, 1, A, K, strideA, B, K, strideB, beta, C, N, 0, batch);
}

/** gemmSumNTBf16 (backend.ts) as gemmBf16's batch sum: transB, strideC = 0 (items summed in order). */
export function gemmSumNTBf16Via<F, H>(
  k: Pick<KernelBackend<F, unknown, unknown, H>, 'gemmBf16'>,
  C: F,
  A: F | H,
  B: F | H,
  M: number,
  N: number,
  K: number,
  batch: number,
  strideA: number,
  strideB: number,
  beta: number,
): void {
  k.gemmBf16(false, true, M, N, K, 1, A, K, strideA, B, K, strideB, beta, C, N, 0, batch);
}

/** r_b = W_down (S, Is) @ swiglu(W_gu (2Is, S) @ inp_b) + inp_b for every item b; out, rstd = the
 *  sequence-axis RMSNorm of r. Saves gateUp (B, 2Is, D) and h (B, Is, D); r (B, S, D) is scratch.
 *  (_keep: the contract's keep; the composition writes gateUp and h either way, which keep = false allows.) */
export function tokenMixerNormVia<F>(
  k: Parts<F>,
  out: F,
  rstd: F,
  gateUp: F,
  h: F,
  r: F,
  inp: F,
  wGateUp: F,
  wDown: F,
  B: number,
  S: number,
  D: number,
  Is: number,
  eps: number,
  _keep = true,
): void {
  k.gemm(false, false, 2 * Is, D, S, 1, wGateUp, S, 0, inp, D, S * D, 0, gateUp, D, 2 * Is * D, B);
  k.swigluForward(h, gateUp, B, Is * D);
  k.gemm(false, false, S, D, Is, 1, wDown, Is, 0, h, D, Is * D, 0, r, D, S * D, B);
  k.add(r, r, inp, B * S * D);
  k.rmsnormSeqForward(out, rstd, r, B, S, D, eps);
}

/** r = swiglu(inp @ W_gu^T) @ W_down^T + inp over N rows; out, rstd = the hidden-axis RMSNorm of r.
 *  Saves gateUp (N, 2I) and h (N, I); r (N, D) is scratch. */
export function mlpNormVia<F>(
  k: Parts<F>,
  out: F,
  rstd: F,
  gateUp: F,
  h: F,
  r: F,
  inp: F,
  wGateUp: F,
  wDown: F,
  N: number,
  D: number,
  I: number,
  eps: number,
  _keep = true,
): void {
  k.gemm(false, true, N, 2 * I, D, 1, inp, D, 0, wGateUp, D, 0, 0, gateUp, 2 * I, 0, 1);
  k.swigluForward(h, gateUp, N, I);
  k.gemm(false, true, N, D, I, 1, h, I, 0, wDown, I, 0, 0, r, D, 0, 1);
  k.add(r, r, inp, N * D);
  k.rmsnormForward(out, rstd, r, N, D, eps);
}

/** mlpNormForward's backward without the weight gradients (backend.ts). */
export function mlpNormBackwardVia<F>(
  k: Parts<F>,
  dinp: F,
  dr: F,
  dh: F,
  dgateUp: F,
  dout: F,
  out: F,
  rstd: F,
  gateUp: F,
  wGateUp: F,
  wDown: F,
  N: number,
  D: number,
  I: number,
  fresh: boolean,
): void {
  if (fresh) k.fill(dinp, 0, N * D);
  k.fill(dr, 0, N * D);
  k.rmsnormBackward(dr, dout, out, rstd, N, D);
  k.gemm(false, false, N, I, D, 1, dr, D, 0, wDown, I, 0, 0, dh, I, 0, 1);
  k.fill(dgateUp, 0, N * 2 * I);
  k.swigluBackward(dgateUp, dh, gateUp, N, I);
  k.add(dinp, dinp, dr, N * D);
  k.gemm(false, false, N, D, 2 * I, 1, dgateUp, 2 * I, 0, wGateUp, D, 0, 1, dinp, D, 0, 1);
}

/** tokenMixerNormForward's backward without the weight gradients (backend.ts). */
export function tokenMixerNormBackwardVia<F>(
  k: Parts<F>,
  dinp: F,
  dr: F,
  dh: F,
  dgateUp: F,
  dout: F,
  out: F,
  rstd: F,
  gateUp: F,
  _inp: F,
  _wGateUp: F,
  wGateUpT: F,
  wDownT: F,
  B: number,
  S: number,
  D: number,
  Is: number,
  fresh: boolean,
): void {
  // (_inp, _wGateUp: what a backend that does not keep gateUp recomputes it from; this sequence's
  // forward always writes it)
  if (fresh) k.fill(dinp, 0, B * S * D);
  k.fill(dr, 0, B * S * D);
  k.rmsnormSeqBackward(dr, dout, out, rstd, B, S, D);
  k.gemm(false, false, Is, D, S, 1, wDownT, S, 0, dr, D, S * D, 0, dh, D, Is * D, B);
  k.fill(dgateUp, 0, B * 2 * Is * D);
  k.swigluBackward(dgateUp, dh, gateUp, B, Is * D);
  k.add(dinp, dinp, dr, B * S * D);
  k.gemm(false, false, S, D, 2 * Is, 1, wGateUpT, 2 * Is, 0, dgateUp, D, 2 * Is * D, 1, dinp, D, S * D, B);
}
