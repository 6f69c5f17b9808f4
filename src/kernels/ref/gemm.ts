/**
 * ref/gemm.ts: the reference GEMM, a plain triple loop with the native kernel's exact contract
 * (native/gemm/gemm.h): row-major, transposes by index, batch strides, stride_c = 0 accumulates,
 * beta = 0 never reads C.
 */
import type { F32 } from '../backend.js';

export function gemm(
  transA: boolean,
  transB: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: F32,
  lda: number,
  strideA: number,
  B: F32,
  ldb: number,
  strideB: number,
  beta: number,
  C: F32,
  ldc: number,
  strideC: number,
  batch: number,
): void {
  const row = new Float64Array(N);
  for (let b = 0; b < batch; b++) {
    const a0 = b * strideA,
      b0 = b * strideB,
      c0 = b * strideC;
    const bet = strideC === 0 && b > 0 ? 1 : beta;
    for (let i = 0; i < M; i++) {
      row.fill(0);
      for (let k = 0; k < K; k++) {
        const a = transA ? A[a0 + k * lda + i] : A[a0 + i * lda + k];
        if (transB) for (let j = 0; j < N; j++) row[j] += a * B[b0 + j * ldb + k];
        else {
          const bk = b0 + k * ldb;
          for (let j = 0; j < N; j++) row[j] += a * B[bk + j];
        }
      }
      const ci = c0 + i * ldc;
      for (let j = 0; j < N; j++) C[ci + j] = alpha * row[j] + (bet === 0 ? 0 : bet * C[ci + j]);
    }
  }
}
