// dot_f64.h: the dot product of two float rows in float64 with eight partial sums in a fixed lane
// order, the one body behind ops.h's dot_f64 and rmsnorm_rows.h. Internal linkage (an anonymous
// namespace per includer): the AVX-512 file that includes it (rmsnorm_avx512.cpp) compiles its own
// copy, which can never replace the baseline one at link time. Same IEEE operations in the same
// order in every copy, so the same bits.
#pragma once

namespace trm {
namespace {

inline double dot_f64_lanes(const float* a, const float* b, long n) {
  double acc[8] = {0};
  long i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; j++) acc[j] += (double)a[i + j] * b[i + j];
  for (; i < n; i++) acc[0] += (double)a[i] * b[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

}  // namespace
}  // namespace trm
