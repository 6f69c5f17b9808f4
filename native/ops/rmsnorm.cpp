// rmsnorm.cpp: RMSNorm without a weight (reference/trm-algorithm.md 2.1, layers.py:163-169),
// y = x * rstd with rstd = 1/sqrt(mean(x^2) + eps), over the last axis or over the sequence axis.
// Backward: dx = rstd * (dy - y * mean(dy * y)), from the saved y and rstd. Sums run in float64.
// The row loops are rmsnorm_rows.h's, here and (AVX-512, AVX2 paths) in rmsnorm_avx512.cpp and
// rmsnorm_avx2.cpp: same bits.
#include <cmath>

#include "../cpu_features.h"
#include "ops.h"
#define RMS_SQRT std::sqrt
#include "rmsnorm_rows.h"

namespace trm {

// the ISA copies of the row loops (rmsnorm_isa.h), one set per file
#define RMS_ISA_DECLARE(isa)                                                                                    \
  void rmsnorm_rows_##isa(float* out, float* rstd, const float* inp, long lo, long hi, long D, double eps);      \
  void rmsnorm_rows_backward_##isa(float* dinp, float* sum, const float* dout, const float* out, const float* rstd, \
                                   long lo, long hi, long D, bool sum_fresh);                                   \
  void rmsnorm_seq_blocks_##isa(float* out, float* rstd, const float* inp, long lo, long hi, long S, long D,     \
                                double eps);                                                                    \
  void rmsnorm_seq_blocks_backward_##isa(float* dinp, float* sum, const float* dout, const float* out,           \
                                         const float* rstd, long lo, long hi, long S, long D, bool sum_fresh);
RMS_ISA_DECLARE(avx512)
RMS_ISA_DECLARE(avx2)

namespace {
// The row loops of the active ISA: the AVX-512 or AVX2 copy, else the baseline one (all the same bits).
struct RmsLoops {
  void (*rows)(float*, float*, const float*, long, long, long, double) = rms_rows;
  void (*rows_backward)(float*, float*, const float*, const float*, const float*, long, long, long, bool) =
      rms_rows_backward;
  void (*seq)(float*, float*, const float*, long, long, long, long, double) = rms_seq_blocks;
  void (*seq_backward)(float*, float*, const float*, const float*, const float*, long, long, long, long, bool) =
      rms_seq_blocks_backward;
};
inline RmsLoops rms_loops() {
  RmsLoops l;
#if defined(__x86_64__)
  if (active_isa() == Isa::Avx512)
    l = {rmsnorm_rows_avx512, rmsnorm_rows_backward_avx512, rmsnorm_seq_blocks_avx512,
         rmsnorm_seq_blocks_backward_avx512};
  else if (active_isa() == Isa::Avx2)
    l = {rmsnorm_rows_avx2, rmsnorm_rows_backward_avx2, rmsnorm_seq_blocks_avx2, rmsnorm_seq_blocks_backward_avx2};
#endif
  return l;
}
}  // namespace

void rmsnorm_forward(float* out, float* rstd, const float* inp, long N, long D, double eps) {
  const RmsLoops l = rms_loops();
  parallel_for(N, N * D, [&](long lo, long hi) { l.rows(out, rstd, inp, lo, hi, D, eps); });
}

void rmsnorm_backward(float* dinp, const float* dout, const float* out, const float* rstd, long N, long D,
                      float* sum, bool sum_fresh) {
  const RmsLoops l = rms_loops();
  parallel_for(N, N * D,
               [&](long lo, long hi) { l.rows_backward(dinp, sum, dout, out, rstd, lo, hi, D, sum_fresh); });
}

void rmsnorm_seq_forward(float* out, float* rstd, const float* inp, long B, long S, long D, double eps) {
  const long nblk = (D + kRmsSeqBlock - 1) / kRmsSeqBlock;
  const RmsLoops l = rms_loops();
  parallel_for(B * nblk, B * S * D, [&](long lo, long hi) { l.seq(out, rstd, inp, lo, hi, S, D, eps); });
}

void rmsnorm_seq_backward(float* dinp, const float* dout, const float* out, const float* rstd, long B, long S, long D,
                          float* sum, bool sum_fresh) {
  const long nblk = (D + kRmsSeqBlock - 1) / kRmsSeqBlock;
  const RmsLoops l = rms_loops();
  parallel_for(B * nblk, B * S * D,
               [&](long lo, long hi) { l.seq_backward(dinp, sum, dout, out, rstd, lo, hi, S, D, sum_fresh); });
}

}  // namespace trm
