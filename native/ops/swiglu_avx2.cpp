// swiglu_avx2.cpp: SwiGLU's row loops on 8 lanes (AVX2 + FMA), the exact IEEE operations of
// fast_exp.h and swiglu.cpp in the same order (fast_exp_neg's FMAs as FMAs, every other product and sum
// separate: the bits equal the baseline and AVX-512 paths'). Compiled for AVX2 by a target pragma, like
// gemm/kernel_avx2.cpp; only C headers after it, so nothing here can replace baseline code at
// link time.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC optimize("fp-contract=off")
#pragma GCC target("avx2,fma")
#include <immintrin.h>

#include "fast_exp.h"

namespace trm {
namespace {

// exp(-g) of V vectors side by side (e[v] = fast_exp_neg(g(v)) per lane): each operation applied to all V
// before the next, fast_exp.h's operations in its order (its FMAs as FMAs, the rest separate: the same
// bits). One exp is a chain of ~18 dependent operations; row by row (16 columns: two vectors) the
// out-of-order window did not hold enough chains to cover it, and a GEMM tile's SwiGLU epilogue cost
// twice what four chains at once do (standalone, Zen 3: 157 vs 79 ns per 6 x 16 tile). The gates come
// from g(v), asked twice (the reduction, then the overflow test) instead of held: with four chains the 16
// ymm registers go to their n, q and p (holding the inputs too, the tile backward ran 8% slower).
// More chains cover more of the latency even though n, q and p then spill: a row runs eight at a time
// (kRowV), a 6 x 16 tile six (kTileV: three rows). On Zen 2, whose FP scheduler holds about one
// four-chain group, SwiGLU's backward in L1 went 22 -> 16 cycles per vector (rows) and 22 -> 18 (tiles),
// the forward 15 -> 13; bench-ab-step cpu-sudoku4 1.014-1.015x, cpu-sudoku9 1.008-1.014x. Twelve at once
// spilled more and ran slower than six.
// 2^n is added to y's exponent bits (n << 23, read off t + kRound's low bits) instead of multiplied in
// as fast_exp_neg does (cvtt, add, shift, mul): one FMA-port product fewer and a shorter chain
// (SwiGLU in L1, Zen 2: forward 12.6 -> 11.8 cycles a vector, backward 18.2 -> 17.6). The two agree
// wherever y 2^n is a normal float, n >= -125; at n = -126 (gate >= 86.98) the product is subnormal
// and the sum is not, but both are below 2^-24, so 1 + e = 1 and SwiGLU's outputs keep their bits:
// checked for all 2^32 gates, forward and backward (and test/kernels/swiglu-isa.test.ts's sweep).
// Two more changes shorten the chain without changing a bit: n = round(t) (VROUNDPS, to nearest even)
// in place of (t + kRound) - kRound, which equal each other for |t| < 2^22, i.e. wherever m is kept
// (t + kRound still gives the exponent bits, beside the chain); and no clamp of m at -kHi, whose lanes
// (g < -kHi) the last blend replaces by +inf whatever the reduction made of them (NaN gates: min
// returns -kLo, as before). SwiGLU in L1, Zen 2: forward 16.1 -> 14.6 "cycles" a vector at an assumed
// 3.3 GHz, backward 22.0 -> 21.0; checked for all 2^32 gates, forward and backward, against the code
// before.
constexpr int kRowV = 8, kTileV = 6;

template <int V, class In>
inline void exp_neg8v(__m256 e[V], In&& g) {
  using namespace fexp;
  const __m256 rnd = _mm256_set1_ps(kRound);
  __m256 n[V], q[V], p[V], nr[V];  // nr: n + kRound (n in its low mantissa bits)
#pragma GCC unroll 8
  for (int v = 0; v < V; v++) {
    q[v] = _mm256_min_ps(g(v), _mm256_set1_ps(-kLo));  // m (no clamp at -kHi: see above)
    const __m256 t = _mm256_mul_ps(q[v], _mm256_set1_ps(-kLog2e));
    nr[v] = _mm256_add_ps(t, rnd);
    n[v] = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    q[v] = _mm256_fmadd_ps(n[v], _mm256_set1_ps(kC1), q[v]);
  }
#pragma GCC unroll 8
  for (int v = 0; v < V; v++) q[v] = _mm256_fmadd_ps(n[v], _mm256_set1_ps(kC2), q[v]);
#pragma GCC unroll 8
  for (int v = 0; v < V; v++) p[v] = _mm256_fnmadd_ps(_mm256_set1_ps(kP0), q[v], _mm256_set1_ps(kP1));
  const float cs[4] = {kP2, kP3, kP4, kP5};
#pragma GCC unroll 4
  for (int c = 0; c < 4; c++)
#pragma GCC unroll 8
    for (int v = 0; v < V; v++) p[v] = _mm256_fnmadd_ps(p[v], q[v], _mm256_set1_ps(cs[c]));
#pragma GCC unroll 8
  for (int v = 0; v < V; v++) {
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 y = _mm256_fmadd_ps(q[v], _mm256_fmsub_ps(q[v], p[v], one), one);
    const __m256i scale = _mm256_slli_epi32(_mm256_castps_si256(nr[v]), 23);  // n << 23
    y = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(y), scale));
    __m256 big = _mm256_cmp_ps(g(v), _mm256_set1_ps(-kHi), _CMP_LT_OQ);
    e[v] = _mm256_blendv_ps(y, _mm256_set1_ps(__builtin_inff()), big);
  }
}

