// losses.cpp: per-token stablemax cross-entropy (reference/trm-algorithm.md 5.1, losses.py:11-32),
// BCE with logits for the halting head (5.2), and the argmax / match counts behind the metrics (6.4).
//
// Stablemax: s(v) = v + 1 for v >= 0, 1 / (1 - v + 1e-30) for v < 0; CE = -log(s(x_l) / sum_j s(x_j)),
// all in float64. Its derivative is s'(v) = 1 for v >= 0 and s(v)^2 for v < 0, so
// d CE / d x_j = s'(x_j) / S - [j == l] s'(x_l) / s(x_l). Rows whose label is ignore_index give 0.
#include <cmath>

#include "ops.h"

namespace trm {

static inline double stablemax_s(double v) { return v >= 0 ? v + 1.0 : 1.0 / (1.0 - v + 1e-30); }
static inline double stablemax_ds(double v) {
  if (v >= 0) return 1.0;
  double s = 1.0 / (1.0 - v + 1e-30);
  return s * s;
}

static double stablemax_sum(const float* x, long V) {
  double S = 0;
  for (long j = 0; j < V; j++) S += stablemax_s(x[j]);
  return S;
}

long first_bad_label(const int32_t* labels, long N, long V, long ignore_index) {
  for (long i = 0; i < N; i++)
    if (labels[i] != ignore_index && (labels[i] < 0 || labels[i] >= V)) return i;
  return -1;
}

void stablemax_ce_forward(float* loss, const float* logits, const int32_t* labels, long N, long V, long ignore_index) {
  parallel_for(N, N * V, [&](long lo, long hi) {
    for (long i = lo; i < hi; i++) {
      if (labels[i] == ignore_index) { loss[i] = 0; continue; }
      const float* x = logits + i * V;
      loss[i] = (float)(std::log(stablemax_sum(x, V)) - std::log(stablemax_s(x[labels[i]])));
    }
  });
}

void stablemax_ce_backward(float* dlogits, const float* dloss, const float* logits, const int32_t* labels,
                           long N, long V, long ignore_index) {
  parallel_for(N, N * V, [&](long lo, long hi) {
    for (long i = lo; i < hi; i++) {
      float* g = dlogits + i * V;
      if (labels[i] == ignore_index) continue;
      const float* x = logits + i * V;
      double c = dloss[i] / stablemax_sum(x, V);
      for (long j = 0; j < V; j++)
        if (j != labels[i]) g[j] = (float)(g[j] + c * stablemax_ds(x[j]));
      double xl = x[labels[i]];
      g[labels[i]] = (float)(g[labels[i]] + (c * stablemax_ds(xl) - dloss[i] * stablemax_ds(xl) / stablemax_s(xl)));
    }
  });
}

void bce_logits_forward(float* loss, const float* logits, const float* targets, long N) {
  parallel_for(N, N, [&](long lo, long hi) {
    for (long i = lo; i < hi; i++) {
      double x = logits[i], t = targets[i];
      loss[i] = (float)((x > 0 ? x : 0) - x * t + std::log1p(std::exp(-std::fabs(x))));
    }
  });
}

void bce_logits_backward(float* dlogits, const float* dloss, const float* logits, const float* targets, long N) {
  parallel_for(N, N, [&](long lo, long hi) {
    for (long i = lo; i < hi; i++) {
      double x = logits[i], e = std::exp(-std::fabs(x));
      double sig = x >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
      dlogits[i] = (float)(dlogits[i] + dloss[i] * (sig - targets[i]));
    }
  });
}

void argmax(int32_t* out, const float* logits, long N, long V) {
  parallel_for(N, N * V, [&](long lo, long hi) {
    for (long i = lo; i < hi; i++) {
      const float* x = logits + i * V;
      long best = 0;
      for (long j = 1; j < V; j++)
        if (x[j] > x[best]) best = j;
      out[i] = (int32_t)best;
    }
  });
}

void match_counts(uint8_t* seq_correct, int32_t* counts, const int32_t* pred, const int32_t* labels,
                  long B, long S, long ignore_index) {
  parallel_for(B, B * S, [&](long lo, long hi) {
    for (long b = lo; b < hi; b++) {
      int32_t valid = 0, correct = 0;
      for (long s = b * S; s < (b + 1) * S; s++) {
        bool v = labels[s] != ignore_index;
        valid += v;
        correct += v && pred[s] == labels[s];
      }
      counts[2 * b] = valid;
      counts[2 * b + 1] = correct;
      seq_correct[b] = valid == correct;
    }
  });
}

void loss_grad(float* dtok, float* dbce, const int32_t* counts, const float* weights, long B, long L, double loss_scale) {
  for (long b = 0; b < B; b++) {
    double w = weights ? loss_scale * (double)weights[b] : loss_scale;
    float v = (float)(w / (double)(counts[2 * b] > 1 ? counts[2 * b] : 1));
    for (long t = b * L; t < (b + 1) * L; t++) dtok[t] = v;
    dbce[b] = (float)(0.5 * w);
  }
}

}  // namespace trm
