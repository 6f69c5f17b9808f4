// fast_exp.h: the exp used by SwiGLU, in a form that vectorises on FMA hardware: exp(-g) for -g clamped to [-87, 88],
// +inf above 88 (Cody-Waite reduction by ln 2, Cephes' degree-7 polynomial, 2^n from the exponent bits;
// about 1 ulp against the exact value), its reduction and polynomial as FMAs. The AVX2 and AVX-512 twins
// (swiglu_avx2.cpp, swiglu_avx512.cpp) run the same IEEE operations per lane (VRNDSCALEPS and VSCALEFPS
// where they give the same values; AVX2 adds n to the exponent bits, which differs only where both
// values are below 2^-24 and 1 + e = 1, and leaves the lanes the last line replaces unclamped), so SwiGLU
// gives the same bits on every dispatch path and for every thread count. Internal linkage (static): the
// ISA file's copy never replaces the baseline one at link time.
#pragma once
#include <cstdint>

namespace trm {
namespace fexp {
constexpr float kLo = -87.0f, kHi = 88.0f;  // 2^n stays a normal float: n in [-126, 127]
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: (t + kRound) - kRound rounds t to nearest-even
constexpr float kC1 = 0.693359375f, kC2 = -2.12194440e-4f;  // ln 2 = C1 + C2, C1 * n exact
constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f,
                kP3 = 4.1665795894e-2f, kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;
}  // namespace fexp

// exp(-g), the form SwiGLU needs (silu(g) = g / (1 + exp(-g))), with x = -g never formed: m = min(g, -kLo) =
// -x, and every step is the negation of the textbook one (round to nearest is symmetric), so the value is
// exp(x)'s: n = round(m * -log2e) (= round(x log2e)), q = m + n C1 + n C2 (= -r, r = x - n ln 2 in two
// parts), Horner's P - p q (= P + p r), then q (q p - 1) + 1 (= p r^2 + r + 1), times 2^n. The reduction
// and the polynomial run as FMAs (one rounding each): the vector twins (swiglu_avx2.cpp exp_neg8v,
// swiglu_avx512.cpp exp16_neg) issue the same FMAs, so every dispatch path gives the same bits; the
// products and sums as separate operations cost a third more (2-vCPU Zen 5: 11.4 against 8.1 cycles per
// 16 lanes, the step x1.03 on one thread). The clamp to -kHi changes only what the last line replaces.
static inline float fast_exp_neg(float g) {
  using namespace fexp;
  float m = g < -kLo ? g : -kLo;  // (a NaN g gives -kLo here: SwiGLU's g / (1 + e) stays NaN)
  m = m > -kHi ? m : -kHi;
  const float t = m * -kLog2e;
  const float n = (t + kRound) - kRound;
  float q = __builtin_fmaf(n, kC1, m);
  q = __builtin_fmaf(n, kC2, q);
  float p = kP0;
  p = __builtin_fmaf(-p, q, kP1);
  p = __builtin_fmaf(-p, q, kP2);
  p = __builtin_fmaf(-p, q, kP3);
  p = __builtin_fmaf(-p, q, kP4);
  p = __builtin_fmaf(-p, q, kP5);
  float y = __builtin_fmaf(q, __builtin_fmaf(q, p, -1.0f), 1.0f);
  int32_t bits = ((int32_t)n + 127) << 23;
  y = y * __builtin_bit_cast(float, bits);
  return g < -kHi ? __builtin_inff() : y;
}

}  // namespace trm
