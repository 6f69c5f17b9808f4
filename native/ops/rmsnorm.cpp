// rmsnorm.cpp: RMSNorm without a weight (reference/trm-algorithm.md 2.1, layers.py:163-169),
// y = x * rstd with rstd = 1/sqrt(mean(x^2) + eps), over the last axis or over the sequence axis.
// Backward: dx = rstd * (dy - y * mean(dy * y)), from the saved y and rstd. Sums run in float64.
#include <cmath>

#include "ops.h"

namespace trm {

void rmsnorm_forward(float* out, float* rstd, const float* inp, long N, long D, double eps) {
  parallel_for(N, N * D, [&](long lo, long hi) {
    for (long i = lo; i < hi; i++) {
      const float* x = inp + i * D;
      float* y = out + i * D;
      float r = (float)(1.0 / std::sqrt(dot_f64(x, x, D) / D + eps));
      for (long d = 0; d < D; d++) y[d] = x[d] * r;
      rstd[i] = r;
    }
  });
}

void rmsnorm_backward(float* dinp, const float* dout, const float* out, const float* rstd, long N, long D) {
  parallel_for(N, N * D, [&](long lo, long hi) {
    for (long i = lo; i < hi; i++) {
      const float* dy = dout + i * D;
      const float* y = out + i * D;
      float* dx = dinp + i * D;
      double mean = dot_f64(dy, y, D) / D, r = rstd[i];
      for (long d = 0; d < D; d++) dx[d] = (float)(dx[d] + r * (dy[d] - y[d] * mean));
    }
  });
}

// The sequence-axis variants walk s outer and a block of kSeqBlock columns inner, keeping the
// per-column sums in a small stack buffer: rows are read contiguously and nothing is transposed.
// Work items are (b, column block) pairs; each column's sum over s runs in order on one thread.
constexpr long kSeqBlock = 128;

void rmsnorm_seq_forward(float* out, float* rstd, const float* inp, long B, long S, long D, double eps) {
  long nblk = (D + kSeqBlock - 1) / kSeqBlock;
  parallel_for(B * nblk, B * S * D, [&](long lo, long hi) {
    double acc[kSeqBlock];
    float r[kSeqBlock];
    for (long t = lo; t < hi; t++) {
      long b = t / nblk, d0 = (t % nblk) * kSeqBlock, w = D - d0 < kSeqBlock ? D - d0 : kSeqBlock;
      const float* x = inp + b * S * D + d0;
      float* y = out + b * S * D + d0;
      for (long j = 0; j < w; j++) acc[j] = 0;
      for (long s = 0; s < S; s++)
        for (long j = 0; j < w; j++) acc[j] += (double)x[s * D + j] * x[s * D + j];
      for (long j = 0; j < w; j++) r[j] = (float)(1.0 / std::sqrt(acc[j] / S + eps));
      for (long s = 0; s < S; s++)
        for (long j = 0; j < w; j++) y[s * D + j] = x[s * D + j] * r[j];
      for (long j = 0; j < w; j++) rstd[b * D + d0 + j] = r[j];
    }
  });
}

void rmsnorm_seq_backward(float* dinp, const float* dout, const float* out, const float* rstd, long B, long S, long D) {
  long nblk = (D + kSeqBlock - 1) / kSeqBlock;
  parallel_for(B * nblk, B * S * D, [&](long lo, long hi) {
    double acc[kSeqBlock];
    for (long t = lo; t < hi; t++) {
      long b = t / nblk, d0 = (t % nblk) * kSeqBlock, w = D - d0 < kSeqBlock ? D - d0 : kSeqBlock;
      const float* dy = dout + b * S * D + d0;
      const float* y = out + b * S * D + d0;
      const float* r = rstd + b * D + d0;
      float* dx = dinp + b * S * D + d0;
      for (long j = 0; j < w; j++) acc[j] = 0;
      for (long s = 0; s < S; s++)
        for (long j = 0; j < w; j++) acc[j] += (double)dy[s * D + j] * y[s * D + j];
      for (long j = 0; j < w; j++) acc[j] /= S;
      for (long s = 0; s < S; s++)
        for (long j = 0; j < w; j++) dx[s * D + j] = (float)(dx[s * D + j] + r[j] * (dy[s * D + j] - y[s * D + j] * acc[j]));
    }
  });
}

}  // namespace trm
