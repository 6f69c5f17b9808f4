// avx512_shared.h: what the fp32 and bf16 AVX-512 kernels (kernel_avx512.cpp, kernel_avx512_bf16.cpp)
// both use: the 16 x 16 in-register transpose of their packs, and the C side of the narrow-panel
// kernels that hold up to 16 rows of one column in the lanes of a vector (ukr_cols, ukr_cols_a,
// ukr_cols_bf16): C[i * ldc] = alpha * acc[i] + beta * C[i * ldc] (fused, as the tile's epilogue, so
// the same bits), by gather and scatter; and the item sums' lane reduction (sum_nt_avx512.cpp,
// sum_nt_bf16_avx512.cpp). Include it after the file's AVX-512 target pragma. The functions have
// internal linkage: each file compiles them for its own target.
#pragma once

#include <immintrin.h>

namespace trm {
namespace {

// lane i -> i * ldc: the element offsets of 16 rows of one column
inline __m512i lane_rows(long ldc) {
  return _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                            _mm512_set1_epi32((int)ldc));
}

// the lanes of the rows below n (0 to 16 of them)
inline __mmask16 lanes_below(long n) {
  return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

// The narrow-panel kernel for `groups` strips or vectors of rows (1-8) and n columns (1-4), from a
// table of them indexed [groups - 1][n - 1] (ukr_cols, ukr_cols_a, ukr_cols_bf16).
template <class Kernel>
inline Kernel narrow_kernel(const Kernel (&table)[8][4], long groups, long n) {
  return table[(groups < 1 ? 1 : groups > 8 ? 8 : groups) - 1][(n < 1 ? 1 : n > 4 ? 4 : n) - 1];
}

inline void store_lanes(float* c, __m512i rows, __mmask16 valid, __m512 acc, float alpha, float beta) {
  __m512 r = _mm512_mul_ps(_mm512_set1_ps(alpha), acc);
  if (beta != 0.f)
    r = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_mask_i32gather_ps(_mm512_setzero_ps(), valid, rows, c, 4), r);
  _mm512_mask_i32scatter_ps(c, valid, rows, r, 4);
}


// 16 x 16 in-register transpose: r[j] becomes column j of the input rows.
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; i++) {
    __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
    __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
    r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  // Now r[4q + c] holds, in each 128-bit lane L, elements (rows 4q..4q+3, column 4L + c).
  for (int q = 0; q < 2; q++)
    for (int c = 0; c < 4; c++) {
      t[8 * q + c] = _mm512_shuffle_f32x4(r[8 * q + c], r[8 * q + 4 + c], 0x88);
      t[8 * q + 4 + c] = _mm512_shuffle_f32x4(r[8 * q + c], r[8 * q + 4 + c], 0xdd);
    }
  for (int c = 0; c < 8; c++) {
    r[c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0x88);
    r[8 + c] = _mm512_shuffle_f32x4(t[c], t[8 + c], 0xdd);
  }
}

// The 16 lanes of v summed in the order of sum_nt_reduce (sum_nt.h): halves, quarters, pairs.
inline float sum_nt_reduce16(__m512 v) {
  __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  __m128 p = _mm_add_ps(q, _mm_movehl_ps(q, q));
  return _mm_cvtss_f32(_mm_add_ss(p, _mm_movehdup_ps(p)));
}

}  // namespace
}  // namespace trm
