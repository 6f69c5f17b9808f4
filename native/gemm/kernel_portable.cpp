// kernel_portable.cpp: the plain C++ micro-kernel (4 x 16), compiled for baseline x86-64 (or any
// other architecture). The compiler vectorises the inner j-loop with whatever SIMD the baseline
// allows; it is the path for CPUs without AVX2 and the one TRM_ISA=portable forces.
#include "gemm.h"

namespace trm {
namespace {

constexpr int MR = 4, NR = 16;

void ukr_4x16(long kc, const float* __restrict pa, const float* __restrict pb, float* c, long ldc,
              long m, long n, float alpha, float beta) {
  float acc[MR][NR] = {};
  for (long k = 0; k < kc; k++) {
    for (int i = 0; i < MR; i++) {
      float a = pa[i];
      for (int j = 0; j < NR; j++) acc[i][j] += a * pb[j];
    }
    pa += MR;
    pb += NR;
  }
  for (long i = 0; i < m; i++)
    for (long j = 0; j < n; j++) {
      float t = alpha * acc[i][j];
      c[i * ldc + j] = beta != 0.f ? beta * c[i * ldc + j] + t : t;
    }
}

}  // namespace

GemmKernelInfo gemm_kernel_portable() { return {ukr_4x16, nullptr, nullptr, nullptr, nullptr, MR, NR, 4 * 32, 256, 2048, "portable 4x16"}; }

}  // namespace trm
