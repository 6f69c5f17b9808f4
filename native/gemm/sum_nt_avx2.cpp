// sum_nt_avx2.cpp: gemm_sum_nt's tiles on AVX2+FMA (sum_nt.h). The same arithmetic as the AVX-512
// tile, lane for lane: each output element keeps 16 partial sums (lane l over k = l mod 16 of every
// item, items in order, one FMA per k), here as two ymm halves (lanes 0-7 and 8-15, one per pass)
// instead of one zmm, reduced by the same fixed tree. So the bits equal sum_nt_rows_avx512's, and like it they do
// not depend on the thread count or the tiling. Compiled for AVX2 by a target pragma like
// kernel_avx2.cpp; only C headers after it.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx2,fma")
#include <immintrin.h>

#include "sum_nt.h"

namespace trm {
namespace {

// The 16 lanes (lo = 0-7, hi = 8-15) summed in the order of sum_nt_reduce (sum_nt.h): halves,
// quarters, pairs, the last two.
inline float reduce16(__m256 lo, __m256 hi) {
  __m256 h = _mm256_add_ps(lo, hi);
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  __m128 p = _mm_add_ps(q, _mm_movehl_ps(q, q));
  return _mm_cvtss_f32(_mm_add_ss(p, _mm_movehdup_ps(p)));
}

// The tile: 3 x 4 elements, one half of their 16 lanes per pass (the two halves are independent
// partial sums: lanes 0-7 take k = 16j..16j+7, lanes 8-15 k = 16j+8..16j+15), so 12 accumulators
// and P + 1 = 4 operand registers (16 ymm), 7 loads per 12 FMAs. Both halves in one pass held only
// 2 x 3 elements (5 loads per 6 FMAs).
constexpr int kP = 3, kQ = 4;

// Lane masks for a k tail of t = K mod 16 values: half 0 takes lanes [0, min(t, 8)), half 1
// [8, t). maskload zeroes the rest, which then add 0 * 0 as the AVX-512 tile's masked lanes do.
inline __m256i tail_mask(long t) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)t), lane);
}

// One whole vector of k (k .. k + 7 of this half's lanes, at pb and qb, rows K apart) into the tile's
// accumulators; PF: first the next tile's rows of this item at k, pf_rows of them (the operands come
// from memory: a step's activations).
template <int P, int Q, bool PF>
__attribute__((always_inline)) inline void k_vector(__m256 (&acc)[P][Q], const float* pb, const float* qb, long K,
                                                    long k, long pf_rows) {
  if (PF)
#pragma GCC unroll 3
    for (int p = 0; p < P; p++)
      if (p < pf_rows) _mm_prefetch((const char*)(pb + (P + p) * K + k), _MM_HINT_T0);
  __m256 a[P];
#pragma GCC unroll 3
  for (int p = 0; p < P; p++) a[p] = _mm256_loadu_ps(pb + p * K + k);
#pragma GCC unroll 4
  for (int q = 0; q < Q; q++) {
    __m256 v = _mm256_loadu_ps(qb + q * K + k);
#pragma GCC unroll 3
    for (int p = 0; p < P; p++) acc[p][q] = _mm256_fmadd_ps(a[p], v, acc[p][q]);
  }
}

// The tile's items [b0, b1) at K = 64 (the small presets' D): each item's four k vectors straight-line,
// with no loop of their own (a loop of four per item cost ~15% of the tile on Zen 2), the same FMAs in
// the same order. PF: the calls with pf_rows > 0 only (the others carry no test for it).
template <int P, int Q, int H, bool PF>
__attribute__((always_inline)) inline void items_k64(__m256 (&acc)[P][Q], const float* Pp, long sp, const float* Qp,
                                                     long sq, long b0, long b1, long pf_rows) {
  for (long b = b0; b < b1; b++) {
    const float* pb = Pp + b * sp + H * 8;
    const float* qb = Qp + b * sq + H * 8;
#pragma GCC unroll 4
    for (long k = 0; k < 64; k += 16) k_vector<P, Q, PF>(acc, pb, qb, 64, k, pf_rows);
  }
}

