// swiglu_avx512.cpp: SwiGLU's row loops on 16 lanes, the IEEE operations of fast_exp.h and swiglu.cpp
// or an exact rewrite of them (exp16_neg: fast_exp_neg's FMAs as FMAs, every other product and sum
// separate: the bits equal the baseline path's). Compiled for AVX-512 by a target pragma, like
// gemm/kernel_avx512.cpp; only C headers after it, so nothing here can replace baseline code at link time.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC optimize("fp-contract=off")
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2")
#include <immintrin.h>

#include "fast_exp.h"

namespace trm {
namespace {

// fast_exp_neg(g) on 16 lanes, bitwise (fast_exp.h's operations: its five Horner steps and the two of the
// reduction as FMAs, the rest separate), in 15 operations: n rounded to nearest even by VRNDSCALEPS as
// (t + kRound) - kRound rounds it (only the sign of a zero n can differ, and n = +-0 leaves q = m and 2^n = 1
// alike); 2^n applied by VSCALEFPS, masked: lanes with g < -kHi (NaN excluded) take +inf, so the -kHi
// clamp, which changes only those, is dropped; elsewhere n is in [-126, 127] and y * 2^n as the exponent
// bits give it (y in [0.7, 1.5), above 1 where n = -126: never subnormal). test/kernels/swiglu-isa.test.ts
// compares it with the portable path over a sweep of bit patterns, the clamp edges included.
inline __m512 exp16_neg(__m512 g) {
  using namespace fexp;
  __m512 m = _mm512_min_ps(g, _mm512_set1_ps(-kLo));
  __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(m, _mm512_set1_ps(-kLog2e)),
                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 q = _mm512_fmadd_ps(n, _mm512_set1_ps(kC1), m);
  q = _mm512_fmadd_ps(n, _mm512_set1_ps(kC2), q);
  __m512 p = _mm512_set1_ps(kP0);
  p = _mm512_fnmadd_ps(p, q, _mm512_set1_ps(kP1));
  p = _mm512_fnmadd_ps(p, q, _mm512_set1_ps(kP2));
  p = _mm512_fnmadd_ps(p, q, _mm512_set1_ps(kP3));
  p = _mm512_fnmadd_ps(p, q, _mm512_set1_ps(kP4));
  p = _mm512_fnmadd_ps(p, q, _mm512_set1_ps(kP5));
  const __m512 one = _mm512_set1_ps(1.0f);
  __m512 y = _mm512_fmadd_ps(q, _mm512_fmsub_ps(q, p, one), one);
  __mmask16 kept = _mm512_cmp_ps_mask(g, _mm512_set1_ps(-kHi), _CMP_NLT_UQ);
  return _mm512_mask_scalef_ps(_mm512_set1_ps(__builtin_inff()), kept, y, n);
}

inline __mmask16 tail_mask(long left) { return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1); }

// SwiGLU of 16 lanes from the gate, the up value and e = exp(-gate): silu(g) * u, as g / (1 + e) * u.
inline __m512 swiglu16(__m512 gv, __m512 uv, __m512 e) {
  return _mm512_mul_ps(_mm512_div_ps(gv, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), uv);
}
// sigmoid(g) = 1 / (1 + exp(-g))
inline __m512 sigmoid16(__m512 gv) {
  const __m512 one = _mm512_set1_ps(1.0f);
  return _mm512_div_ps(one, _mm512_add_ps(one, exp16_neg(gv)));
}
// SwiGLU's backward terms of 16 lanes: the gate's d * u * sig * (1 + g (1 - sig)) and the up's d * g * sig.
inline __m512 dgate16(__m512 d, __m512 gv, __m512 uv, __m512 sig) {
  const __m512 one = _mm512_set1_ps(1.0f);
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(d, uv), sig),
                       _mm512_add_ps(one, _mm512_mul_ps(gv, _mm512_sub_ps(one, sig))));
}
inline __m512 dup16(__m512 d, __m512 gv, __m512 sig) { return _mm512_mul_ps(_mm512_mul_ps(d, gv), sig); }

