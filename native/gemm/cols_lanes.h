// cols_lanes.h: the C side of the narrow-panel kernels that hold up to 16 rows of one column in the
// lanes of a vector (kernel_avx512.cpp's ukr_cols and ukr_cols_a, kernel_avx512_bf16.cpp's
// ukr_cols_bf16): C[i * ldc] = alpha * acc[i] + beta * C[i * ldc] (fused, as the tile's epilogue,
// so the same bits), by gather and scatter. Include it after the file's AVX-512 target pragma. The
// functions have internal linkage: each file compiles them for its own target.
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

inline void store_lanes(float* c, __m512i rows, __mmask16 valid, __m512 acc, float alpha, float beta) {
  __m512 r = _mm512_mul_ps(_mm512_set1_ps(alpha), acc);
  if (beta != 0.f)
    r = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_mask_i32gather_ps(_mm512_setzero_ps(), valid, rows, c, 4), r);
  _mm512_mask_i32scatter_ps(c, valid, rows, r, 4);
}

}  // namespace
}  // namespace trm