inline __m256 exp_neg8(__m256 g) {
  __m256 e;
  exp_neg8v<1>(&e, [&](int) { return g; });
  return e;
}

// Vectors side by side along 16-float rows ld apart: vector v at (v / 2) ld + (v % 2) 8 (ld = 16:
// consecutive vectors).
inline long off4(int v, long ld) { return (v >> 1) * ld + (v & 1) * 8; }

// exp(-g) of the V vectors at g (rows ldg apart, off4), side by side (exp_neg8v).
template <int V>
inline void exp_neg16xv(__m256 e[V], const float* g, long ldg) {
  exp_neg8v<V>(e, [&](int v) { return _mm256_loadu_ps(g + off4(v, ldg)); });
}

inline __m256i tail_mask(long left) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(left >= 8 ? 8 : (int)left), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

}  // namespace

// silu(g) * u on 8 lanes, from e = exp(-g)
inline __m256 swiglu8(__m256 gv, __m256 uv, __m256 e) {
  return _mm256_mul_ps(_mm256_div_ps(gv, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), uv);
}
inline __m256 swiglu8(__m256 gv, __m256 uv) { return swiglu8(gv, uv, exp_neg8(gv)); }

// swiglu8 of the V vectors at y (rows ldy apart), g and u (rows ldg apart), off4, side by side
// (exp_neg16xv): the same bits as V calls.
template <int V>
inline void swiglu8xv(float* y, long ldy, const float* g, const float* u, long ldg) {
  __m256 e[V];
  exp_neg16xv<V>(e, g, ldg);
#pragma GCC unroll 8
  for (int v = 0; v < V; v++)
    _mm256_storeu_ps(y + off4(v, ldy),
                     swiglu8(_mm256_loadu_ps(g + off4(v, ldg)), _mm256_loadu_ps(u + off4(v, ldg)), e[v]));
}

// One row of SwiGLU with gate and up at separate addresses (the fused gate_up GEMM's epilogue). Whole
// vectors with plain loads and stores, kRowV at a time (swiglu8xv), the tail masked: on AMD a masked
// store is microcoded (one per ~12 cycles on Zen 3) and it cost as much as the exp when every vector
// took one.
void swiglu_pair_avx2(float* y, const float* g, const float* u, long n) {
  long h = 0;
  for (; h + 8 * kRowV <= n; h += 8 * kRowV) swiglu8xv<kRowV>(y + h, 16, g + h, u + h, 16);
  for (; h + 32 <= n; h += 32) swiglu8xv<4>(y + h, 16, g + h, u + h, 16);
  for (; h + 8 <= n; h += 8) _mm256_storeu_ps(y + h, swiglu8(_mm256_loadu_ps(g + h), _mm256_loadu_ps(u + h)));
  if (h < n) {
    __m256i m = tail_mask(n - h);
    _mm256_maskstore_ps(y + h, m, swiglu8(_mm256_maskload_ps(g + h, m), _mm256_maskload_ps(u + h, m)));
  }
}

// swiglu_pair_avx2 of mr rows (y rows ldy apart, g and u rows ldt apart) of a register tile with
// 16-column rows: the tile's vectors kTileV at a time across its rows (rows are two vectors: one at a
// time they left the exp's latency uncovered). Other widths: row by row.
void swiglu_tile_avx2(float* y, long ldy, const float* g, const float* u, long ldt, long mr, long nr) {
  if (nr != 16) {
    for (long i = 0; i < mr; i++) swiglu_pair_avx2(y + i * ldy, g + i * ldt, u + i * ldt, nr);
    return;
  }
  long i = 0;
  for (; i + kTileV / 2 <= mr; i += kTileV / 2) swiglu8xv<kTileV>(y + i * ldy, ldy, g + i * ldt, u + i * ldt, ldt);
  for (; i + 2 <= mr; i += 2) swiglu8xv<4>(y + i * ldy, ldy, g + i * ldt, u + i * ldt, ldt);
  if (i < mr)
    for (long j = 0; j < 16; j += 8)
      _mm256_storeu_ps(y + i * ldy + j, swiglu8(_mm256_loadu_ps(g + i * ldt + j), _mm256_loadu_ps(u + i * ldt + j)));
}

