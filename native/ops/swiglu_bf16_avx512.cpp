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
#include <stdint.h>

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

// SwiGLU on 16 lanes: silu(g) * u = (g sig) u. Every forward row below runs this one expression.
inline __m512 silu_mul16(__m512 gv, __m512 uv) { return _mm512_mul_ps(_mm512_mul_ps(gv, sigmoid16(gv)), uv); }

// SwiGLU's gradients on 16 lanes, before any accumulation: dgate = d u sig (1 + g (1 - sig)) at *a,
// dup = d g sig at *b. Every backward row below runs this one expression.
inline void grads16(__m512 d, __m512 gv, __m512 uv, __m512* a, __m512* b) {
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 sig = sigmoid16(gv);
  __m512 ds = _mm512_mul_ps(d, sig);
  *a = _mm512_mul_ps(_mm512_mul_ps(ds, uv), _mm512_fmadd_ps(gv, _mm512_sub_ps(one, sig), one));
  *b = _mm512_mul_ps(ds, gv);
}

inline __mmask16 tail_mask(long left) { return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1); }

}  // namespace

void swiglu_pair_bf16_avx512(float* y, const float* g, const float* u, long n) {
  for (long h = 0; h < n; h += 16) {
    __mmask16 m = tail_mask(n - h);
    __m512 gv = _mm512_maskz_loadu_ps(m, g + h), uv = _mm512_maskz_loadu_ps(m, u + h);
    _mm512_mask_storeu_ps(y + h, m, silu_mul16(gv, uv));
  }
}

void swiglu_backward_pair_bf16_avx512(float* dg, float* du, const float* dy, const float* g, const float* u, long n,
                                      bool acc) {
  const __m512 zero = _mm512_setzero_ps();
  for (long h = 0; h < n; h += 16) {
    __mmask16 m = tail_mask(n - h);
    __m512 a, b;
    grads16(_mm512_maskz_loadu_ps(m, dy + h), _mm512_maskz_loadu_ps(m, g + h), _mm512_maskz_loadu_ps(m, u + h), &a, &b);
    _mm512_mask_storeu_ps(dg + h, m, _mm512_add_ps(acc ? _mm512_maskz_loadu_ps(m, dg + h) : zero, a));
    _mm512_mask_storeu_ps(du + h, m, _mm512_add_ps(acc ? _mm512_maskz_loadu_ps(m, du + h) : zero, b));
  }
}


// ---- bf16 storage (a bf16 run's kept tensors: device.ts BF16T; gemm.h kept16 / d16) ----------------
// The rows above with y, or dg and du, rounded to bf16 as they are stored (VCVTNEPS2BF16, the
// rounding of the bf16 packs) and / or g and u read from bf16 (widened exactly): bitwise the fp32
// functions followed by the rounding / preceded by the widening. Need AVX512_BF16 (the caller
// checks: the gemm kernel in use is the VDPBF16PS one).
#define TRM_BF16_TARGET __attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx512bf16,avx2,fma")))