// SwiGLU's backward of V whole vectors side by side (their exp chains overlap): vector v reads g and u
// at og(v), dy at oy(v), and adds into dg and du at od(v); acc = false writes 0 + d.
template <int V, class OD, class OY, class OG>
inline void backward16xV(float* dg, float* du, const float* dy, const float* g, const float* u, OD od, OY oy, OG og,
                         bool acc) {
  const __m512 zero = _mm512_setzero_ps();
  __m512 gv[V], uv[V], d[V], sig[V];
#pragma GCC unroll 4
  for (int v = 0; v < V; v++) {
    gv[v] = _mm512_loadu_ps(g + og(v));
    uv[v] = _mm512_loadu_ps(u + og(v));
    d[v] = _mm512_loadu_ps(dy + oy(v));
  }
#pragma GCC unroll 4
  for (int v = 0; v < V; v++) sig[v] = sigmoid16(gv[v]);
#pragma GCC unroll 4
  for (int v = 0; v < V; v++) {
    const __m512 a = dgate16(d[v], gv[v], uv[v], sig[v]), b = dup16(d[v], gv[v], sig[v]);
    _mm512_storeu_ps(dg + od(v), _mm512_add_ps(acc ? _mm512_loadu_ps(dg + od(v)) : zero, a));
    _mm512_storeu_ps(du + od(v), _mm512_add_ps(acc ? _mm512_loadu_ps(du + od(v)) : zero, b));
  }
}

}  // namespace

// one row of SwiGLU with gate and up at separate addresses (the fused gate_up GEMM's epilogue).
// Eight vectors per step while they last: the same operations per lane, eight independent chains
// for the out-of-order core to overlap (one exp is a chain of ~15 dependent operations).
void swiglu_pair_avx512(float* y, const float* g, const float* u, long n) {
  long h = 0;
  for (; h + 128 <= n; h += 128) {
    __m512 gv[8], uv[8], e[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) {
      gv[j] = _mm512_loadu_ps(g + h + 16 * j);
      uv[j] = _mm512_loadu_ps(u + h + 16 * j);
    }
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) e[j] = exp16_neg(gv[j]);
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
      _mm512_storeu_ps(y + h + 16 * j, swiglu16(gv[j], uv[j], e[j]));
  }
  for (; h < n; h += 16) {
    __mmask16 m = tail_mask(n - h);
    __m512 gv = _mm512_maskz_loadu_ps(m, g + h), uv = _mm512_maskz_loadu_ps(m, u + h);
    __m512 e = exp16_neg(gv);
    __m512 v = swiglu16(gv, uv, e);
    _mm512_mask_storeu_ps(y + h, m, v);
  }
}

// swiglu_pair_avx512 over rows of D (D a multiple of 32; up at u) written as the down product's packed
// B panels (the AVX-512 kernel's NR = 32 columns, k-major: element (k, c) at
// yp[(c / 32) * pstride + k * 32 + c % 32]) and, when y is not null, also row-major at y. The same
// operations per element as swiglu_pair_avx512, so the same bits.
void swiglu_panels_avx512(float* yp, long pstride, float* y, const float* g, const float* u, long rows, long D) {
  const long n = rows * D;
  for (long h = 0; h < n; h += 128) {
    __m512 gv[8], uv[8], e[8];
    const int nv = n - h >= 128 ? 8 : (int)((n - h) / 16);
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
      if (j < nv) {
        gv[j] = _mm512_loadu_ps(g + h + 16 * j);
        uv[j] = _mm512_loadu_ps(u + h + 16 * j);
      }
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
      if (j < nv) e[j] = exp16_neg(gv[j]);
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
      if (j < nv) {
        const long el = h + 16 * j, k = el / D, c = el % D;
        const __m512 v = swiglu16(gv[j], uv[j], e[j]);
        _mm512_storeu_ps(yp + (c >> 5) * pstride + k * 32 + (c & 31), v);
        if (y) _mm512_storeu_ps(y + el, v);
      }
  }
}

