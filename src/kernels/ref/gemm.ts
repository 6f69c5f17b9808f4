/**
 * ref/gemm.ts: the reference GEMM, a plain triple loop with the native kernel's exact contract
 * (native/gemm/gemm.h): row-major, transposes by index, batch strides, stride_c = 0 accumulates,
 * beta = 0 never reads C. gemmBf16: the same with every operand rounded to bfloat16 first.
 */
import type { F32 } from '../backend.js';

const f32buf = new Float32Array(1),
  u32buf = new Uint32Array(f32buf.buffer);

/** x rounded to the nearest bfloat16 (kept as a float32), as VCVTNE2PS2BF16 rounds: ties to even,
 *  denormals to signed zero, NaN stays (quiet) NaN, infinities stay. */
export function roundBf16(x: number): number {
  f32buf[0] = x;
  let u = u32buf[0];
  const e = u & 0x7f800000;
  if (e === 0) u &= 0x80000000;
  else if (e === 0x7f800000) u = u & 0x7fffff ? (u | 0x400000) & 0xffff0000 : u;
  else u = (u + 0x7fff + ((u >>> 16) & 1)) & 0xffff0000;
  u32buf[0] = u >>> 0;
  return f32buf[0];
}

/** The float64 answer a bf16 GEMM approximates, for checks of the kernels (one item): alpha *
 *  bf16(op(A)) * bf16(op(B)) + beta * C0, the products and sums exact in float64, as (M, N). */
export function gemmBf16Float64(
  ta: boolean,
  tb: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: F32,
  lda: number,
  B: F32,
  ldb: number,
  beta: number,
  C0: F32,
  ldc: number,
): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++)
        s += roundBf16(ta ? A[k * lda + i] : A[i * lda + k]) * roundBf16(tb ? B[j * ldb + k] : B[k * ldb + j]);
      out[i * N + j] = alpha * s + (beta === 0 ? 0 : beta * C0[i * ldc + j]);
    }
  return out;
}

/** The elements of a operand that the product reads, rounded to bf16 (a copy; `a` is unchanged). */
function roundedCopy(a: F32): F32 {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = roundBf16(a[i]);
  return out;
}

/** bf16 operands, sums in float64 here (the native kernel sums in fp32): the contract's reference. */
export function gemmBf16(
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
  if (M === 0 || N === 0 || batch === 0) return;
  gemm(
    transA,
    transB,
    M,
    N,
    K,
    alpha,
    K > 0 ? roundedCopy(A) : A,
    lda,
    strideA,
    K > 0 ? roundedCopy(B) : B,
    ldb,
    strideB,
    beta,
    C,
    ldc,
    strideC,
    batch,
  );
}

/** gemm (or gemmBf16) into [G; U] per item, then swigluForward's expression (ref/swiglu.ts). */
export function gemmSwiglu(
  out: F32,
  gateUp: F32 | null,
  inp: F32,
  weight: F32,
  H: number,
  N: number,
  K: number,
  batch: number,
  bf16: boolean,
): void {
  const gu = new Float32Array(2 * H * N);
  for (let b = 0; b < batch; b++) {
    const x = inp.subarray(b * K * N, (b + 1) * K * N);
    (bf16 ? gemmBf16 : gemm)(false, false, 2 * H, N, K, 1, weight, K, 0, x, N, 0, 0, gu, N, 0, 1);
    const o = b * H * N;
    for (let i = 0; i < H * N; i++) {
      const g = gu[i],
        u = gu[H * N + i];
      out[o + i] = (g / (1 + Math.exp(-g))) * u;
    }
    if (gateUp) gateUp.set(gu, b * 2 * H * N);
  }
}

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