// swiglu_panels_avx2 for D a multiple of 8 kRowV (whole groups of kRowV vectors per row: their panel
// offsets fixed). KEPT: y, and the operands g and u as read (to gk, uk), streamed past the caches
// (y, gk, uk 32-byte aligned; swiglu_panels_kept).
template <bool KEPT>
void swiglu_panels_fixed(float* yp, long pstride, float* y, const float* g, const float* u, float* gk, float* uk,
                         long rows, long D) {
  for (long k = 0; k < rows; k++)
    for (long c0 = 0; c0 < D; c0 += 8 * kRowV) {
      const long h0 = k * D + c0;
      __m256 e[kRowV];
      exp_neg8v<kRowV>(e, [&](int v) { return _mm256_loadu_ps(g + h0 + 8 * v); });
      float* dst = yp + (c0 >> 4) * pstride + k * 16;
#pragma GCC unroll 8
      for (int v = 0; v < kRowV; v++) {
        const __m256 gv = _mm256_loadu_ps(g + h0 + 8 * v), uv = _mm256_loadu_ps(u + h0 + 8 * v);
        const __m256 r = swiglu8(gv, uv, e[v]);
        _mm256_storeu_ps(dst + (v >> 1) * pstride + (v & 1) * 8, r);
        if (KEPT) {
          _mm256_stream_ps(y + h0 + 8 * v, r);
          _mm256_stream_ps(gk + h0 + 8 * v, gv);
          _mm256_stream_ps(uk + h0 + 8 * v, uv);
        } else if (y) {
          _mm256_storeu_ps(y + h0 + 8 * v, r);
        }
      }
    }
}

void swiglu_panels_kept_avx2(float* yp, long pstride, float* y, const float* g, const float* u, float* gk, float* uk,
                             long rows, long D) {
  swiglu_panels_fixed<true>(yp, pstride, y, g, u, gk, uk, rows, D);
  _mm_sfence();  // the streamed stores are visible before the caller's region ends
}

// swiglu_pair_avx2 of rows of D (D a multiple of 16; the gate at g, the up at u, rows D apart) written as
// the AVX2 kernel's packed B panels of 16 columns (element (k, c) at yp[(c / 16) * pstride + k * 16 + c % 16])
// and, y not null, also row-major at y: the down product's B without a pack of its own. Vectors kRowV at
// a time along the rows (a vector never crosses a row or a panel); the same operations per lane as
// swiglu_pair_avx2, so the same bits.
void swiglu_panels_avx2(float* yp, long pstride, float* y, const float* g, const float* u, long rows, long D) {
  if (D % (8 * kRowV) == 0) return swiglu_panels_fixed<false>(yp, pstride, y, g, u, nullptr, nullptr, rows, D);
  const long n = rows * D;
  long h = 0, k = 0, c = 0;  // (k, c): the row and column of element h
  auto store = [&](__m256 v) {
    _mm256_storeu_ps(yp + (c >> 4) * pstride + k * 16 + (c & 15), v);
    if (y) _mm256_storeu_ps(y + h, v);
    h += 8;
    if ((c += 8) == D) c = 0, k++;
  };
  for (; h + 8 * kRowV <= n;) {
    __m256 e[kRowV];
    exp_neg8v<kRowV>(e, [&](int v) { return _mm256_loadu_ps(g + h + 8 * v); });
    const long h0 = h;
#pragma GCC unroll 8
    for (int v = 0; v < kRowV; v++)
      store(swiglu8(_mm256_loadu_ps(g + h0 + 8 * v), _mm256_loadu_ps(u + h0 + 8 * v), e[v]));
  }
  while (h < n) store(swiglu8(_mm256_loadu_ps(g + h), _mm256_loadu_ps(u + h)));
}

void swiglu_forward_rows_avx2(float* out, const float* gate_up, long r0, long r1, long H) {
  for (long i = r0; i < r1; i++) swiglu_pair_avx2(out + i * H, gate_up + i * 2 * H, gate_up + i * 2 * H + H, H);
}

