// optim.cpp: flat in-place optimizer steps and the EMA (reference/trm-algorithm.md 7 and 8).
// Each element is updated in float64 from its float32 state and rounded once on store.
//   AdamATan2 (7.2, adam-atan2 csrc/adam_atan2.cu), no epsilon:
//     p <- p (1 - lr wd); m <- m + (1 - b1)(g - m); v <- v + (1 - b2)(g^2 - v)
//     p <- p - lr / (1 - b1^t) * atan2(m, sqrt(v) / sqrt(1 - b2^t))
//   AdamW (7.3): p <- p (1 - lr wd) - lr * mhat / (sqrt(vhat) + eps)
//   SignSGD (7.1): p <- p (1 - lr wd) - lr * sign(g), sign(0) = 0
//   EMA (8): shadow <- decay * shadow + (1 - decay) * param
#include <cmath>

#include "ops.h"

namespace trm {

void adam_atan2_step(float* param, float* m, float* v, const float* grad, long n, double lr, double beta1,
                     double beta2, double wd, long step) {
  double step_size = lr / (1.0 - std::pow(beta1, (double)step));
  double sqrt_bc2 = std::sqrt(1.0 - std::pow(beta2, (double)step));
  double decay = 1.0 - lr * wd;
  parallel_for(n, n, [&](long lo, long hi) {
    for (long i = lo; i < hi; i++) {
      double g = grad[i];
      double mi = m[i] + (1.0 - beta1) * (g - m[i]);
      double vi = v[i] + (1.0 - beta2) * (g * g - v[i]);
      param[i] = (float)(param[i] * decay - step_size * std::atan2(mi, std::sqrt(vi) / sqrt_bc2));
      m[i] = (float)mi;
      v[i] = (float)vi;
    }
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