// swiglu_pair_avx512 over a register tile of mr rows of 32 (g, u rows ldt apart; y rows ldy apart):
// two rows (four vectors) side by side, with no call or tail per row (the fused GEMM epilogues call
// this once per tile). The same operations per lane, so the same bits. Other widths: row by row.
void swiglu_tile_avx512(float* y, long ldy, const float* g, const float* u, long ldt, long mr, long nr) {
  if (nr != 32) {
    for (long i = 0; i < mr; i++) swiglu_pair_avx512(y + i * ldy, g + i * ldt, u + i * ldt, nr);
    return;
  }
  long i = 0;
  for (; i + 2 <= mr; i += 2) {
    __m512 gv[4], uv[4], e[4];
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++) {
      const long o = (v >> 1) * ldt + 16 * (v & 1);
      gv[v] = _mm512_loadu_ps(g + i * ldt + o);
      uv[v] = _mm512_loadu_ps(u + i * ldt + o);
    }
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++) e[v] = exp16_neg(gv[v]);
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++)
      _mm512_storeu_ps(y + (i + (v >> 1)) * ldy + 16 * (v & 1), swiglu16(gv[v], uv[v], e[v]));
  }
  if (i < mr) swiglu_pair_avx512(y + i * ldy, g + i * ldt, u + i * ldt, 32);
}

void swiglu_forward_rows_avx512(float* out, const float* gate_up, long r0, long r1, long H) {
  for (long i = r0; i < r1; i++) swiglu_pair_avx512(out + i * H, gate_up + i * 2 * H, gate_up + i * 2 * H + H, H);
}

// one row of SwiGLU's backward with every operand at its own address; acc = false writes 0 + d
// (bitwise a zeroed dgate_up accumulated into, without reading it).
void swiglu_backward_pair_avx512(float* dg, float* du, const float* dy, const float* g, const float* u, long n,
                                 bool acc) {
  const __m512 zero = _mm512_setzero_ps();
  long h = 0;
  // whole vectors in pairs (a tile row of 32 is one pair): two independent chains per step
  for (; h + 32 <= n; h += 32) {
    const auto o = [h](int v) { return h + 16 * v; };
    backward16xV<2>(dg, du, dy, g, u, o, o, o, acc);
  }
  for (; h < n; h += 16) {
    __mmask16 m = tail_mask(n - h);
    __m512 gv = _mm512_maskz_loadu_ps(m, g + h), uv = _mm512_maskz_loadu_ps(m, u + h),
           d = _mm512_maskz_loadu_ps(m, dy + h);
    const __m512 sig = sigmoid16(gv), a = dgate16(d, gv, uv, sig), b = dup16(d, gv, sig);
    _mm512_mask_storeu_ps(dg + h, m, _mm512_add_ps(acc ? _mm512_maskz_loadu_ps(m, dg + h) : zero, a));
    _mm512_mask_storeu_ps(du + h, m, _mm512_add_ps(acc ? _mm512_maskz_loadu_ps(m, du + h) : zero, b));
  }
}

// swiglu_backward_pair_avx512 over a register tile of mr rows of 32 (dg, du rows ldd apart; dy rows
// ldy; g, u rows ldg), two rows (four vectors) side by side, as swiglu_tile_avx512: the same bits.
void swiglu_backward_tile_avx512(float* dg, float* du, long ldd, const float* dy, long ldy, const float* g,
                                 const float* u, long ldg, long mr, long nr, bool acc) {
  if (nr != 32) {
    for (long i = 0; i < mr; i++)
      swiglu_backward_pair_avx512(dg + i * ldd, du + i * ldd, dy + i * ldy, g + i * ldg, u + i * ldg, nr, acc);
    return;
  }
  long i = 0;
  for (; i + 2 <= mr; i += 2) {
    // vector v: row i + v / 2, columns 16 (v % 2) on
    const auto at = [i](long ld) { return [i, ld](int v) { return (i + (v >> 1)) * ld + 16 * (v & 1); }; };
    backward16xV<4>(dg, du, dy, g, u, at(ldd), at(ldy), at(ldg), acc);
  }
  if (i < mr)
    swiglu_backward_pair_avx512(dg + i * ldd, du + i * ldd, dy + i * ldy, g + i * ldg, u + i * ldg, 32, acc);
}

void swiglu_backward_rows_avx512(float* dgate_up, const float* dout, const float* gate_up, long r0, long r1, long H) {
  for (long i = r0; i < r1; i++) {
    const float* g = gate_up + i * 2 * H;
    float* dg = dgate_up + i * 2 * H;
    swiglu_backward_pair_avx512(dg, dg + H, dout + i * H, g, g + H, H, true);
  }
}

}  // namespace trm
