// rmsnorm_avx512.cpp: rmsnorm.cpp's row loops (rmsnorm_rows.h) compiled for AVX-512: the same
// float64 operations per element, eight per vector, no FMA contraction, so the same bits as the
// baseline path. Compiled by a target pragma like gemm/kernel_avx512.cpp; no C++ headers after it.
#pragma GCC optimize("fp-contract=off")
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2")
#define RMS_SQRT __builtin_sqrt
#include "rmsnorm_rows.h"

namespace trm {

void rmsnorm_rows_avx512(float* out, float* rstd, const float* inp, long lo, long hi, long D, double eps) {
  rms_rows(out, rstd, inp, lo, hi, D, eps);
}
void rmsnorm_rows_backward_avx512(float* dinp, const float* dout, const float* out, const float* rstd, long lo,
                                  long hi, long D) {
  rms_rows_backward(dinp, dout, out, rstd, lo, hi, D);
}
void rmsnorm_seq_blocks_avx512(float* out, float* rstd, const float* inp, long lo, long hi, long S, long D,
                               double eps) {
  rms_seq_blocks(out, rstd, inp, lo, hi, S, D, eps);
}
void rmsnorm_seq_blocks_backward_avx512(float* dinp, const float* dout, const float* out, const float* rstd, long lo,
                                        long hi, long S, long D) {
  rms_seq_blocks_backward(dinp, dout, out, rstd, lo, hi, S, D);
}

}  // namespace trm
