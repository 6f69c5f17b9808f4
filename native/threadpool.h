// threadpool.h: one persistent pool of worker threads shared by every kernel.
//
// A kernel is run as fn(ith, nth) on all nth threads at once (ggml style); the calling thread is
// ith = 0. Work splitting is the kernel's job and must depend only on (ith, nth) and the sizes, so
// the same inputs and thread count give bitwise the same outputs. There is deliberately no
// barrier: kernels partition their outputs so threads never wait for each other, and a thread
// that the OS deschedules delays only its own share.
#pragma once
#include <functional>

namespace trm {

// Threads the pool uses: TRM_THREADS if set, else the number of online cores.
int pool_threads();
// Change the thread count (1..256); takes effect at the next parallel region.
void pool_set_threads(int n);
// Run fn(ith, nth) on nth threads (nth = min(requested, pool_threads())), waiting for all of them.
void parallel_run(const std::function<void(int ith, int nth)>& fn, int max_threads = 0);
// Split [0, n) into nth nearly equal contiguous parts; returns part ith as [*lo, *hi).
inline void split_range(long n, int ith, int nth, long* lo, long* hi) {
  long q = n / nth, r = n % nth;
  *lo = ith * q + (ith < r ? ith : r);
  *hi = *lo + q + (ith < r ? 1 : 0);
}

}  // namespace trm
