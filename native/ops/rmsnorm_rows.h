// rmsnorm_rows.h: the row loops of rmsnorm.cpp, compiled twice: by rmsnorm.cpp (baseline x86-64:
// two doubles per SSE2 vector) and by rmsnorm_avx512.cpp (eight per zmm, its target pragma and
// fp-contract off). Every element runs the same IEEE float64 operations in the same order (the
// vector lanes are independent elements; dot's eight partial sums are eight lanes), so both give
// the same bits. Internal linkage only (an anonymous namespace per includer, RMS_SQRT its sqrt), so
// the AVX-512 copy can never replace the baseline one at link time.
#pragma once

#include "dot_f64.h"

namespace trm {
namespace {

// Rows [lo, hi) of the hidden-axis forward and backward (rows of D).
inline void rms_rows(float* out, float* rstd, const float* inp, long lo, long hi, long D, double eps) {
  for (long i = lo; i < hi; i++) {
    const float* x = inp + i * D;
    float* y = out + i * D;
    float r = (float)(1.0 / RMS_SQRT(dot_f64_lanes(x, x, D) / D + eps));
    for (long d = 0; d < D; d++) y[d] = x[d] * r;
    rstd[i] = r;
  }
}

// dinp += the gradient; or, with sum (the fused kernels' residual form), dinp = 0 + the gradient and then
// sum += dinp: bitwise a zero fill, this accumulation and add(sum, sum, dinp), in one pass instead of three.
// sum_fresh: sum = 0 + dinp (what a zero-filled sum would hold after it: no fill pass, no read of sum).
inline void rms_rows_backward(float* dinp, float* sum, const float* dout, const float* out, const float* rstd, long lo,
                              long hi, long D, bool sum_fresh) {
  for (long i = lo; i < hi; i++) {
    const float* dy = dout + i * D;
    const float* y = out + i * D;
    float* dx = dinp + i * D;
    double mean = dot_f64_lanes(dy, y, D) / D, r = rstd[i];
    const auto grad = [&](long d) { return r * (dy[d] - y[d] * mean); };
    if (!sum) {
      for (long d = 0; d < D; d++) dx[d] = (float)(dx[d] + grad(d));
      continue;
    }
    float* sx = sum + i * D;
    // (0.0 +: a zero's sign as the zero fill gave it; a fresh sum starts from +0 as the fill did, so a -0
    // gradient gives +0; -O3 unswitches the loop on sum_fresh)
    for (long d = 0; d < D; d++) {
      dx[d] = (float)(0.0 + grad(d));
      sx[d] = (sum_fresh ? 0.f : sx[d]) + dx[d];
    }
  }
}

// The sequence-axis variants walk s outer and a block of kRmsSeqBlock columns inner, keeping the
// per-column sums in a small stack buffer: rows are read contiguously and nothing is transposed.
// Work items t in [lo, hi) are (b, column block) pairs; each column's sum over s runs in order.
constexpr long kRmsSeqBlock = 128;

inline void rms_seq_blocks(float* out, float* rstd, const float* inp, long lo, long hi, long S, long D, double eps) {
  const long nblk = (D + kRmsSeqBlock - 1) / kRmsSeqBlock;
  double acc[kRmsSeqBlock];
  float r[kRmsSeqBlock];
  for (long t = lo; t < hi; t++) {
    long b = t / nblk, d0 = (t % nblk) * kRmsSeqBlock, w = D - d0 < kRmsSeqBlock ? D - d0 : kRmsSeqBlock;
    const float* x = inp + b * S * D + d0;
    float* y = out + b * S * D + d0;
    for (long j = 0; j < w; j++) acc[j] = 0;
    for (long s = 0; s < S; s++)
      for (long j = 0; j < w; j++) acc[j] += (double)x[s * D + j] * x[s * D + j];
    for (long j = 0; j < w; j++) r[j] = (float)(1.0 / RMS_SQRT(acc[j] / S + eps));
    for (long s = 0; s < S; s++)
      for (long j = 0; j < w; j++) y[s * D + j] = x[s * D + j] * r[j];
    for (long j = 0; j < w; j++) rstd[b * D + d0 + j] = r[j];
  }
}

// sum, sum_fresh: as rms_rows_backward's
inline void rms_seq_blocks_backward(float* dinp, float* sum, const float* dout, const float* out, const float* rstd,
                                    long lo, long hi, long S, long D, bool sum_fresh) {
  const long nblk = (D + kRmsSeqBlock - 1) / kRmsSeqBlock;
  double acc[kRmsSeqBlock];
  for (long t = lo; t < hi; t++) {
    long b = t / nblk, d0 = (t % nblk) * kRmsSeqBlock, w = D - d0 < kRmsSeqBlock ? D - d0 : kRmsSeqBlock;
    const float* dy = dout + b * S * D + d0;
    const float* y = out + b * S * D + d0;
    const float* r = rstd + b * D + d0;
    float* dx = dinp + b * S * D + d0;
    for (long j = 0; j < w; j++) acc[j] = 0;
    for (long s = 0; s < S; s++)
      for (long j = 0; j < w; j++) acc[j] += (double)dy[s * D + j] * y[s * D + j];
    for (long j = 0; j < w; j++) acc[j] /= S;
    const auto grad = [&](long s, long j) { return r[j] * (dy[s * D + j] - y[s * D + j] * acc[j]); };
    if (!sum) {
      for (long s = 0; s < S; s++)
        for (long j = 0; j < w; j++) dx[s * D + j] = (float)(dx[s * D + j] + grad(s, j));
      continue;
    }
    float* sx = sum + b * S * D + d0;
    for (long s = 0; s < S; s++)
      for (long j = 0; j < w; j++) {
        dx[s * D + j] = (float)(0.0 + grad(s, j));
        sx[s * D + j] = (sum_fresh ? 0.f : sx[s * D + j]) + dx[s * D + j];
      }
  }
}

}  // namespace
}  // namespace trm
