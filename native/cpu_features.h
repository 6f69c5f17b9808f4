// cpu_features.h: what this CPU (and the OS) can execute, read once at load time, and the
// instruction set the kernels dispatch to. TRM_ISA=portable|avx2|avx512 forces a lower path.
#pragma once

namespace trm {

struct CpuFeatures {
  bool avx2 = false, fma = false, avx512f = false, avx512bw = false, avx512dq = false,
       avx512vl = false, avx512bf16 = false, amx_tile = false, amx_bf16 = false;
  bool os_avx = false, os_avx512 = false;  // XCR0 says the OS saves ymm / zmm state
  bool os_amx = false;                     // XCR0 has the tile state (Linux still asks, amx_usable)
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

// The AMX-BF16 GEMM kernel may run: the CPU has AMX-TILE and AMX-BF16, the OS enables the tile
// state, Linux granted this process the tile data (arch_prctl ARCH_REQ_XCOMP_PERM, asked once, on
// the first call), the active path is AVX-512, TRM_AMX is not 0, and set_amx_enabled has not
// switched it off.
bool amx_usable();
// Switch the AMX kernel on or off at run time (benchmarks, tests); returns amx_usable() after.
bool set_amx_enabled(bool on);
}  // namespace trm
