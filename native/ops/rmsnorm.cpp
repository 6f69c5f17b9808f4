// rmsnorm.cpp: RMSNorm without a weight (reference/trm-algorithm.md 2.1, layers.py:163-169),
// y = x * rstd with rstd = 1/sqrt(mean(x^2) + eps), over the last axis or over the sequence axis.
// Backward: dx = rstd * (dy - y * mean(dy * y)), from the saved y and rstd. Sums run in float64.
// The row loops are rmsnorm_rows.h's, here and (AVX-512 paths) in rmsnorm_avx512.cpp: same bits.
#include <cmath>

#include "../cpu_features.h"
#include "ops.h"
#define RMS_SQRT std::sqrt
#include "rmsnorm_rows.h"

namespace trm {

void rmsnorm_rows_avx512(float* out, float* rstd, const float* inp, long lo, long hi, long D, double eps);
void rmsnorm_rows_backward_avx512(float* dinp, const float* dout, const float* out, const float* rstd, long lo,
                                  long hi, long D);
void rmsnorm_seq_blocks_avx512(float* out, float* rstd, const float* inp, long lo, long hi, long S, long D,
                               double eps);
void rmsnorm_seq_blocks_backward_avx512(float* dinp, const float* dout, const float* out, const float* rstd, long lo,
                                        long hi, long S, long D);

namespace {
inline bool avx512() {
#if defined(__x86_64__)
  return active_isa() == Isa::Avx512;
#else
  return false;
#endif
}
}  // namespace

void rmsnorm_forward(float* out, float* rstd, const float* inp, long N, long D, double eps) {
  const bool v = avx512();
  parallel_for(N, N * D, [&](long lo, long hi) {
#if defined(__x86_64__)
    if (v) return rmsnorm_rows_avx512(out, rstd, inp, lo, hi, D, eps);
#endif
    rms_rows(out, rstd, inp, lo, hi, D, eps);
  });
}

void rmsnorm_backward(float* dinp, const float* dout, const float* out, const float* rstd, long N, long D) {
  const bool v = avx512();
  parallel_for(N, N * D, [&](long lo, long hi) {
#if defined(__x86_64__)
    if (v) return rmsnorm_rows_backward_avx512(dinp, dout, out, rstd, lo, hi, D);
#endif
    rms_rows_backward(dinp, dout, out, rstd, lo, hi, D);
  });
}

void rmsnorm_seq_forward(float* out, float* rstd, const float* inp, long B, long S, long D, double eps) {
  const long nblk = (D + kRmsSeqBlock - 1) / kRmsSeqBlock;
  const bool v = avx512();
  parallel_for(B * nblk, B * S * D, [&](long lo, long hi) {
#if defined(__x86_64__)
    if (v) return rmsnorm_seq_blocks_avx512(out, rstd, inp, lo, hi, S, D, eps);
#endif
    rms_seq_blocks(out, rstd, inp, lo, hi, S, D, eps);
  });
}

void rmsnorm_seq_backward(float* dinp, const float* dout, const float* out, const float* rstd, long B, long S, long D) {
  const long nblk = (D + kRmsSeqBlock - 1) / kRmsSeqBlock;
  const bool v = avx512();
  parallel_for(B * nblk, B * S * D, [&](long lo, long hi) {
#if defined(__x86_64__)
    if (v) return rmsnorm_seq_blocks_backward_avx512(dinp, dout, out, rstd, lo, hi, S, D);
#endif
    rms_seq_blocks_backward(dinp, dout, out, rstd, lo, hi, S, D);
  });
}

}  // namespace trm