// SwiGLU's backward on 8 lanes; acc = false writes 0 + d. TAIL: masked loads and stores with m (the
// row's last, partial vector), else plain ones (see swiglu_pair_avx2). exp_of(gv): exp(-g), computed
// here (exp_neg8) or handed in from chains run side by side (swiglu_backward8xv).
template <bool TAIL, class Exp>
inline void swiglu_backward8(float* dg, float* du, const float* dy, const float* g, const float* u, bool acc,
                             __m256i m, Exp&& exp_of) {
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  auto load = [&](const float* p) { return TAIL ? _mm256_maskload_ps(p, m) : _mm256_loadu_ps(p); };
  auto store = [&](float* p, __m256 v) {
    if (TAIL) _mm256_maskstore_ps(p, m, v);
    else _mm256_storeu_ps(p, v);
  };
  __m256 gv = load(g), uv = load(u), d = load(dy);
  __m256 sig = _mm256_div_ps(one, _mm256_add_ps(one, exp_of(gv)));
  __m256 a = _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(d, uv), sig),
                           _mm256_add_ps(one, _mm256_mul_ps(gv, _mm256_sub_ps(one, sig))));
  store(dg, _mm256_add_ps(acc ? load(dg) : zero, a));
  __m256 b = _mm256_mul_ps(_mm256_mul_ps(d, gv), sig);
  store(du, _mm256_add_ps(acc ? load(du) : zero, b));
}
template <bool TAIL>
inline void swiglu_backward8(float* dg, float* du, const float* dy, const float* g, const float* u, bool acc,
                             __m256i m) {
  swiglu_backward8<TAIL>(dg, du, dy, g, u, acc, m, [&](__m256 gv) { return exp_neg8(gv); });
}

// swiglu_backward8<false> of the V vectors at dg, du (rows ldd apart), dy (ldy), g, u (ldg), off4,
// side by side (exp_neg16xv): the same bits as V calls.
template <int V>
inline void swiglu_backward8xv(float* dg, float* du, long ldd, const float* dy, long ldy, const float* g,
                               const float* u, long ldg, bool acc) {
  const __m256i all = _mm256_set1_epi32(-1);
  __m256 e[V];
  exp_neg16xv<V>(e, g, ldg);
#pragma GCC unroll 8
  for (int v = 0; v < V; v++) {
    const long od = off4(v, ldd), og = off4(v, ldg);
    swiglu_backward8<false>(dg + od, du + od, dy + off4(v, ldy), g + og, u + og, acc, all,
                            [&](__m256) { return e[v]; });
  }
}

// one row of SwiGLU's backward with every operand at its own address
void swiglu_backward_pair_avx2(float* dg, float* du, const float* dy, const float* g, const float* u, long n,
                               bool acc) {
  const __m256i all = _mm256_set1_epi32(-1);
  long h = 0;
  for (; h + 8 * kRowV <= n; h += 8 * kRowV) swiglu_backward8xv<kRowV>(dg + h, du + h, 16, dy + h, 16, g + h, u + h, 16, acc);
  for (; h + 32 <= n; h += 32) swiglu_backward8xv<4>(dg + h, du + h, 16, dy + h, 16, g + h, u + h, 16, acc);
  for (; h + 8 <= n; h += 8) swiglu_backward8<false>(dg + h, du + h, dy + h, g + h, u + h, acc, all);
  if (h < n) swiglu_backward8<true>(dg + h, du + h, dy + h, g + h, u + h, acc, tail_mask(n - h));
}

// swiglu_backward_pair_avx2 of mr rows of a register tile with 16-column rows (dg, du rows ldd apart,
// dy rows ldy apart, g, u rows ldg apart): kTileV vectors at a time across the rows, as swiglu_tile_avx2.
void swiglu_backward_tile_avx2(float* dg, float* du, long ldd, const float* dy, long ldy, const float* g,
                               const float* u, long ldg, long mr, long nr, bool acc) {
  if (nr != 16) {
    for (long i = 0; i < mr; i++)
      swiglu_backward_pair_avx2(dg + i * ldd, du + i * ldd, dy + i * ldy, g + i * ldg, u + i * ldg, nr, acc);
    return;
  }
  const __m256i all = _mm256_set1_epi32(-1);
  long i = 0;
  for (; i + kTileV / 2 <= mr; i += kTileV / 2)
    swiglu_backward8xv<kTileV>(dg + i * ldd, du + i * ldd, ldd, dy + i * ldy, ldy, g + i * ldg, u + i * ldg, ldg, acc);
  for (; i + 2 <= mr; i += 2)
    swiglu_backward8xv<4>(dg + i * ldd, du + i * ldd, ldd, dy + i * ldy, ldy, g + i * ldg, u + i * ldg, ldg, acc);
  if (i < mr)
    for (long j = 0; j < 16; j += 8)
      swiglu_backward8<false>(dg + i * ldd + j, du + i * ldd + j, dy + i * ldy + j, g + i * ldg + j, u + i * ldg + j,
                              acc, all);
}

void swiglu_backward_rows_avx2(float* dgate_up, const float* dout, const float* gate_up, long r0, long r1, long H) {
  for (long i = r0; i < r1; i++) {
    const float* g = gate_up + i * 2 * H;
    float* dg = dgate_up + i * 2 * H;
    swiglu_backward_pair_avx2(dg, dg + H, dout + i * H, g, g + H, H, true);
  }
}

}  // namespace trm
