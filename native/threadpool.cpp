// threadpool.cpp: the fixed pool behind parallel_run(). Workers spin briefly on a generation
// counter (kernels come back to back during training, and a sleeping thread costs ~50 us to wake),
// then sleep on a condition variable so an idle Node process burns no CPU.
//
// A region's nth parts are claimed, not assigned: the caller and the workers take part indices
// from one counter until none are left, and the caller waits only for workers that entered the
// region. On a busy machine a descheduled worker then costs nothing (the caller runs its part
// instead of waiting up to a scheduler time slice for it, once per kernel: measured 10x on the
// small-model step with two threads on a loaded 2-core machine). Kernels split their work by
// (part, parts) alone and every part writes its own outputs, so which thread runs which part never
// changes a bit. parallel_run_each keeps one part per thread (the FMA-peak loop needs that).
//
// The caller always runs part 0 itself, and the workers claim from part 1 on: racing for part 0, a
// spinning worker won it in two regions of three (cpu-sudoku9, 2 threads: 2296 of 3444), so a part's
// home share (ItemClaims: the items or rows whose data the part's thread wrote in the kernel before)
// landed on the other core in ~44% of the hand-offs between regions.
#include "threadpool.h"

#include "gemm/gemm.h"  // amx_config_unknown

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
static inline void cpu_relax() { _mm_pause(); }
#else
static inline void cpu_relax() {}
#endif

namespace trm {
namespace {

constexpr int kMaxThreads = 256;
constexpr int kSpinIters = 20000;  // ~1-3 ms of pause before sleeping
constexpr unsigned kOpen = 1u << 31;  // Pool::state: the region takes new workers

thread_local bool tl_in_region = false;  // a parallel_run inside a region runs inline

// The region profile (threadpool.h): on/off, and the records by call site (written under run_mu).
std::atomic<bool> g_profile{false};
std::vector<RegionStat> g_profile_stats;
inline long long now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Pool {
  std::vector<std::thread> workers;
  int nthreads = 1;            // threads a region uses (including the caller)
  std::mutex mu;               // guards sleeping and starting regions
  std::condition_variable cv;
  std::atomic<unsigned long long> ticket{0};  // generation << 1 | (1 if a claimed region)
  std::atomic<int> pending{0};  // each-thread regions: workers still running the current one
  std::atomic<unsigned> state{0};  // claimed regions: kOpen | workers inside
  std::atomic<int> next{0};        // claimed regions: the next part to take
  // the region profile: when the first worker entered, when the last one left (0: none yet)
  std::atomic<long long> first_enter{0}, last_exit{0};
  bool profiling = false;  // the current region is profiled (set before it is published)
  const std::function<void(int, int)>* job = nullptr;
  int job_nth = 1;
  bool stop = false;
  std::mutex run_mu;           // one parallel region at a time (Node worker threads may race)

  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu);
      stop = true;
      ticket.store(((ticket.load() >> 1) + 1) << 1);
    }
    cv.notify_all();
    for (auto& t : workers) t.join();
  }

  // Take parts until none are left (the caller and every worker that entered).
  void claim_parts() {
    const auto& fn = *job;
    const int parts = job_nth;
    for (int p; (p = next.fetch_add(1, std::memory_order_relaxed)) < parts;) fn(p, parts);
  }

  void worker_loop(int ith) {
    tl_in_region = true;  // a worker only ever runs kernels inside a region
    unsigned long long seen = 0;
    for (;;) {
      unsigned long long t;
      int spins = 0;
      while (((t = ticket.load(std::memory_order_acquire)) >> 1) == seen) {
        if (++spins < kSpinIters) { cpu_relax(); continue; }
        std::unique_lock<std::mutex> lk(mu);
        cv.wait(lk, [&] { return (ticket.load(std::memory_order_acquire) >> 1) != seen; });
      }
      seen = t >> 1;
      if (stop) return;
      if (t & 1) {
        // a claimed region: enter only while one is open, and read the job after entering (a
        // worker that woke late works on the current region, or on none)
        unsigned s = state.load(std::memory_order_acquire);
        while (s & kOpen)
          if (state.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel)) {
            const bool prof = profiling;
            if (prof) {
              long long zero = 0;
              first_enter.compare_exchange_strong(zero, now_ns(), std::memory_order_relaxed);
            }
            claim_parts();
            if (prof) {
              const long long t = now_ns();
              long long seen_exit = last_exit.load(std::memory_order_relaxed);
              while (seen_exit < t && !last_exit.compare_exchange_weak(seen_exit, t, std::memory_order_relaxed)) {}
            }
            state.fetch_sub(1, std::memory_order_acq_rel);
            break;
          }
      } else {
        // one part per thread: this region cannot end (nor another start) before we report
        if (ith < job_nth) (*job)(ith, job_nth);
        pending.fetch_sub(1, std::memory_order_acq_rel);
      }
    }
  }

  // Publish a region: generation + 1 and its kind (bit 0: claimed), under mu for the sleepers.
  void publish(bool claimed) {
    {
      std::lock_guard<std::mutex> lk(mu);
      unsigned long long g = (ticket.load(std::memory_order_relaxed) >> 1) + 1;
      ticket.store(g << 1 | (claimed ? 1 : 0), std::memory_order_release);
    }
    cv.notify_all();
  }

  void ensure_workers(int n) {
    while ((int)workers.size() < n - 1) {
      int ith = (int)workers.size() + 1;
      workers.emplace_back([this, ith] { worker_loop(ith); });
    }
  }
};

