// sum_nt.cpp: gemm_sum_nt (sum_nt.h): the driver, and the portable tile (16 partial sums per
// element, mul then add: the same order as the AVX-512 and AVX2 tiles, which fuse the multiply-add,
// so the paths agree to rounding, each bitwise stable across thread counts).
#include "sum_nt.h"
#include "../aligned_buf.h"

#include <cstdlib>

#include "../cpu_features.h"
#include "../ops/ops.h"
#include "../threadpool.h"
#include "gemm.h"

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

thread_local AlignedBuf tl_part, tl_halves;

// The driver of both sums: P, the longer operand, its rows in whole tiles of kSumNtP; Q the shorter.
// rows(red, np, Q, Pp, sp, Qp, sq, nb) reduces rows [0, np) of Pp against Q's over nb items.
// From 4 items the batch is summed in two fixed halves, [0, ceil(batch / 2)) and the rest, each element
// C = beta * C + (first half's sum + second half's), and the threads claim the (half, P tile) pairs
// (ItemClaims: each its home share in that order first, then single pairs from the back of another's):
// on two threads each reads only the items of its half, the ones the token mixer's backward
// (parallel_claim's home shares) wrote on that thread, instead of half the rows of every item (half of
// each item's lines crossing to the other core, and back for the next layer's writes). 2-vCPU Zen 5,
// cpu-sudoku4 (dgate_up 4 MiB a call): the token mixer backward that follows the sums 0.67 -> 0.46 ms,
// the step x1.026-1.033 (bench-ab-step, one process). The halves are gemm_in_halves' (gemm.cpp). Claimed
// rather than fixed shares (thirty-seventh session): one vCPU of these hosts runs cached work up to 20%
// slower than the other for minutes at a time (docs/PERFORMANCE.md), and a fixed share ends with the
// slower; each pair writes its own rows of `red`, so who runs it never changes a bit.
template <class T, class Rows>
void sum_nt_parts(float* C, const T* A, const T* B, long M, long N, long K, long batch, long stride_a, long stride_b,
                  float beta, Rows rows) {
  const bool a_is_p = M >= N;
  const long P = a_is_p ? M : N, Q = a_is_p ? N : M;
  const T* Pp = a_is_p ? A : B;
  const T* Qp = a_is_p ? B : A;
  const long sp = a_is_p ? stride_a : stride_b, sq = a_is_p ? stride_b : stride_a;
  const long ptiles = (P + kSumNtP - 1) / kSumNtP;
  const double flops = 2.0 * M * N * K * batch;
  const int halves = batch >= 4 ? 2 : 1;
  float* red = tl_halves.get((size_t)halves * P * Q);
  // (work 0 below 2e5 FLOPs: parallel_claim then runs on the calling thread alone)
  parallel_claim(halves * ptiles, flops < 2e5 ? 0 : kMinParallelWork, [&](ItemClaims::Part& mine) {
    long t0, n;
    while ((t0 = mine.next_run(halves * ptiles, &n)) >= 0) {
      const long t1 = t0 + n;
      for (int h = 0; h < halves; h++) {
        const long u0 = t0 > h * ptiles ? t0 - h * ptiles : 0, u1 = t1 < (h + 1) * ptiles ? t1 - h * ptiles : ptiles;
        const long r0 = u0 * kSumNtP, r1 = u1 * kSumNtP < P ? u1 * kSumNtP : P, np = r1 - r0;
        if (np <= 0) continue;
        long b0, b1;  // the items of half h: split_range's halves, as the home shares
        split_range(batch, h, halves, &b0, &b1);
        const long nb = b1 - b0;
        float* rh = red + h * P * Q + r0 * Q;
        if (K == 0 || nb == 0) {
          for (long i = 0; i < np * Q; i++) rh[i] = 0.f;
        } else {
          rows(rh, np, Q, Pp + b0 * sp + r0 * K, sp, Qp + b0 * sq, sq, nb);
        }
      }
    }
  });
  const float* r2 = halves == 2 ? red + P * Q : nullptr;
  for (long p = 0; p < P; p++)
    for (long q = 0; q < Q; q++) {
      const float v = r2 ? red[p * Q + q] + r2[p * Q + q] : red[p * Q + q];
      float* c = a_is_p ? C + p * N + q : C + q * N + p;
      *c = beta == 0.f ? v : beta * *c + v;
    }
}

