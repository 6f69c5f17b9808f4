// threadpool.h: one persistent pool of worker threads shared by every kernel.
//
// A kernel is run as fn(ith, nth) for the nth parts of its work (ggml style), each part on
// whichever pool thread claims it first (the calling thread is one of them). Work splitting is the
// kernel's job and must depend only on (ith, nth) and the sizes, so the same inputs give bitwise
// the same outputs whoever runs a part (and, by the kernels' design, for any nth). There is
// deliberately no barrier: kernels partition their outputs so parts never wait for each other, and
// a thread the OS deschedules delays at most the part it already took.
#pragma once
#include <functional>
#include <vector>

namespace trm {

// Threads a parallel_run from here can use: the pool's size (TRM_THREADS if set, else the number of
// online cores), but 1 inside a region, where a nested parallel_run runs inline on the calling thread.
// So a kernel called from inside another (a fused kernel's GEMM, a gemm_in_halves half) chooses its
// split and its shared packs for the one thread it has, not for threads that never come.
int pool_threads();
// Change the thread count (1..256); takes effect at the next parallel region.
void pool_set_threads(int n);
// Run fn(part, nth) for every part < nth (nth = min(requested, pool_threads())) and return when all
// are done. Parts are claimed by whichever pool thread is free first (the caller included), so a
// kernel must split its work by (part, nth) alone and write disjoint outputs per part. Nested
// inside a region (a fused kernel running other kernels), fn(0, 1) runs on the calling thread.
void parallel_run(const std::function<void(int ith, int nth)>& fn, int max_threads = 0);
// Run fn(ith, nth) on each of nth threads at once, part ith on thread ith (the FMA-peak loop).
void parallel_run_each(const std::function<void(int ith, int nth)>& fn, int max_threads = 0);
// Region profile (diagnostics, tools/profile-step.mjs): while on, every parallel_run from JavaScript
// (not nested, more than one thread) adds to the record of its call site (the return address into
// the kernel that called it): the region's wall time, how long the caller waited at its end for a
// worker still on its last part, how long the workers' last part ended before the caller's (the
// worker idle at the end), and how late the first worker entered. Off (the default) it costs one
// relaxed load a region. Stopping returns the records and clears them.
struct RegionStat {
  const void* site;
  unsigned long long calls, entered;  // entered: regions a worker entered (before the caller closed it)
  double region_ns, caller_wait_ns, worker_idle_ns, worker_late_ns;
  unsigned long long late_regions;  // regions the first worker entered over 20 us late (it had gone to sleep)
};
void pool_profile_start();
std::vector<RegionStat> pool_profile_stop();
// Split [0, n) into nth nearly equal contiguous parts; returns part ith as [*lo, *hi).
inline void split_range(long n, int ith, int nth, long* lo, long* hi) {
  long q = n / nth, r = n % nth;
  *lo = ith * q + (ith < r ? ith : r);
  *hi = *lo + q + (ith < r ? 1 : 0);
}

}  // namespace trm
