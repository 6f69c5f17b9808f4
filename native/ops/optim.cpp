// optim.cpp: flat in-place optimizer steps and the EMA (reference/trm-algorithm.md 7 and 8).
// Each element is updated in float64 from its float32 state and rounded once on store.
//   AdamATan2 (7.2, adam-atan2 csrc/adam_atan2.cu), no epsilon:
//     p <- p (1 - lr wd); m <- m + (1 - b1)(g - m); v <- v + (1 - b2)(g^2 - v)
//     p <- p - lr / (1 - b1^t) * atan2(m, sqrt(v) / sqrt(1 - b2^t))   (atan2: fast_atan2.h)
//   AdamW (7.3): p <- p (1 - lr wd) - lr * mhat / (sqrt(vhat) + eps)
//   SignSGD (7.1): p <- p (1 - lr wd) - lr * sign(g), sign(0) = 0
//   EMA (8): shadow <- decay * shadow + (1 - decay) * param
// No FMA contraction: the scalar loop and the AVX2 twin (optim_avx2.cpp) run the same roundings.
#pragma GCC optimize("fp-contract=off")
#include <cmath>

#include "../cpu_features.h"
#include "ops.h"
#include "optim_rows.h"

namespace trm {

void adam_atan2_rows_avx2(float* param, float* m, float* v, const float* grad, long lo, long hi,
                          const AdamAtan2Consts& k);

// atan2 is fast_atan2.h's (Cephes' rational approximation, within 2 ulp of libm's in float64), not
// std::atan2: libm's took ~40 cycles per weight, a twentieth of a cpu-sudoku4 training step on Zen 2.
void adam_atan2_step(float* param, float* m, float* v, const float* grad, long n, double lr, double beta1,
                     double beta2, double wd, long step) {
  const AdamAtan2Consts k{1.0 - beta1, 1.0 - beta2, lr / (1.0 - std::pow(beta1, (double)step)),
                          std::sqrt(1.0 - std::pow(beta2, (double)step)), 1.0 - lr * wd};
#if defined(__x86_64__)
  const bool avx2 = active_isa() != Isa::Portable;
#else
  const bool avx2 = false;
#endif
  parallel_for(n, n, [&](long lo, long hi) {
#if defined(__x86_64__)
    if (avx2) return adam_atan2_rows_avx2(param, m, v, grad, lo, hi, k);
#endif
    for (long i = lo; i < hi; i++) adam_atan2_element(param, m, v, grad, i, k);
  });
}

void adamw_step(float* param, float* m, float* v, const float* grad, long n, double lr, double beta1,
                double beta2, double eps, double wd, long step) {
  double bc1 = 1.0 - std::pow(beta1, (double)step), bc2 = 1.0 - std::pow(beta2, (double)step);
  double decay = 1.0 - lr * wd;
  parallel_for(n, n, [&](long lo, long hi) {
    for (long i = lo; i < hi; i++) {
      double g = grad[i];
      double mi = beta1 * m[i] + (1.0 - beta1) * g;
      double vi = beta2 * v[i] + (1.0 - beta2) * g * g;
      param[i] = (float)(param[i] * decay - lr * (mi / bc1) / (std::sqrt(vi / bc2) + eps));
      m[i] = (float)mi;
      v[i] = (float)vi;
    }
  });
}

void sign_sgd_rows(float* param, const float* grad, const int32_t* rows, long n_rows, long width, double lr, double wd) {
  double decay = 1.0 - lr * wd;
  parallel_for(n_rows, n_rows * width, [&](long lo, long hi) {
    for (long r = lo; r < hi; r++) {
      float* p = param + (long)rows[r] * width;
      const float* g = grad + (long)rows[r] * width;
      for (long i = 0; i < width; i++) {
        double sign = (g[i] > 0) - (g[i] < 0);
        p[i] = (float)(p[i] * decay - lr * sign);
      }
    }
  });
}

void ema_update(float* shadow, const float* param, long n, double decay) {
  parallel_for(n, n, [&](long lo, long hi) {
    for (long i = lo; i < hi; i++) shadow[i] = (float)(decay * shadow[i] + (1.0 - decay) * param[i]);
  });
}

}  // namespace trm