thread_local AlignedBuf tl_a16, tl_b16;

}  // namespace

void gemm_sum_nt(float* C, const float* A, const float* B, long M, long N, long K, long batch, long stride_a,
                 long stride_b, float beta) {
  if (M == 0 || N == 0) return;
  const Isa isa = active_isa();
  sum_nt_parts(C, A, B, M, N, K, batch, stride_a, stride_b, beta,
               [&](float* red, long np, long Q, const float* Pp, long sp, const float* Qp, long sq, long nb) {
                 if (isa == Isa::Avx512)
                   sum_nt_rows_avx512(red, tl_part.get((size_t)np * Q * 16), np, Q, Pp, sp, Qp, sq, K, nb);
                 else if (isa == Isa::Avx2)
                   sum_nt_rows_avx2(red, tl_part.get((size_t)np * Q * 16), np, Q, Pp, sp, Qp, sq, K, nb);
                 else
                   rows_generic(red, np, Q, Pp, sp, Qp, sq, K, nb);
               });
}

void gemm_sum_nt_bf16(float* C, const void* A, bool a16, const void* B, bool b16, long M, long N, long K, long batch,
                      long stride_a, long stride_b, float beta) {
  if (M == 0 || N == 0) return;
  const GemmKernelInfo kr = gemm_active_kernel(true);
  if (active_isa() != Isa::Avx512 || kr.kpack != 2 || !kr.to_bf16 || amx_usable()) {
    GemmArgs g;
    g.trans_b = true;
    g.M = M; g.N = N; g.K = K;
    g.A = static_cast<const float*>(A); g.lda = K; g.stride_a = stride_a; g.a16 = a16;
    g.B = static_cast<const float*>(B); g.ldb = K; g.stride_b = stride_b; g.b16 = b16;
    g.C = C; g.ldc = N; g.stride_c = 0;
    g.beta = beta;
    g.batch = batch;
    g.bf16 = true;
    gemm(g);
    return;
  }
  // an fp32 operand rounded into a bf16 copy (items rows x K apart), as the bf16 packs round it
  const auto as16 = [&](const void* X, bool x16, long rows, long stride, AlignedBuf& buf, long* s16) {
    if (x16 || K == 0 || batch == 0) {
      *s16 = stride;
      return static_cast<const uint16_t*>(X);
    }
    const long item = rows * K;
    uint16_t* dst = reinterpret_cast<uint16_t*>(buf.get(((size_t)batch * item + 1) / 2));
    const float* src = static_cast<const float*>(X);
    parallel_for(batch, batch * item, [&](long lo, long hi) {
      for (long b = lo; b < hi; b++) kr.to_bf16(dst + b * item, src + b * stride, item);
    });
    *s16 = item;
    return static_cast<const uint16_t*>(dst);
  };
  long sa16, sb16;
  const uint16_t* A16 = as16(A, a16, M, stride_a, tl_a16, &sa16);
  const uint16_t* B16 = as16(B, b16, N, stride_b, tl_b16, &sb16);
  sum_nt_parts(C, A16, B16, M, N, K, batch, sa16, sb16, beta,
               [&](float* red, long np, long Q, const uint16_t* Pp, long sp, const uint16_t* Qp, long sq, long nb) {
                 sum_nt_rows_bf16_avx512(red, tl_part.get((size_t)np * Q * 16), np, Q, Pp, sp, Qp, sq, K, nb);
               });
}

}  // namespace trm