// One tile, half H of the lanes, over items [b0, b1): P rows of the "p" operand against Q rows of
// the "q" operand; the partials wait in part[(p*ldq + q)*16 + H*8] between item blocks (zero
// before the first: fresh), so each lane's order is one pass over all items.
template <int P, int Q, int H>
void tile(float* part, long ldq, const float* Pp, long sp, const float* Qp, long sq, long K, long b0, long b1,
          bool fresh, long pf_rows) {
  __m256 acc[P][Q];
#pragma GCC unroll 3
  for (int p = 0; p < P; p++)
#pragma GCC unroll 4
    for (int q = 0; q < Q; q++) acc[p][q] = fresh ? _mm256_setzero_ps() : _mm256_load_ps(part + (p * ldq + q) * 16 + H * 8);
  const long kw = K & ~15L;  // whole 16-lane vectors
  const long t = K & 15;
  const __m256i m = tail_mask(t - H * 8);
  if (K == 64) {
    if (pf_rows > 0) items_k64<P, Q, H, true>(acc, Pp, sp, Qp, sq, b0, b1, pf_rows);
    else items_k64<P, Q, H, false>(acc, Pp, sp, Qp, sq, b0, b1, 0);
    b1 = b0;  // (nothing left for the general loop)
  }
  for (long b = b0; b < b1; b++) {
    const float* pb = Pp + b * sp + H * 8;
    const float* qb = Qp + b * sq + H * 8;
    for (long k = 0; k < kw; k += 16) k_vector<P, Q, true>(acc, pb, qb, K, k, pf_rows);
    if (t) {  // the last, partial vector: its lanes past K add 0 * 0
      __m256 a[P];
#pragma GCC unroll 3
      for (int p = 0; p < P; p++) a[p] = _mm256_maskload_ps(pb + p * K + kw, m);
#pragma GCC unroll 4
      for (int q = 0; q < Q; q++) {
        __m256 v = _mm256_maskload_ps(qb + q * K + kw, m);
#pragma GCC unroll 3
        for (int p = 0; p < P; p++) acc[p][q] = _mm256_fmadd_ps(a[p], v, acc[p][q]);
      }
    }
  }
#pragma GCC unroll 3
  for (int p = 0; p < P; p++)
#pragma GCC unroll 4
    for (int q = 0; q < Q; q++) _mm256_store_ps(part + (p * ldq + q) * 16 + H * 8, acc[p][q]);
}

typedef void (*TileFn)(float*, long, const float*, long, const float*, long, long, long, long, bool, long);

template <int P, int H>
constexpr TileFn kRow[kQ] = {tile<P, 1, H>, tile<P, 2, H>, tile<P, 3, H>, tile<P, 4, H>};
template <int H>
constexpr const TileFn* kTiles[kP] = {kRow<1, H>, kRow<2, H>, kRow<3, H>};

}  // namespace

void sum_nt_rows_avx2(float* red, float* part, long np, long Q, const float* Pp, long sp, const float* Qp, long sq,
                      long K, long batch) {
  // items per block: the block's Q rows (Q x K floats per item) stay in L1 (half of a 32 KiB one:
  // the P rows pass through it too) while every P tile of this part streams past them once, half by
  // half; the partials wait in part
  const long kbytes = 16384;
  const long kb = kbytes / (Q * K * 4) < 1 ? 1 : kbytes / (Q * K * 4);
  const long qtiles = (Q + kQ - 1) / kQ;
  const long qbase = Q / qtiles, qextra = Q % qtiles;
  for (long b0 = 0; b0 < batch; b0 += kb) {
    const long b1 = batch - b0 < kb ? batch : b0 + kb;
    for (long p0 = 0; p0 < np; p0 += kP) {
      const int P = (int)(np - p0 < kP ? np - p0 : kP);
      for (int h = 0; h < 2; h++)
        for (long u = 0; u < qtiles; u++) {
          const long q0 = sum_nt_q_start(u, qbase, qextra), q1 = sum_nt_q_start(u + 1, qbase, qextra);
          // the first Q tile brings this P tile's rows in: it prefetches the next P tile's
          const long pf = u == 0 && h == 0 ? (np - p0 - P < kP ? np - p0 - P : kP) : 0;
          (h ? kTiles<1> : kTiles<0>)[P - 1][q1 - q0 - 1](part + (p0 * Q + q0) * 16, Q, Pp + p0 * K, sp, Qp + q0 * K,
                                                          sq, K, b0, b1, b0 == 0, pf);
        }
    }
  }
  for (long i = 0; i < np * Q; i++) red[i] = reduce16(_mm256_load_ps(part + i * 16), _mm256_load_ps(part + i * 16 + 8));
}

}  // namespace trm
