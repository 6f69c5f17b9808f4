// sum_nt.cpp: gemm_sum_nt (sum_nt.h): the driver, and the portable tile (16 partial sums per
// element, mul then add: the same order as the AVX-512 and AVX2 tiles, which fuse the multiply-add,
// so the paths agree to rounding, each bitwise stable across thread counts).
#include "sum_nt.h"
#include "../aligned_buf.h"

#include <cstdlib>

#include "../cpu_features.h"
#include "../threadpool.h"

namespace trm {
namespace {

inline float reduce16(const float* v) {
  float h[8], q[4], p[2];
  for (int i = 0; i < 8; i++) h[i] = v[i] + v[i + 8];
  for (int i = 0; i < 4; i++) q[i] = h[i] + h[i + 4];
  for (int i = 0; i < 2; i++) p[i] = q[i] + q[i + 2];
  return p[0] + p[1];
}

// red[p * Q + q] for rows p < np of Pp against rows q < Q of Qp, as sum_nt_rows_avx512 without FMA
void rows_generic(float* red, long np, long Q, const float* Pp, long sp, const float* Qp, long sq, long K, long batch) {
  for (long p = 0; p < np; p++)
    for (long q = 0; q < Q; q++) {
      float a[16] = {};
      for (long b = 0; b < batch; b++) {
        const float* x = Pp + b * sp + p * K;
        const float* y = Qp + b * sq + q * K;
        for (long k = 0; k < K; k++) a[k & 15] = a[k & 15] + x[k] * y[k];
        for (long k = K; k & 15; k++) a[k & 15] = a[k & 15] + 0.f;  // the AVX-512 tile's masked lanes
      }
      red[p * Q + q] = reduce16(a);
    }
}

thread_local AlignedBuf tl_red, tl_part;

}  // namespace

void gemm_sum_nt(float* C, const float* A, const float* B, long M, long N, long K, long batch, long stride_a,
                 long stride_b, float beta) {
  if (M == 0 || N == 0) return;
  // P: the longer operand, its rows split across threads in whole tiles of kSumNtP; Q: the shorter
  const bool a_is_p = M >= N;
  const long P = a_is_p ? M : N, Q = a_is_p ? N : M;
  const float* Pp = a_is_p ? A : B;
  const float* Qp = a_is_p ? B : A;
  const long sp = a_is_p ? stride_a : stride_b, sq = a_is_p ? stride_b : stride_a;
  const long ptiles = (P + kSumNtP - 1) / kSumNtP;
  const Isa isa = active_isa();
  const double flops = 2.0 * M * N * K * batch;
  parallel_run([&](int ith, int nth) {
    long t0, t1;
    split_range(ptiles, ith, nth, &t0, &t1);
    const long r0 = t0 * kSumNtP, r1 = t1 * kSumNtP < P ? t1 * kSumNtP : P, np = r1 - r0;
    if (np <= 0) return;
    float* red = tl_red.get((size_t)np * Q);
    if (K == 0 || batch == 0) {
      for (long i = 0; i < np * Q; i++) red[i] = 0.f;
    } else if (isa == Isa::Avx512) {
      sum_nt_rows_avx512(red, tl_part.get((size_t)np * Q * 16), np, Q, Pp + r0 * K, sp, Qp, sq, K, batch);
    } else if (isa == Isa::Avx2) {
      sum_nt_rows_avx2(red, tl_part.get((size_t)np * Q * 16), np, Q, Pp + r0 * K, sp, Qp, sq, K, batch);
    } else {
      rows_generic(red, np, Q, Pp + r0 * K, sp, Qp, sq, K, batch);
    }
    for (long p = 0; p < np; p++)
      for (long q = 0; q < Q; q++) {
        float* c = a_is_p ? C + (r0 + p) * N + q : C + q * N + r0 + p;
        *c = beta == 0.f ? red[p * Q + q] : beta * *c + red[p * Q + q];
      }
  }, flops < 2e5 ? 1 : 0);
}

}  // namespace trm
