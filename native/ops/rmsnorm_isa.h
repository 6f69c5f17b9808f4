// rmsnorm_isa.h: the entry points of an ISA copy of rmsnorm_rows.h's row loops (rmsnorm_avx512.cpp,
// rmsnorm_avx2.cpp), named NAME_<isa> through RMS_ISA(NAME). The includer sets its target pragma,
// fp-contract off and RMS_SQRT first: the same float64 operations per element as the baseline copy in
// rmsnorm.cpp, so the same bits.
#pragma once
#include "rmsnorm_rows.h"

namespace trm {

void RMS_ISA(rmsnorm_rows)(float* out, float* rstd, const float* inp, long lo, long hi, long D, double eps) {
  rms_rows(out, rstd, inp, lo, hi, D, eps);
}
void RMS_ISA(rmsnorm_rows_backward)(float* dinp, float* sum, const float* dout, const float* out, const float* rstd,
                                    long lo, long hi, long D, bool sum_fresh) {
  rms_rows_backward(dinp, sum, dout, out, rstd, lo, hi, D, sum_fresh);
}
void RMS_ISA(rmsnorm_seq_blocks)(float* out, float* rstd, const float* inp, long lo, long hi, long S, long D,
                                 double eps) {
  rms_seq_blocks(out, rstd, inp, lo, hi, S, D, eps);
}
void RMS_ISA(rmsnorm_seq_blocks_backward)(float* dinp, float* sum, const float* dout, const float* out,
                                          const float* rstd, long lo, long hi, long S, long D, bool sum_fresh) {
  rms_seq_blocks_backward(dinp, sum, dout, out, rstd, lo, hi, S, D, sum_fresh);
}

}  // namespace trm
