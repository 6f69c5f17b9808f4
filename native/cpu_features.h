// cpu_features.h: what this CPU (and the OS) can execute, read once at load time, and the
// instruction set the kernels dispatch to. TRM_ISA=portable|avx2|avx512 forces a lower path.
#pragma once

namespace trm {

struct CpuFeatures {
  bool avx2 = false, fma = false, avx512f = false, avx512bw = false, avx512dq = false,
       avx512vl = false, avx512bf16 = false;
  bool os_avx = false, os_avx512 = false;  // XCR0 says the OS saves ymm / zmm state
  bool AVX2() const { return avx2 && fma && os_avx; }
  bool AVX512() const { return AVX2() && avx512f && avx512bw && avx512dq && avx512vl && os_avx512; }
};

enum class Isa { Portable = 0, Avx2 = 1, Avx512 = 2 };

const CpuFeatures& cpu_features();
// The path chosen at load: the best the CPU supports, lowered by TRM_ISA if set.
Isa active_isa();
// Change the path at run time (tests); refuses a path the CPU cannot run. Returns success.
bool set_active_isa(Isa isa);
const char* isa_name(Isa isa);

}  // namespace trm
