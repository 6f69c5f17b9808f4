// swiglu_bf16_avx512.cpp: SwiGLU's epilogue rows for the bf16 products (precision=bf16) on AVX-512:
// the same function as swiglu_avx512.cpp to a few ulp, in fewer instructions: exp(x) = 2^n 2^f with
// n = round(x log2 e), a degree-5 FMA polynomial for 2^f on [-1/2, 1/2] and VSCALEFPS, and
// 1 / (1 + e) by VRCP14PS and one Newton step instead of a division. Every value this computes is
// next rounded to bfloat16 (the next product's operand) or summed into fp32 gradients that are,
// so the few-ulp difference from the exact path is invisible at bf16's 8 bits; the fp32 path never
// runs this file (its SwiGLU stays bitwise swiglu_forward's). Compiled for AVX-512 by a target
// pragma; only C headers after it.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
#include <immintrin.h>

namespace trm {
namespace {

// sigmoid(g) = 1 / (1 + exp(-g)), to ~2 ulp; exp's argument clamped to [-87, 88] (sigmoid of a
// very negative g is then ~1e-38 instead of 0, of a NaN gate NaN through the callers' products).
inline __m512 sigmoid16(__m512 g) {
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 x = _mm512_max_ps(_mm512_sub_ps(_mm512_setzero_ps(), g), _mm512_set1_ps(-87.0f));
  x = _mm512_min_ps(x, _mm512_set1_ps(88.0f));
  __m512 t = _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f));
  __m512 n = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 f = _mm512_sub_ps(t, n);  // [-1/2, 1/2]
  __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(1.3333558e-3f), f, _mm512_set1_ps(9.6180973e-3f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(5.5504109e-2f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(2.4022652e-1f));
  p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(6.9314718e-1f));
  p = _mm512_fmadd_ps(p, f, one);
  __m512 d = _mm512_add_ps(one, _mm512_scalef_ps(p, n));
  __m512 r = _mm512_rcp14_ps(d);
  return _mm512_fmadd_ps(_mm512_fnmadd_ps(d, r, one), r, r);
}

inline __mmask16 tail_mask(long left) { return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1); }

}  // namespace

void swiglu_pair_bf16_avx512(float* y, const float* g, const float* u, long n) {
  for (long h = 0; h < n; h += 16) {
    __mmask16 m = tail_mask(n - h);
    __m512 gv = _mm512_maskz_loadu_ps(m, g + h), uv = _mm512_maskz_loadu_ps(m, u + h);
    _mm512_mask_storeu_ps(y + h, m, _mm512_mul_ps(_mm512_mul_ps(gv, sigmoid16(gv)), uv));
  }
}

void swiglu_backward_pair_bf16_avx512(float* dg, float* du, const float* dy, const float* g, const float* u, long n,
                                      bool acc) {
  const __m512 one = _mm512_set1_ps(1.0f), zero = _mm512_setzero_ps();
  for (long h = 0; h < n; h += 16) {
    __mmask16 m = tail_mask(n - h);
    __m512 gv = _mm512_maskz_loadu_ps(m, g + h), uv = _mm512_maskz_loadu_ps(m, u + h),
           d = _mm512_maskz_loadu_ps(m, dy + h);
    __m512 sig = sigmoid16(gv);
    __m512 ds = _mm512_mul_ps(d, sig);
    // dgate = d u sig (1 + g (1 - sig)), dup = d g sig
    __m512 a = _mm512_mul_ps(_mm512_mul_ps(ds, uv), _mm512_fmadd_ps(gv, _mm512_sub_ps(one, sig), one));
    __m512 b = _mm512_mul_ps(ds, gv);
    _mm512_mask_storeu_ps(dg + h, m, _mm512_add_ps(acc ? _mm512_maskz_loadu_ps(m, dg + h) : zero, a));
    _mm512_mask_storeu_ps(du + h, m, _mm512_add_ps(acc ? _mm512_maskz_loadu_ps(m, du + h) : zero, b));
  }
}

}  // namespace trm
