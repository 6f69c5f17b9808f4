// copy_gpr.h: 32 bytes copied through four general registers, for the tiles that copy the next B
// panel under their FMAs (kernel_avx2.cpp ukr_copy_6x16, kernel_avx512.cpp ukr_copy_14x32): every
// vector register of those tiles holds an accumulator or an operand, so the copy must not become a
// vector move (the empty asm keeps GCC from merging the four into one). Internal linkage: each ISA
// file compiles its own copy, which never replaces another at link time.
#pragma once

namespace trm {
namespace {

inline void copy32_gpr(float* d, const float* s) {
  unsigned long a, b, c, e;
  __builtin_memcpy(&a, s, 8);
  __builtin_memcpy(&b, s + 2, 8);
  __builtin_memcpy(&c, s + 4, 8);
  __builtin_memcpy(&e, s + 6, 8);
  __asm__("" : "+r"(a), "+r"(b), "+r"(c), "+r"(e));
  __builtin_memcpy(d, &a, 8);
  __builtin_memcpy(d + 2, &b, 8);
  __builtin_memcpy(d + 4, &c, 8);
  __builtin_memcpy(d + 6, &e, 8);
}

}  // namespace
}  // namespace trm
