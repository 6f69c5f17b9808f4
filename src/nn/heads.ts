/**
 * heads.ts: the output heads on y (trm.py:158-160, 212-218): lm_head (V, D) on positions P..S-1
 * (the prefix is dropped) and q_head (2, D) + bias on position 0 (q_halt, q_continue).
 */
import { gemm } from '../kernels/index.js';

/** logits (B, L, V) = y[:, P:] (B, L, D) @ W^T. */
export function lmHeadForward(logits: Float32Array, y: Float32Array, w: Float32Array, B: number, S: number, P: number, D: number, V: number): void {
  const L = S - P;
  gemm({ A: y.subarray(P * D), B: w, C: logits, M: L, N: V, K: D, transB: true, batch: B, strideA: S * D, strideB: 0, strideC: L * V });
}

/** dy[:, P:] += dlogits @ W; dW += sum_b dlogits_b^T @ y_b[P:]. */
export function lmHeadBackward(dy: Float32Array, dw: Float32Array, dlogits: Float32Array, y: Float32Array, w: Float32Array,
  B: number, S: number, P: number, D: number, V: number): void {
  const L = S - P;
  gemm({ A: dlogits, B: w, C: dy.subarray(P * D), M: L, N: D, K: V, batch: B, strideA: L * V, strideB: 0, strideC: S * D, beta: 1 });
  gemm({ A: dlogits, B: y.subarray(P * D), C: dw, M: V, N: D, K: L, transA: true, batch: B, strideA: L * V, strideB: S * D, strideC: 0, beta: 1 });
}

/** q (B, 2) = y[:, 0] @ W^T + bias; column 0 is q_halt, column 1 q_continue. */
export function qHeadForward(q: Float32Array, y: Float32Array, w: Float32Array, bias: Float32Array, B: number, S: number, D: number): void {
  gemm({ A: y, B: w, C: q, M: B, N: 2, K: D, transB: true, lda: S * D });
  for (let b = 0; b < B; b++) { q[2 * b] += bias[0]; q[2 * b + 1] += bias[1]; }
}

/** dy[:, 0] += dq @ W; dW += dq^T @ y[:, 0]; dbias += sum_b dq. */
export function qHeadBackward(dy: Float32Array, dw: Float32Array, dbias: Float32Array, dq: Float32Array, y: Float32Array, w: Float32Array,
  B: number, S: number, D: number): void {
  gemm({ A: dq, B: w, C: dy, M: B, N: D, K: 2, ldc: S * D, beta: 1 });
  gemm({ A: dq, B: y, C: dw, M: 2, N: D, K: B, transA: true, ldb: S * D, beta: 1 });
  let b0 = 0, b1 = 0;
  for (let b = 0; b < B; b++) { b0 += dq[2 * b]; b1 += dq[2 * b + 1]; }
  dbias[0] += b0; dbias[1] += b1;
}
