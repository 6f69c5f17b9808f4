// sum_nt_bf16_avx512.cpp: gemm_sum_nt_bf16's tiles on AVX-512 BF16 (sum_nt.h). The tiles of
// sum_nt_avx512.cpp with bf16 operands: 32 k per zmm as 16 pairs, one VDPBF16PS per element and 32 k
// (the pair's two products added to the lane's partial sum in fp32, rounded to nearest even, denormals
// flushed: the instruction's rule), so lane l sums k = 2l and 2l + 1 mod 32 of every item, items in
// order; reduced at the end by sum_nt_reduce's tree. Compiled with a target pragma like
// kernel_avx512_bf16.cpp; run only where CPUID says AVX512_BF16 (sum_nt.cpp).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx512bf16,avx2,fma")
#include <immintrin.h>
#include <stdint.h>

#include "avx512_shared.h"
#include "sum_nt.h"

namespace trm {
namespace {

inline __m512 dp(__m512 acc, __m512i a, __m512i b) { return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b); }

// One tile over items [b0, b1): P rows of the "p" operand (Pp + p*K bf16 values per item, items sp
// apart) against Q rows of the "q" operand; the lane partial sums wait in part[(p*ldq + q)*16] between
// item blocks (fresh: zero before the first). A last vector of fewer than 32 k loads its lanes past K
// as 0 (whole pairs of zeros, or an odd K's last k against a zero partner: products of 0).
template <int P, int Q>
void tile(float* part, long ldq, const uint16_t* Pp, long sp, const uint16_t* Qp, long sq, long K, long b0, long b1,
          bool fresh, long pf_rows) {
  __m512 acc[P][Q];
#pragma GCC unroll 4
  for (int p = 0; p < P; p++)
#pragma GCC unroll 8
    for (int q = 0; q < Q; q++)
      acc[p][q] = fresh ? _mm512_setzero_ps() : _mm512_load_ps(part + (p * ldq + q) * 16);
  const long nk = (K + 31) / 32;
  const __mmask32 tail = (K & 31) ? (__mmask32)((1ull << (K & 31)) - 1) : (__mmask32)0xffffffffu;
  for (long b = b0; b < b1; b++) {
    const uint16_t* pb = Pp + b * sp;
    const uint16_t* qb = Qp + b * sq;
    for (long kk = 0; kk < nk; kk++) {
      const long k = kk * 32;
      const __mmask32 m = kk + 1 < nk ? (__mmask32)0xffffffffu : tail;
      __m512i a[P];
#pragma GCC unroll 4
      for (int p = 0; p < P; p++) a[p] = _mm512_maskz_loadu_epi16(m, pb + p * K + k);
      // the next tile's rows of this item (the p operand streams from L2 or memory)
#pragma GCC unroll 4
      for (int p = 0; p < P; p++)
        if (p < pf_rows) _mm_prefetch((const char*)(pb + (P + p) * K + k), _MM_HINT_T0);
#pragma GCC unroll 8
      for (int q = 0; q < Q; q++) {
        const __m512i v = _mm512_maskz_loadu_epi16(m, qb + q * K + k);
#pragma GCC unroll 4
        for (int p = 0; p < P; p++) acc[p][q] = dp(acc[p][q], a[p], v);
      }
    }
  }
#pragma GCC unroll 4
  for (int p = 0; p < P; p++)
#pragma GCC unroll 8
    for (int q = 0; q < Q; q++) _mm512_store_ps(part + (p * ldq + q) * 16, acc[p][q]);
}

typedef void (*TileFn)(float*, long, const uint16_t*, long, const uint16_t*, long, long, long, long, bool, long);

template <int P>
constexpr TileFn kRow[kSumNtQ] = {tile<P, 1>, tile<P, 2>, tile<P, 3>, tile<P, 4>, tile<P, 5>, tile<P, 6>};
constexpr const TileFn* kTiles[kSumNtP] = {kRow<1>, kRow<2>, kRow<3>, kRow<4>};

}  // namespace

void sum_nt_rows_bf16_avx512(float* red, float* part, long np, long Q, const uint16_t* Pp, long sp, const uint16_t* Qp,
                             long sq, long K, long batch) {
  sum_nt_item_blocks(part, np, Q, Pp, sp, Qp, sq, K, batch, kTiles);
  for (long i = 0; i < np * Q; i++) red[i] = sum_nt_reduce16(_mm512_load_ps(part + i * 16));
}

}  // namespace trm
