/**
 * heads.ts: the output heads on y (trm.py:158-160, 212-218): lm_head (V, D) on positions P..S-1
 * (the prefix is dropped) and q_head (2, D) + bias on position 0 (q_halt, q_continue).
 */
import { addBias, biasBackward, type F32T, gemm, sizeOf, view } from '../kernels/core.js';

/** y[:, P:] as the operand of a batched product (item stride S*D). */
const tokens = (y: F32T, P: number, D: number): F32T => view(y, P * D, sizeOf(y) - P * D);

/** logits (B, L, V) = y[:, P:] (B, L, D) @ W^T. */
export function lmHeadForward(
  logits: F32T,
  y: F32T,
  w: F32T,
  B: number,
  S: number,
  P: number,
  D: number,
  V: number,
): void {
  const L = S - P;
  gemm({
    A: tokens(y, P, D),
    B: w,
    C: logits,
    M: L,
    N: V,
    K: D,
    transB: true,
    batch: B,
    strideA: S * D,
    strideB: 0,
    strideC: L * V,
  });
}

/** dy[:, P:] += dlogits @ W; dW += sum_b dlogits_b^T @ y_b[P:]. */
export function lmHeadBackward(
  dy: F32T,
  dw: F32T,
  dlogits: F32T,
  y: F32T,
  w: F32T,
  B: number,
  S: number,
  P: number,
  D: number,
  V: number,
): void {
  const L = S - P;
  gemm({
    A: dlogits,
    B: w,
    C: tokens(dy, P, D),
    M: L,
    N: D,
    K: V,
    batch: B,
    strideA: L * V,
    strideB: 0,
    strideC: S * D,
    beta: 1,
  });
  gemm({
    A: dlogits,
    B: tokens(y, P, D),
    C: dw,
    M: V,
    N: D,
    K: L,
    transA: true,
    batch: B,
    strideA: L * V,
    strideB: S * D,
    strideC: 0,
    beta: 1,
  });
}

/** q (B, 2) = y[:, 0] @ W^T + bias; column 0 is q_halt, column 1 q_continue. */
export function qHeadForward(q: F32T, y: F32T, w: F32T, bias: F32T, B: number, S: number, D: number): void {
  gemm({ A: y, B: w, C: q, M: B, N: 2, K: D, transB: true, lda: S * D });
  addBias(q, bias, B, 2);
}

/** dy[:, 0] += dq @ W; dW += dq^T @ y[:, 0]; dbias += sum_b dq. */
export function qHeadBackward(
  dy: F32T,
  dw: F32T,
  dbias: F32T,
  dq: F32T,
  y: F32T,
  w: F32T,
  B: number,
  S: number,
  D: number,
): void {
  gemm({ A: dq, B: w, C: dy, M: B, N: D, K: 2, ldc: S * D, beta: 1 });
  gemm({ A: dq, B: y, C: dw, M: 2, N: D, K: B, transA: true, ldb: S * D, beta: 1 });
  biasBackward(dbias, dq, B, 2);
}
