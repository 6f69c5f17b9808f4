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

// silu(g) * u on 8 lanes
inline __m256 swiglu8(__m256 gv, __m256 uv) {
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  __m256 e = exp16(_mm256_sub_ps(zero, gv));
  return _mm256_mul_ps(_mm256_div_ps(gv, _mm256_add_ps(one, e)), uv);
}

// One row of SwiGLU with gate and up at separate addresses (the fused gate_up GEMM's epilogue). Whole
// vectors with plain loads and stores, the tail masked: on AMD a masked store is microcoded (one per
// ~12 cycles on Zen 3) and it cost as much as the exp when every vector took one.
void swiglu_pair_avx2(float* y, const float* g, const float* u, long n) {
  long h = 0;
  for (; h + 8 <= n; h += 8) _mm256_storeu_ps(y + h, swiglu8(_mm256_loadu_ps(g + h), _mm256_loadu_ps(u + h)));
  if (h < n) {
    __m256i m = tail_mask(n - h);
    _mm256_maskstore_ps(y + h, m, swiglu8(_mm256_maskload_ps(g + h, m), _mm256_maskload_ps(u + h, m)));
  }
}

void swiglu_forward_rows_avx2(float* out, const float* gate_up, long r0, long r1, long H) {
  for (long i = r0; i < r1; i++) swiglu_pair_avx2(out + i * H, gate_up + i * 2 * H, gate_up + i * 2 * H + H, H);
}

// SwiGLU's backward on 8 lanes; acc = false writes 0 + d. TAIL: masked loads and stores with m (the
// row's last, partial vector), else plain ones (see swiglu_pair_avx2).
template <bool TAIL>
inline void swiglu_backward8(float* dg, float* du, const float* dy, const float* g, const float* u, bool acc,
                             __m256i m) {
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  auto load = [&](const float* p) { return TAIL ? _mm256_maskload_ps(p, m) : _mm256_loadu_ps(p); };
  auto store = [&](float* p, __m256 v) {
    if (TAIL) _mm256_maskstore_ps(p, m, v);
    else _mm256_storeu_ps(p, v);
  };
  __m256 gv = load(g), uv = load(u), d = load(dy);
  __m256 sig = _mm256_div_ps(one, _mm256_add_ps(one, exp16(_mm256_sub_ps(zero, gv))));
  __m256 a = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(d, uv), sig),
                           _mm256_add_ps(one, _mm256_mul_ps(gv, _mm256_sub_ps(one, sig))));
  store(dg, _mm256_add_ps(acc ? load(dg) : zero, a));
  __m256 b = _mm256_mul_ps(_mm256_mul_ps(d, gv), sig);
  store(du, _mm256_add_ps(acc ? load(du) : zero, b));
}

// one row of SwiGLU's backward with every operand at its own address
void swiglu_backward_pair_avx2(float* dg, float* du, const float* dy, const float* g, const float* u, long n,
                               bool acc) {
  const __m256i all = _mm256_set1_epi32(-1);
  long h = 0;
  for (; h + 8 <= n; h += 8) swiglu_backward8<false>(dg + h, du + h, dy + h, g + h, u + h, acc, all);
  if (h < n) swiglu_backward8<true>(dg + h, du + h, dy + h, g + h, u + h, acc, tail_mask(n - h));
}

void swiglu_backward_rows_avx2(float* dgate_up, const float* dout, const float* gate_up, long r0, long r1, long H) {
  for (long i = r0; i < r1; i++) {
    const float* g = gate_up + i * 2 * H;
    float* dg = dgate_up + i * 2 * H;
    swiglu_backward_pair_avx2(dg, dg + H, dout + i * H, g, g + H, H, true);
  }
}

}  // namespace trm
