// kernel_avx512.cpp: the AVX-512 micro-kernel (14 x 32: 28 zmm accumulators, 2 for B, 1 for the
// broadcast of A) and the register-only FMA peak loop. Compiled for AVX-512 by a target pragma so
// the rest of the addon stays baseline x86-64; only C headers are included after the pragma, so
// no template or inline function compiled here can leak into baseline code through the linker.
// _mm512_reduce_add_ps uses an undefined vector on purpose; GCC 12 warns about it.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
#include <immintrin.h>
#include <time.h>

#include "gemm.h"

namespace trm {
namespace {

constexpr int MR = 14, NR = 32;

void ukr_14x32(long kc, const float* __restrict pa, const float* __restrict pb, float* c, long ldc,
               long m, long n, float alpha, float beta) {
  __m512 acc[MR][2];
  for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (long k = 0; k < kc; k++) {
    __m512 b0 = _mm512_load_ps(pb), b1 = _mm512_load_ps(pb + 16);
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++) {
      __m512 a = _mm512_set1_ps(pa[i]);
      acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
    }
    pa += MR;
    pb += NR;
  }
  __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  __mmask16 m0 = n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
  __mmask16 m1 = n >= 32 ? (__mmask16)0xffff : n <= 16 ? (__mmask16)0 : (__mmask16)((1u << (n - 16)) - 1);
#pragma GCC unroll 14
  for (int i = 0; i < MR; i++) {
    if (i >= m) break;
    float* ci = c + i * ldc;
    __m512 r0 = _mm512_mul_ps(va, acc[i][0]), r1 = _mm512_mul_ps(va, acc[i][1]);
    if (beta != 0.f) {
      r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, ci), r0);
      r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, ci + 16), r1);
    }
    _mm512_mask_storeu_ps(ci, m0, r0);
    _mm512_mask_storeu_ps(ci + 16, m1, r1);
  }
}

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

}  // namespace

GemmKernelInfo gemm_kernel_avx512() { return {ukr_14x32, MR, NR, 14 * 24, 256, 4096, "avx512 14x32"}; }

double fma_peak_avx512(double seconds) {
  // 16 independent chains hide the 4-cycle FMA latency on two FMA ports with room to spare.
  __m512 x[16];
  for (int i = 0; i < 16; i++) x[i] = _mm512_set1_ps(1.0f + i * 1e-3f);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  long iters = 0;
  double t0 = now_s(), t;
  do {
    for (int r = 0; r < 4096; r++) {
#pragma GCC unroll 16
      for (int i = 0; i < 16; i++) x[i] = _mm512_fmadd_ps(x[i], a, b);

    }
    iters += 4096;
    t = now_s();
  } while (t - t0 < seconds);
  float sink = 0;
  for (int i = 0; i < 16; i++) sink += _mm512_reduce_add_ps(x[i]);
  __asm__ volatile("" : : "x"(sink));
  return iters * 16.0 * 32.0 / (t - t0) * 1e-9;
}

}  // namespace trm
