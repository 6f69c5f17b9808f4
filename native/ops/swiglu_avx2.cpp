// swiglu_avx2.cpp: SwiGLU's row loops on 8 lanes (AVX2, no FMA), the exact IEEE operations of
// fast_exp.h and swiglu.cpp in the same order (separate mul and add, never an FMA: the bits equal
// the baseline and AVX-512 paths'). Compiled for AVX2 by a target pragma, like
// gemm/kernel_avx2.cpp; only C headers after it, so nothing here can replace baseline code at
// link time.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC optimize("fp-contract=off")
#pragma GCC target("avx2")
#include <immintrin.h>

#include "fast_exp.h"

namespace trm {
namespace {

inline __m256 exp16(__m256 x0) {
  using namespace fexp;
  __m256 x = _mm256_max_ps(x0, _mm256_set1_ps(kLo));
  x = _mm256_min_ps(x, _mm256_set1_ps(kHi));
  const __m256 rnd = _mm256_set1_ps(kRound);
  __m256 n = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), rnd), rnd);
  __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(kC1)));
  r = _mm256_sub_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(kC2)));
  __m256 p = _mm256_set1_ps(kP0);
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(kP1));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(kP2));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(kP3));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(kP4));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(kP5));
  __m256 y = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(p, _mm256_mul_ps(r, r)), r), _mm256_set1_ps(1.0f));
  __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127)), 23);
  y = _mm256_mul_ps(y, _mm256_castsi256_ps(bits));
  __m256 big = _mm256_cmp_ps(x0, _mm256_set1_ps(kHi), _CMP_GT_OQ);
  return _mm256_blendv_ps(y, _mm256_set1_ps(__builtin_inff()), big);
}

inline __m256i tail_mask(long left) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(left >= 8 ? 8 : (int)left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

}  // namespace

// one row of SwiGLU with gate and up at separate addresses (the fused gate_up GEMM's epilogue)
void swiglu_pair_avx2(float* y, const float* g, const float* u, long n) {
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  for (long h = 0; h < n; h += 8) {
    __m256i m = tail_mask(n - h);
    __m256 gv = _mm256_maskload_ps(g + h, m), uv = _mm256_maskload_ps(u + h, m);
    __m256 e = exp16(_mm256_sub_ps(zero, gv));
    __m256 v = _mm256_mul_ps(_mm256_div_ps(gv, _mm256_add_ps(one, e)), uv);
    _mm256_maskstore_ps(y + h, m, v);
  }
}

void swiglu_forward_rows_avx2(float* out, const float* gate_up, long r0, long r1, long H) {
  for (long i = r0; i < r1; i++) swiglu_pair_avx2(out + i * H, gate_up + i * 2 * H, gate_up + i * 2 * H + H, H);
}

// one row of SwiGLU's backward with every operand at its own address; acc = false writes 0 + d.
void swiglu_backward_pair_avx2(float* dg, float* du, const float* dy, const float* g, const float* u, long n,
                               bool acc) {
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  for (long h = 0; h < n; h += 8) {
    __m256i m = tail_mask(n - h);
    __m256 gv = _mm256_maskload_ps(g + h, m), uv = _mm256_maskload_ps(u + h, m), d = _mm256_maskload_ps(dy + h, m);
    __m256 sig = _mm256_div_ps(one, _mm256_add_ps(one, exp16(_mm256_sub_ps(zero, gv))));
    __m256 a = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(d, uv), sig),
                             _mm256_add_ps(one, _mm256_mul_ps(gv, _mm256_sub_ps(one, sig))));
    _mm256_maskstore_ps(dg + h, m, _mm256_add_ps(acc ? _mm256_maskload_ps(dg + h, m) : zero, a));
    __m256 b = _mm256_mul_ps(_mm256_mul_ps(d, gv), sig);
    _mm256_maskstore_ps(du + h, m, _mm256_add_ps(acc ? _mm256_maskload_ps(du + h, m) : zero, b));
  }
}

void swiglu_backward_rows_avx2(float* dgate_up, const float* dout, const float* gate_up, long r0, long r1, long H) {
  for (long i = r0; i < r1; i++) {
    const float* g = gate_up + i * 2 * H;
    float* dg = dgate_up + i * 2 * H;
    swiglu_backward_pair_avx2(dg, dg + H, dout + i * H, g, g + H, H, true);
  }
}

}  // namespace trm
