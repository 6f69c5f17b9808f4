// rmsnorm_avx2.cpp: rmsnorm.cpp's row loops (rmsnorm_rows.h) compiled for AVX2: the same float64
// operations per element, four per vector (the baseline copy has SSE2's two), no FMA contraction, so
// the same bits as the baseline path. Compiled by a target pragma; no C++ headers after it.
#pragma GCC optimize("fp-contract=off")
#pragma GCC target("avx2")
#define RMS_SQRT __builtin_sqrt
#define RMS_ISA(name) name##_avx2
#include "rmsnorm_isa.h"
