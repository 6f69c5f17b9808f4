// cpu_features.cpp: CPUID + XGETBV probing (no -march flags: the addon must run on any x86-64).
#include "cpu_features.h"

#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace trm {
namespace {

CpuFeatures probe() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  f.fma = (c >> 12) & 1;
  bool osxsave = (c >> 27) & 1;
  bool avx = (c >> 28) & 1;
  if (osxsave && avx) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    f.os_avx = (lo & 0x6) == 0x6;             // xmm + ymm state
    f.os_avx512 = f.os_avx && (lo & 0xe0) == 0xe0;  // opmask + zmm state
    f.os_amx = (lo & 0x60000) == 0x60000;           // XTILECFG + XTILEDATA
  }
  if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
    f.avx2 = (b >> 5) & 1;
    f.avx512f = (b >> 16) & 1;
    f.avx512dq = (b >> 17) & 1;
    f.avx512bw = (b >> 30) & 1;
    f.avx512vl = (b >> 31) & 1;
    f.amx_bf16 = (d >> 22) & 1;
    f.amx_tile = (d >> 24) & 1;
  }
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) f.avx512bf16 = (a >> 5) & 1;
#endif
  return f;
}

Isa best_supported(const CpuFeatures& f) {
  if (f.AVX512()) return Isa::Avx512;
  if (f.AVX2()) return Isa::Avx2;
  return Isa::Portable;
}

Isa initial_isa() {
  Isa best = best_supported(cpu_features());
  const char* env = std::getenv("TRM_ISA");
  if (!env || !*env) return best;
  Isa want = best;
  if (!std::strcmp(env, "portable")) want = Isa::Portable;
  else if (!std::strcmp(env, "avx2")) want = Isa::Avx2;
  else if (!std::strcmp(env, "avx512")) want = Isa::Avx512;
  return (int)want < (int)best ? want : best;
}

Isa g_isa = initial_isa();

}  // namespace

const CpuFeatures& cpu_features() {
  static CpuFeatures f = probe();
  return f;
}

Isa active_isa() { return g_isa; }

bool set_active_isa(Isa isa) {
  if ((int)isa > (int)best_supported(cpu_features())) return false;
  g_isa = isa;
  return true;
}

namespace {
// Linux hands out the 8 KB tile data state only on request, per process (threads share it).
bool amx_permitted() {
  static const bool ok = [] {
    const CpuFeatures& f = cpu_features();
#ifdef TRM_AMX_EMULATE
    return f.AVX512() && f.avx512bf16;  // test builds: the AMX kernel on scalar stand-ins (amx_emulate.h)
#endif
    if (!f.amx_tile || !f.amx_bf16 || !f.os_amx || !f.AVX512() || !f.avx512bf16) return false;
#if defined(__linux__) && defined(__x86_64__)
    const long ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18;
    return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0;
#else
    return false;
#endif
  }();
  return ok;
}
bool g_amx_on = [] {
  const char* env = std::getenv("TRM_AMX");
  return !(env && !std::strcmp(env, "0"));
}();
}  // namespace

bool amx_usable() { return g_amx_on && active_isa() == Isa::Avx512 && amx_permitted(); }

bool set_amx_enabled(bool on) {
  g_amx_on = on;
  return amx_usable();
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    default: return "portable";
  }
}

}  // namespace trm
