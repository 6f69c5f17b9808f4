// sum_nt_avx512.cpp: gemm_sum_nt's tiles on AVX-512 (gemm.h). Both operands keep k contiguous,
// so a tile reads them as they lie, with no packing: 16 k per zmm, one zmm accumulator per
// output element (16 partial sums, lane l over k = l mod 16 of every item, items in order), reduced
// at the end by a fixed tree (sum_nt_reduce). Compiled for AVX-512 by a target pragma like
// kernel_avx512.cpp; only C headers after it.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
#include <immintrin.h>

#include "avx512_shared.h"
#include "sum_nt.h"

namespace trm {
namespace {

// One tile over items [b0, b1): P rows of the "p" operand (Pp + p*K per item, items sp apart)
// against Q rows of the "q" operand; the 16-lane partial sums live in part[(p*ldq + q)*16] between
// item blocks (zero before the first: fresh), so the lane order is the same as one pass over all
// items. Every loop over the tile is unrolled: the accumulators stay in registers.
template <int P, int Q>
void tile(float* part, long ldq, const float* Pp, long sp, const float* Qp, long sq, long K, long b0, long b1,
          bool fresh, long pf_rows) {
  __m512 acc[P][Q];
#pragma GCC unroll 4
  for (int p = 0; p < P; p++)
#pragma GCC unroll 8
    for (int q = 0; q < Q; q++)
      acc[p][q] = fresh ? _mm512_setzero_ps() : _mm512_load_ps(part + (p * ldq + q) * 16);
  const long nk = (K + 15) / 16;
  if ((K & 15) == 0) {  // whole vectors: plain loads
    for (long b = b0; b < b1; b++) {
      const float* pb = Pp + b * sp;
      const float* qb = Qp + b * sq;
      for (long k = 0; k < K; k += 16) {
        __m512 a[P];
#pragma GCC unroll 4
        for (int p = 0; p < P; p++) a[p] = _mm512_loadu_ps(pb + p * K + k);
        // the next tile's rows of this item (the operands come from memory: a step's activations)
#pragma GCC unroll 4
        for (int p = 0; p < P; p++)
          if (p < pf_rows) _mm_prefetch((const char*)(pb + (P + p) * K + k), _MM_HINT_T0);
#pragma GCC unroll 8
        for (int q = 0; q < Q; q++) {
          __m512 v = _mm512_loadu_ps(qb + q * K + k);
#pragma GCC unroll 4
          for (int p = 0; p < P; p++) acc[p][q] = _mm512_fmadd_ps(a[p], v, acc[p][q]);
        }
      }
    }
  } else {  // the last vector of each item masked (its lanes past K add 0 * 0)
    const __mmask16 tail = (__mmask16)((1u << (K & 15)) - 1);
    for (long b = b0; b < b1; b++) {
      const float* pb = Pp + b * sp;
      const float* qb = Qp + b * sq;
      for (long kk = 0; kk < nk; kk++) {
        const long k = kk * 16;
        const __mmask16 m = kk + 1 < nk ? (__mmask16)0xffff : tail;
        __m512 a[P];
#pragma GCC unroll 4
        for (int p = 0; p < P; p++) a[p] = _mm512_maskz_loadu_ps(m, pb + p * K + k);
#pragma GCC unroll 8
        for (int q = 0; q < Q; q++) {
          __m512 v = _mm512_maskz_loadu_ps(m, qb + q * K + k);
#pragma GCC unroll 4
          for (int p = 0; p < P; p++) acc[p][q] = _mm512_fmadd_ps(a[p], v, acc[p][q]);
        }
      }
    }
  }
#pragma GCC unroll 4
  for (int p = 0; p < P; p++)
#pragma GCC unroll 8
    for (int q = 0; q < Q; q++) _mm512_store_ps(part + (p * ldq + q) * 16, acc[p][q]);
}

typedef void (*TileFn)(float*, long, const float*, long, const float*, long, long, long, long, bool, long);

template <int P>
constexpr TileFn kRow[kSumNtQ] = {tile<P, 1>, tile<P, 2>, tile<P, 3>, tile<P, 4>, tile<P, 5>, tile<P, 6>};
constexpr const TileFn* kTiles[kSumNtP] = {kRow<1>, kRow<2>, kRow<3>, kRow<4>};

}  // namespace

void sum_nt_rows_avx512(float* red, float* part, long np, long Q, const float* Pp, long sp, const float* Qp, long sq,
                        long K, long batch) {
  sum_nt_item_blocks(part, np, Q, Pp, sp, Qp, sq, K, batch, kTiles);
  for (long i = 0; i < np * Q; i++) red[i] = sum_nt_reduce16(_mm512_load_ps(part + i * 16));
}

}  // namespace trm
