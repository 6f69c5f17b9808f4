// kernel_avx2.cpp: the AVX2+FMA micro-kernel (6 x 16: 12 ymm accumulators) and FMA peak loop.
// Same rules as kernel_avx512.cpp: target pragma, C headers only.
#pragma GCC target("avx2,fma")
#include <immintrin.h>
#include <time.h>

#include "gemm.h"

namespace trm {
namespace {

constexpr int MR = 6, NR = 16;

// Every loop over the accumulator array is fully unrolled (the pragmas): with one loop left rolled
// (the edge tile's spill below) GCC kept the array in memory and stored all 12 accumulators every k
// step, which ran the tile at a quarter of the FMA peak on Zen 3 (22 vs 54 GFLOP/s, one thread).
void ukr_6x16(long kc, const float* __restrict pa, const float* __restrict pb, float* c, long ldc,
              long m, long n, float alpha, float beta) {
  __m256 acc[MR][2];
#pragma GCC unroll 6
  for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (long k = 0; k < kc; k++) {
    __m256 b0 = _mm256_load_ps(pb), b1 = _mm256_load_ps(pb + 8);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
      __m256 a = _mm256_broadcast_ss(pa + i);
      acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
    }
    pa += MR;
    pb += NR;
  }
  if (m == MR && n == NR) {
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
      float* ci = c + i * ldc;
      __m256 r0 = _mm256_mul_ps(va, acc[i][0]), r1 = _mm256_mul_ps(va, acc[i][1]);
      if (beta != 0.f) {
        r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci), r0);
        r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8), r1);
      }
      _mm256_storeu_ps(ci, r0);
      _mm256_storeu_ps(ci + 8, r1);
    }
    return;
  }
  // Edge tile: spill to a buffer, then write the valid part with the same rounding as above
  // (alpha*acc first, then one fma with beta*C) so edges and interior agree bit for bit.
  alignas(32) float t[MR][NR];
  __m256 va = _mm256_set1_ps(alpha);
#pragma GCC unroll 6
  for (int i = 0; i < MR; i++) {
    _mm256_store_ps(t[i], _mm256_mul_ps(va, acc[i][0]));
    _mm256_store_ps(t[i] + 8, _mm256_mul_ps(va, acc[i][1]));
  }
  for (long i = 0; i < m; i++)
    for (long j = 0; j < n; j++)
      c[i * ldc + j] = beta != 0.f ? __builtin_fmaf(beta, c[i * ldc + j], t[i][j]) : t[i][j];
}

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

}  // namespace

GemmKernelInfo gemm_kernel_avx2() { return {ukr_6x16, nullptr, nullptr, nullptr, nullptr, MR, NR, 6 * 48, 512, 4096, "avx2 6x16"}; }

double fma_peak_avx2(double seconds) {
  __m256 x[12];
  for (int i = 0; i < 12; i++) x[i] = _mm256_set1_ps(1.0f + i * 1e-3f);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  long iters = 0;
  double t0 = now_s(), t;
  do {
    for (int r = 0; r < 4096; r++) {
#pragma GCC unroll 12
      for (int i = 0; i < 12; i++) x[i] = _mm256_fmadd_ps(x[i], a, b);

    }
    iters += 4096;
    t = now_s();
  } while (t - t0 < seconds);
  __m256 s = x[0];
  for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, x[i]);
  __asm__ volatile("" : : "x"(s));
  return iters * 12.0 * 16.0 / (t - t0) * 1e-9;
}

}  // namespace trm
