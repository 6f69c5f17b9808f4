// threadpool.cpp: the fixed pool behind parallel_run(). Workers spin briefly on a generation
// counter (kernels come back to back during training, and a sleeping thread costs ~50 us to wake),
// then sleep on a condition variable so an idle Node process burns no CPU.
#include "threadpool.h"

#include <atomic>
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

struct Pool {
  std::vector<std::thread> workers;
  int nthreads = 1;            // threads a region uses (including the caller)
  std::mutex mu;               // guards sleeping and starting regions
  std::condition_variable cv;
  std::atomic<unsigned> generation{0};
  std::atomic<int> pending{0};  // workers still running the current region
  const std::function<void(int, int)>* job = nullptr;
  int job_nth = 1;
  bool stop = false;
  std::mutex run_mu;           // one parallel region at a time (Node worker threads may race)

  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(mu);
      stop = true;
      generation.fetch_add(1);
    }
    cv.notify_all();
    for (auto& t : workers) t.join();
  }

  void worker_loop(int ith) {
    unsigned seen = 0;
    for (;;) {
      unsigned g;
      int spins = 0;
      while ((g = generation.load(std::memory_order_acquire)) == seen) {
        if (++spins < kSpinIters) { cpu_relax(); continue; }
        std::unique_lock<std::mutex> lk(mu);
        cv.wait(lk, [&] { return generation.load(std::memory_order_acquire) != seen; });
      }
      seen = g;
      if (stop) return;
      if (ith < job_nth) (*job)(ith, job_nth);
      pending.fetch_sub(1, std::memory_order_acq_rel);
    }
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

}  // namespace

int pool_threads() { return pool().nthreads; }

void pool_set_threads(int n) {
  if (n < 1) n = 1;
  if (n > kMaxThreads) n = kMaxThreads;
  pool().nthreads = n;
}

void parallel_run(const std::function<void(int, int)>& fn, int max_threads) {
  Pool& p = pool();
  int nth = p.nthreads;
  if (max_threads > 0 && max_threads < nth) nth = max_threads;
  if (nth <= 1) {
    fn(0, 1);
    return;
  }
  std::lock_guard<std::mutex> run_lock(p.run_mu);
  p.ensure_workers(nth);
  p.job = &fn;
  p.job_nth = nth;
  p.pending.store((int)p.workers.size(), std::memory_order_release);
  {
    std::lock_guard<std::mutex> lk(p.mu);
    p.generation.fetch_add(1, std::memory_order_acq_rel);
  }
  p.cv.notify_all();
  fn(0, nth);
  for (int spins = 0; p.pending.load(std::memory_order_acquire) != 0;) {
    if (++spins < 4096) cpu_relax();
    else std::this_thread::yield();
  }
}

}  // namespace trm
