// kernel_x86_absent.cpp: on CPUs other than x86-64 (the linux-arm64 prebuild) the AVX-512 / AVX2
// micro-kernels are not compiled (binding.gyp); cpu_features never selects them there, and these
// stand-ins answer with the portable kernel should anything ask.
#include "gemm.h"
#include "sum_nt.h"

namespace trm {
GemmKernelInfo gemm_kernel_avx512() { return gemm_kernel_portable(); }
GemmKernelInfo gemm_kernel_avx2() { return gemm_kernel_portable(); }
GemmKernelInfo gemm_kernel_avx512_bf16() { return gemm_kernel_portable(); }
GemmKernelInfo gemm_kernel_amx_bf16() { return gemm_kernel_portable(); }
double bf16_peak_avx512(double) { return 0.0; }
double bf16_peak_amx(double) { return 0.0; }
void amx_config_unknown() {}
void round_bf16_avx2(float*, long) {}
void copy_transposed_avx2(float*, long, const float*, long, long, long) {}
void copy_transposed_avx512(float*, long, const float*, long, long, long) {}
void sum_nt_rows_avx512(float*, float*, long, long, const float*, long, const float*, long, long, long) {}
void sum_nt_rows_bf16_avx512(float*, float*, long, long, const uint16_t*, long, const uint16_t*, long, long, long) {}
void sum_nt_rows_avx2(float*, float*, long, long, const float*, long, const float*, long, long, long) {}
}  // namespace trm