namespace {
TRM_BF16_TARGET inline __m512 load_row(const void* p, long h, __mmask16 m, bool is16) {
  if (!is16) return _mm512_maskz_loadu_ps(m, static_cast<const float*>(p) + h);
  __m512i x = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(p) + h));
  return _mm512_castsi512_ps(_mm512_slli_epi32(x, 16));
}
TRM_BF16_TARGET inline void store16(uint16_t* p, long h, __mmask16 m, __m512 v) {
  _mm256_mask_storeu_epi16(p + h, m, (__m256i)_mm512_cvtneps_pbh(v));
}
// 32 values (lo, then hi) rounded by one VCVTNE2PS2BF16, which rounds as VCVTNEPS2BF16 does: the same
// bits as two store16 calls for one conversion instruction (on the AMX Xeons each costs about as much
// as eight FMAs' issue slots, a tenth of a 16-lane SwiGLU row).
TRM_BF16_TARGET inline void store16x2(uint16_t* p, long h, __m512 lo, __m512 hi) {
  _mm512_storeu_si512(p + h, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}

// The gradients of 32 values at h (two vectors), fresh: 0 + each (a zero addend makes any contraction of
// the sum exact, so these are swiglu_backward_pair_bf16_avx512's bits).
template <bool G16>
TRM_BF16_TARGET inline void grads32(__m512 a[2], __m512 b[2], const float* dy, const void* g, const void* u, long h) {
  const __m512 zero = _mm512_setzero_ps();
  for (int j = 0; j < 2; j++) {
    const long at = h + 16 * j;
    grads16(_mm512_loadu_ps(dy + at), load_row(g, at, 0xffff, G16), load_row(u, at, 0xffff, G16), &a[j], &b[j]);
    a[j] = _mm512_add_ps(zero, a[j]);
    b[j] = _mm512_add_ps(zero, b[j]);
  }
}

// dg, du fresh in bf16 (the gradients, rounded), whole 32-value runs through store16x2.
template <bool G16>
TRM_BF16_TARGET void backward_to16(uint16_t* dg, uint16_t* du, const float* dy, const void* g, const void* u, long n) {
  const __m512 zero = _mm512_setzero_ps();
  long h = 0;
  for (; h + 32 <= n; h += 32) {
    __m512 a[2], b[2];
    grads32<G16>(a, b, dy, g, u, h);
    store16x2(dg, h, a[0], a[1]);
    store16x2(du, h, b[0], b[1]);
  }
  for (; h < n; h += 16) {
    __mmask16 m = tail_mask(n - h);
    __m512 a, b;
    grads16(_mm512_maskz_loadu_ps(m, dy + h), load_row(g, h, m, G16), load_row(u, h, m, G16), &a, &b);
    store16(dg, h, m, _mm512_add_ps(zero, a));
    store16(du, h, m, _mm512_add_ps(zero, b));
  }
}

// backward_to16 for one 32-element row whose dg and du are each one whole 64-byte line: the same
// values and rounding, stored past the caches (MOVNTDQ). The fused backwards write megabytes of
// dgate_up per call; a plain store first reads each line in (read-for-ownership), a third more memory
// traffic on a pass that memory bandwidth bounds. The caller fences (SFENCE) before its region ends.
template <bool G16>
TRM_BF16_TARGET void backward_to16_stream32(uint16_t* dg, uint16_t* du, const float* dy, const void* g, const void* u) {
  __m512 a[2], b[2];
  grads32<G16>(a, b, dy, g, u, 0);
  _mm512_stream_si512(reinterpret_cast<__m512i*>(dg), (__m512i)_mm512_cvtne2ps_pbh(a[1], a[0]));
  _mm512_stream_si512(reinterpret_cast<__m512i*>(du), (__m512i)_mm512_cvtne2ps_pbh(b[1], b[0]));
}
inline bool line64(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 63) == 0; }
}  // namespace

TRM_BF16_TARGET void swiglu_pair_bf16_to16_avx512(uint16_t* y, const float* g, const float* u, long n) {
  long h = 0;
  for (; h + 32 <= n; h += 32) {  // whole 32-value runs (a tile row): one conversion (store16x2)
    store16x2(y, h, silu_mul16(_mm512_loadu_ps(g + h), _mm512_loadu_ps(u + h)),
              silu_mul16(_mm512_loadu_ps(g + h + 16), _mm512_loadu_ps(u + h + 16)));
  }
  for (; h < n; h += 16) {
    __mmask16 m = tail_mask(n - h);
    __m512 gv = _mm512_maskz_loadu_ps(m, g + h), uv = _mm512_maskz_loadu_ps(m, u + h);
    store16(y, h, m, silu_mul16(gv, uv));
  }
}

// dg, du: bf16 when d16 (then fresh: acc false), else fp32; g, u: bf16 when g16, else fp32. fp32 dg, du
// from bf16 g, u: the widened rows through swiglu_backward_pair_bf16_avx512 itself.
void swiglu_backward_pair_bf16_16_avx512(void* dg, void* du, const float* dy, const void* g, const void* u, long n,
                                         bool acc, bool g16, bool d16, bool stream) {
  if (d16) {
    if (stream && n == 32 && line64(dg) && line64(du)) {
      if (g16) backward_to16_stream32<true>(static_cast<uint16_t*>(dg), static_cast<uint16_t*>(du), dy, g, u);
      else backward_to16_stream32<false>(static_cast<uint16_t*>(dg), static_cast<uint16_t*>(du), dy, g, u);
      return;
    }
    if (g16) backward_to16<true>(static_cast<uint16_t*>(dg), static_cast<uint16_t*>(du), dy, g, u, n);
    else backward_to16<false>(static_cast<uint16_t*>(dg), static_cast<uint16_t*>(du), dy, g, u, n);
    return;
  }
  if (!g16) {
    swiglu_backward_pair_bf16_avx512(static_cast<float*>(dg), static_cast<float*>(du), dy, static_cast<const float*>(g),
                                     static_cast<const float*>(u), n, acc);
    return;
  }
  alignas(64) float gw[64], uw[64];
  for (long h = 0; h < n; h += 64) {
    long c = n - h < 64 ? n - h : 64;
    for (long j = 0; j < c; j++) {
      uint32_t a = (uint32_t) static_cast<const uint16_t*>(g)[h + j] << 16, b = (uint32_t) static_cast<const uint16_t*>(u)[h + j] << 16;
      __builtin_memcpy(gw + j, &a, 4);
      __builtin_memcpy(uw + j, &b, 4);
    }
    swiglu_backward_pair_bf16_avx512(static_cast<float*>(dg) + h, static_cast<float*>(du) + h, dy + h, gw, uw, c, acc);
  }
}

}  // namespace trm
