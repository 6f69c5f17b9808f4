// aligned_buf.h: a scratch buffer of floats, 64-byte aligned, grown as needed and then kept. Kernels
// hold one per thread (`thread_local`), so a step's thousands of calls allocate nothing. 64 floats
// past the request are kept as slack for the packs' whole-vector tails.
#pragma once
#include <cstddef>
#include <cstdlib>

namespace trm {

struct AlignedBuf {
  float* p = nullptr;
  size_t n = 0;
  float* get(size_t want) {
    if (want > n) {
      std::free(p);
      n = want + 64;
      p = static_cast<float*>(std::aligned_alloc(64, ((n * sizeof(float) + 63) / 64) * 64));
    }
    return p;
  }
  ~AlignedBuf() { std::free(p); }
};

}  // namespace trm