Pool& pool() {
  static Pool* p = [] {
    Pool* q = new Pool();  // never destroyed: workers may outlive static destruction order
    int n = (int)std::thread::hardware_concurrency();
    if (n < 1) n = 1;
    if (const char* env = std::getenv("TRM_THREADS")) {
      int v = std::atoi(env);
      if (v >= 1 && v <= kMaxThreads) n = v;
    }
    q->nthreads = n;
    return q;
  }();
  return *p;
}

int region_threads(int max_threads) {
  Pool& p = pool();
  int nth = p.nthreads;
  if (max_threads > 0 && max_threads < nth) nth = max_threads;
  return nth;
}

}  // namespace

int pool_threads() { return tl_in_region ? 1 : pool().nthreads; }

void pool_set_threads(int n) {
  if (n < 1) n = 1;
  if (n > kMaxThreads) n = kMaxThreads;
  pool().nthreads = n;
}

void parallel_run(const std::function<void(int, int)>& fn, int max_threads) {
  if (!tl_in_region) amx_config_unknown();  // a call from JavaScript: its thread's tiles are not ours
  int nth = region_threads(max_threads);
  if (nth <= 1 || tl_in_region) {
    fn(0, 1);  // one thread, or nested inside a region: the same bits as any split
    return;
  }
  Pool& p = pool();
  std::lock_guard<std::mutex> run_lock(p.run_mu);
  p.ensure_workers(nth);
  p.job = &fn;
  p.job_nth = nth;
  p.next.store(1, std::memory_order_relaxed);
  p.profiling = g_profile.load(std::memory_order_relaxed);
  long long t0 = 0;
  if (p.profiling) {
    p.first_enter.store(0, std::memory_order_relaxed);
    p.last_exit.store(0, std::memory_order_relaxed);
    t0 = now_ns();
  }
  p.state.store(kOpen, std::memory_order_release);
  p.publish(true);
  tl_in_region = true;
  fn(0, nth);  // (part 0 is the caller's: next starts at 1)
  p.claim_parts();
  tl_in_region = false;
  const long long t1 = p.profiling ? now_ns() : 0;
  // close the region, then wait for the workers inside it (they finish the parts they took)
  unsigned s = p.state.load(std::memory_order_acquire);
  while (!p.state.compare_exchange_weak(s, s & ~kOpen, std::memory_order_acq_rel)) {}
  for (int spins = 0; p.state.load(std::memory_order_acquire) != 0;) {
    if (++spins < 4096) cpu_relax();
    else std::this_thread::yield();
  }
  if (p.profiling) {
    const long long t2 = now_ns(), enter = p.first_enter.load(std::memory_order_relaxed),
                    exit = p.last_exit.load(std::memory_order_relaxed);
    const void* site = __builtin_return_address(0);
    RegionStat* r = nullptr;
    for (RegionStat& x : g_profile_stats)
      if (x.site == site) r = &x;
    if (!r) {
      g_profile_stats.push_back(RegionStat{site, 0, 0, 0, 0, 0, 0, 0});
      r = &g_profile_stats.back();
    }
    r->calls++;
    r->region_ns += (double)(t2 - t0);
    r->caller_wait_ns += (double)(t2 - t1);
    if (enter) {
      r->entered++;
      r->worker_late_ns += (double)(enter - t0);
      if (enter - t0 > 20000) r->late_regions++;
      if (exit && exit < t1) r->worker_idle_ns += (double)(t1 - exit);
    }
  }
}

void pool_profile_start() {
  std::lock_guard<std::mutex> run_lock(pool().run_mu);
  g_profile_stats.clear();
  g_profile.store(true, std::memory_order_relaxed);
}

std::vector<RegionStat> pool_profile_stop() {
  std::lock_guard<std::mutex> run_lock(pool().run_mu);
  g_profile.store(false, std::memory_order_relaxed);
  std::vector<RegionStat> out;
  out.swap(g_profile_stats);
  return out;
}

void parallel_run_each(const std::function<void(int, int)>& fn, int max_threads) {
  if (!tl_in_region) amx_config_unknown();
  int nth = region_threads(max_threads);
  if (nth <= 1 || tl_in_region) {
    fn(0, 1);
    return;
  }
  Pool& p = pool();
  std::lock_guard<std::mutex> run_lock(p.run_mu);
  p.ensure_workers(nth);
  p.job = &fn;
  p.job_nth = nth;
  p.pending.store((int)p.workers.size(), std::memory_order_release);
  p.publish(false);
  tl_in_region = true;
  fn(0, nth);
  tl_in_region = false;
  for (int spins = 0; p.pending.load(std::memory_order_acquire) != 0;) {
    if (++spins < 4096) cpu_relax();
    else std::this_thread::yield();
  }
}

}  // namespace trm
