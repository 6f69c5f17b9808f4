// rmsnorm_avx512.cpp: rmsnorm.cpp's row loops (rmsnorm_rows.h) compiled for AVX-512: the same
// float64 operations per element, eight per vector, no FMA contraction, so the same bits as the
// baseline path. Compiled by a target pragma like gemm/kernel_avx512.cpp; no C++ headers after it.
#pragma GCC optimize("fp-contract=off")
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2")
#define RMS_SQRT __builtin_sqrt
#define RMS_ISA(name) name##_avx512
#include "rmsnorm_isa.h"
