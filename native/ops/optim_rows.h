// optim_rows.h: one AdamATan2 element update (reference/trm-algorithm.md 7.2), the scalar body that
// optim.cpp's loop runs and that optim_avx2.cpp runs for the tail past its whole vectors: the same
// float64 operations as the vector lanes, so the same bits on every path. The element update has internal
// linkage (each includer compiles its own copy for its target).
#pragma once
#include <cmath>

#include "fast_atan2.h"

namespace trm {

struct AdamAtan2Consts {
  double c1, c2, step_size, sqrt_bc2, decay;  // 1 - beta1, 1 - beta2, lr / (1 - beta1^t), sqrt(1 - beta2^t), 1 - lr wd
};

namespace {

inline void adam_atan2_element(float* param, float* m, float* v, const float* grad, long i, const AdamAtan2Consts& k) {
  const double g = grad[i];
  const double mi = m[i] + k.c1 * (g - m[i]);
  const double vi = v[i] + k.c2 * (g * g - v[i]);
  param[i] = (float)(param[i] * k.decay - k.step_size * fast_atan2(mi, __builtin_sqrt(vi) / k.sqrt_bc2));
  m[i] = (float)mi;
  v[i] = (float)vi;
}

}  // namespace
}  // namespace trm
