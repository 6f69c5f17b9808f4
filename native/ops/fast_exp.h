// fast_exp.h: the exp used by SwiGLU, in a form that vectorises: exp(x) for x clamped to
// [-87, 88], +inf above 88 (Cody-Waite reduction by ln 2, Cephes' degree-7 polynomial, 2^n from the exponent
// bits; about 1 ulp against the exact value). The AVX-512 twin (swiglu_avx512.cpp, exp16_neg) runs an
// exact rewrite of these IEEE operations (negated intermediates, VRNDSCALEPS, VSCALEFPS: the same
// bits, no FMA contraction: the addon is compiled without FMA outside the ISA files, and that file
// does its own mul and add), so SwiGLU gives the same bits on every dispatch path and for every
// thread count. Internal linkage (static): the ISA
// file's copy never replaces the baseline one at link time.
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

static inline float fast_exp(float x0) {
  using namespace fexp;
  float x = x0 < kLo ? kLo : x0;  // maxps / minps when vectorised (a NaN gate stays NaN in SwiGLU)
  x = x > kHi ? kHi : x;
  float n = (x * kLog2e + kRound) - kRound;
  float r = x - n * kC1;
  r = r - n * kC2;
  float p = kP0;
  p = p * r + kP1;
  p = p * r + kP2;
  p = p * r + kP3;
  p = p * r + kP4;
  p = p * r + kP5;
  float y = (p * (r * r) + r) + 1.0f;
  int32_t bits = ((int32_t)n + 127) << 23;
  y = y * __builtin_bit_cast(float, bits);
  return x0 > kHi ? __builtin_inff() : y;
}

}  // namespace trm
