// ops.h: the fused non-GEMM kernels (one file per family in native/ops/), with the signatures of
// src/kernels/backend.ts in llm.c order: outputs, saved-for-backward, inputs, weights, sizes,
// scalars. Sizes are validated by the caller (the TS wrappers and binding_ops.cpp); these
// functions trust them, never allocate a tensor and keep no pointer past the call.
//
// Threading: every kernel splits its work with parallel_for (or parallel_claim) below. Each output
// element is written by exactly one thread and every reduction runs in a fixed order (per row, per
// column, or in fixed-size chunks for sum), so the results are bitwise the same for any thread count.
#pragma once
#include <atomic>
#include <cstdint>

#include "../threadpool.h"
#include "dot_f64.h"

namespace trm {

// Below this much work (elements touched) a kernel runs on the calling thread only.
constexpr long kMinParallelWork = 16384;

// Run f(lo, hi) over contiguous parts of [0, n), one part per thread; `work` decides whether the
// pool is worth waking. Must not be called from inside another parallel region.
template <class F>
inline void parallel_for(long n, long work, F&& f) {
  parallel_run([&](int ith, int nth) {
    long lo, hi;
    split_range(n, ith, nth, &lo, &hi);
    if (lo < hi) f(lo, hi);
  }, work < kMinParallelWork ? 1 : 0);
}

// Items [0, n) handed out one at a time to whichever thread asks first (claimed = true), or every
// item to every thread in order (claimed = false: kernels that split each item's columns instead).
// Threads that take items as they free up end within one item of each other, where a fixed share
// each ends with the slower: on the 2-vCPU cloud hosts which vCPU is slower changes from minute to
// minute (the caller waited 7-10% of every fused token mixer region for the worker in one run, the
// worker for the caller in the next).
//
// Claimed, each region part starts on its home share (split_range's contiguous share, the items
// parallel_for would give it) front to back, and only then takes items from the back of the other
// shares. So the caller (part 0 as a rule) keeps the same items in every kernel of a step, as the
// contiguous row chunks of the channel kernels do, and reads what it wrote into its own L2: one
// counter for all parts sent about half of every item's activations across cores, which cost the
// two-thread cpu-sudoku4 step 9% on the Zen 5 host (twenty-first session). A share's front and back
// sit in one 64-bit word (front low, back high; so n < 2^32: items and row blocks are batch-sized),
// one cache line per share.
// A part reads its items through part(ith): first(), next(b), and likely_next(b), the item to
// prefetch under b (claimed: the one its next claim would get now; another part may take it first;
// else b + 1). Items must be independent (each writes its own outputs): which thread runs an item
// never changes a bit.
struct ItemClaims {
  static constexpr int kMaxShares = 16;  // parts beyond it have no home share and only take from the back
  const long n;
  const bool claimed;
  const int shares;
  struct alignas(64) Share {
    std::atomic<unsigned long long> fb{0};
  };
  Share share[kMaxShares];

  ItemClaims(long n_, bool claimed_)
      : n(n_), claimed(claimed_), shares(claimed_ ? home_shares(n_) : 0) {
    for (int s = 0; s < shares; s++) {
      long lo, hi;
      split_range(n, s, shares, &lo, &hi);
      share[s].fb.store((unsigned long long)hi << 32 | (unsigned long long)lo, std::memory_order_relaxed);
    }
  }
  static int home_shares(long n) {
    long s = pool_threads();
    if (s > kMaxShares) s = kMaxShares;
    if (s > n) s = n;
    return s < 1 ? 1 : (int)s;
  }
  // the front of share s (its owner), or its back (another part); -1 when it is empty
  long take_front(int s) {
    unsigned long long v = share[s].fb.load(std::memory_order_relaxed);
    while ((v & 0xffffffffu) < (v >> 32))
      if (share[s].fb.compare_exchange_weak(v, v + 1, std::memory_order_relaxed)) return (long)(v & 0xffffffffu);
    return -1;
  }
  long take_back(int s) {
    unsigned long long v = share[s].fb.load(std::memory_order_relaxed);
    while ((v & 0xffffffffu) < (v >> 32))
      if (share[s].fb.compare_exchange_weak(v, v - (1ull << 32), std::memory_order_relaxed))
        return (long)(v >> 32) - 1;
    return -1;
  }
  long take(int home) {
    if (home < shares) {
      const long b = take_front(home);
      if (b >= 0) return b;
    }
    for (int j = 1; j <= shares; j++) {
      const int s = (home + j) % shares;
      if (s == home) continue;
      const long b = take_back(s);
      if (b >= 0) return b;
    }
    return -1;
  }
  // Up to kmax consecutive items from the front of the home share (at most half of what is left
  // there, one at least: the share's tail goes in single items, which another part can still take
  // from its back), else one item from the back of another share. *count: how many; the first is
  // returned, -1 when none is left.
  long take_run(int home, long kmax, long* count) {
    *count = 1;
    if (home < shares) {
      unsigned long long v = share[home].fb.load(std::memory_order_relaxed);
      for (;;) {
        const long f = (long)(v & 0xffffffffu), left = (long)(v >> 32) - f;
        if (left <= 0) break;
        long k = left / 2 < kmax ? left / 2 : kmax;
        if (k < 1) k = 1;
        if (share[home].fb.compare_exchange_weak(v, v + (unsigned long long)k, std::memory_order_relaxed)) {
          *count = k;
          return f;
        }
      }
    }
    return take(home);
  }
  long peek(int home) const {
    for (int j = 0; j <= shares; j++) {
      const int s = (home + j) % shares;
      if (j > 0 && s == home) continue;
      const unsigned long long v = share[s].fb.load(std::memory_order_relaxed);
      const long f = (long)(v & 0xffffffffu), bk = (long)(v >> 32);
      if (f < bk) return s == home ? f : bk - 1;
    }
    return -1;
  }

  struct Part {
    ItemClaims& c;
    const int home;
    long first() { return c.claimed ? c.take(home) : c.n > 0 ? 0 : -1; }
    long next(long b) { return c.claimed ? c.take(home) : b + 1 < c.n ? b + 1 : -1; }
    // the next run of up to kmax consecutive items (take_run; claimed items only, as parallel_claim's)
    long next_run(long kmax, long* count) { return c.take_run(home, kmax, count); }
    long likely_next(long b) const {
      if (!c.claimed) return b + 1 < c.n ? b + 1 : -1;
      return c.peek(home);
    }
  };
  Part part(int ith) { return Part{*this, ith}; }
};

// Run f(items) on the pool's threads with the items of [0, n) claimed one at a time (ItemClaims;
// items is this part's ItemClaims::Part): f takes items.first(), then items.next(b) until -1, and
// does its per-thread setup (packing shared weights) only once its first claim succeeded, so a
// thread that finds nothing left does none. `work` decides whether the pool is worth waking, as in
// parallel_for; nested in a region it runs inline.
template <class F>
inline void parallel_claim(long n, long work, F&& f) {
  ItemClaims claims(n, true);
  parallel_run([&](int ith, int) {
    ItemClaims::Part items = claims.part(ith);
    f(items);
  }, work < kMinParallelWork ? 1 : 0);
}

// Dot product of two float rows in float64, in a fixed lane order (used by per-row reductions).
inline double dot_f64(const float* a, const float* b, long n) { return dot_f64_lanes(a, b, n); }

// ---- elementwise (elementwise.cpp) ---------------------------------------------------------
void add(float* out, const float* a, const float* b, long n);
void add3(float* out, const float* a, const float* b, const float* c, long n);
void add_bias(float* out, const float* bias, long N, long C);
void bias_backward(float* dbias, const float* dout, long N, long C);

// ---- data movement (movement.cpp) --------------------------------------------------------------
void copy2d(float* dst, const float* src, long rows, long cols, long ld_dst, long ld_src);
void transpose(float* out, const float* inp, long R, long C);
void fill(float* dst, double value, long n);
void cast_u8_f32(float* out, const uint8_t* inp, long n);
void broadcast_rows(float* dst, const float* src, const uint8_t* mask, long B, long per, long D, long src_stride);

// ---- RMSNorm without weight (rmsnorm.cpp) ----------------------------------------------------
void rmsnorm_forward(float* out, float* rstd, const float* inp, long N, long D, double eps);
// dinp += the gradient; with sum (the fused kernels): dinp = the gradient, then sum += dinp (bitwise a zero
// fill of dinp, the accumulation and add(sum, sum, dinp)); sum_fresh: sum = 0 + dinp (as if sum had been
// zero-filled: it is written, not read)
void rmsnorm_backward(float* dinp, const float* dout, const float* out, const float* rstd, long N, long D,
                      float* sum = nullptr, bool sum_fresh = false);
void rmsnorm_seq_forward(float* out, float* rstd, const float* inp, long B, long S, long D, double eps);
void rmsnorm_seq_backward(float* dinp, const float* dout, const float* out, const float* rstd, long B, long S, long D,
                          float* sum = nullptr, bool sum_fresh = false);

// ---- SwiGLU (swiglu.cpp) ----------------------------------------------------------------------
void swiglu_forward(float* out, const float* gate_up, long N, long H);
// one row, gate and up at separate addresses; bitwise swiglu_forward's (the gate_up GEMM epilogue)
void swiglu_pair(float* y, const float* g, const float* u, long n);
// swiglu_pair of mr rows (y rows ldy apart; g, u rows ldt apart): a register tile's epilogue. Bitwise
// swiglu_pair row by row; on AVX2 the tile's vectors run four at a time across its rows.
void swiglu_tile(float* y, long ldy, const float* g, const float* u, long ldt, long mr, long nr);
// swiglu_backward_pair of mr rows (dg, du rows ldd apart; dy rows ldy; g, u rows ldg), as swiglu_tile.
void swiglu_backward_tile(float* dg, float* du, long ldd, const float* dy, long ldy, const float* g, const float* u,
                          long ldg, long mr, long nr, bool acc);
// swiglu_pair of rows of D (the gate at g, the up at u, rows D apart) written as the active fp32 GEMM
// kernel's packed B panels of swiglu_panels_width() columns (element (k, c) at yp[(c / w) * pstride +
// k * w + c % w]; D a multiple of w) and, y not null, also row-major at y. Same bits. The width: 32 on
// the AVX-512 path (swiglu_avx512.cpp), 16 on AVX2 (swiglu_avx2.cpp), 0 where no path writes panels.
long swiglu_panels_width();
void swiglu_panels(float* yp, long pstride, float* y, const float* g, const float* u, long rows, long D);
// swiglu_panels that also stores what it reads, g to gk and u to uk (rows x D each), and y (not null)
// all three streamed past the caches where swiglu_panels_streams_kept(D) (AVX2, D a multiple of 64) and
// they are 32-byte aligned, else stored plainly; visible to other threads when it returns. For a kept
// [gate; up] and h that only a much later backward reads: their lines are never read for ownership.
bool swiglu_panels_streams_kept(long D);
void swiglu_panels_kept(float* yp, long pstride, float* y, const float* g, const float* u, float* gk, float* uk,
                        long rows, long D);
void swiglu_backward(float* dgate_up, const float* dout, const float* gate_up, long N, long H);
// one row of the backward, operands at separate addresses (the dh GEMM's epilogue): dg, du += (acc)
// or = 0 + (not acc: bitwise a zeroed buffer accumulated into) the gradients of silu(g) * u.
void swiglu_backward_pair(float* dg, float* du, const float* dy, const float* g, const float* u, long n, bool acc);
// The same two for the bf16 products' epilogues: within a few ulp of them (AVX-512: a polynomial
// exp with FMAs and VRCP14PS + one Newton step for the division, swiglu_bf16_avx512.cpp; other
// paths: the exact functions). Never used by the fp32 path.
void swiglu_pair_bf16(float* y, const float* g, const float* u, long n);
void swiglu_backward_pair_bf16(float* dg, float* du, const float* dy, const float* g, const float* u, long n,
                               bool acc);

// ---- embeddings (embedding.cpp) -----------------------------------------------------------------
// Index of the first id outside [0, V), or -1 when all are valid.
long first_bad_id(const int32_t* ids, long N, long V);
void embedding_forward(float* out, const int32_t* ids, const float* table, long N, long D, double scale);
void embedding_backward(float* dtable, const float* dout, const int32_t* ids, long N, long D, double scale);

// ---- losses and metrics (losses.cpp) --------------------------------------------------------------
// Index of the first label that is neither ignore_index nor in [0, V), or -1.
long first_bad_label(const int32_t* labels, long N, long V, long ignore_index);
void stablemax_ce_forward(float* loss, const float* logits, const int32_t* labels, long N, long V, long ignore_index);
void stablemax_ce_backward(float* dlogits, const float* dloss, const float* logits, const int32_t* labels,
                           long N, long V, long ignore_index);
void bce_logits_forward(float* loss, const float* logits, const float* targets, long N);
void bce_logits_backward(float* dlogits, const float* dloss, const float* logits, const float* targets, long N);
void argmax(int32_t* out, const float* logits, long N, long V);
void match_counts(uint8_t* seq_correct, int32_t* counts, const int32_t* pred, const int32_t* labels,
                  long B, long S, long ignore_index);
// weights may be null (every sample weighs 1).
void loss_grad(float* dtok, float* dbce, const int32_t* counts, const float* weights, long B, long L, double loss_scale);

// ---- attention helpers (attention.cpp) --------------------------------------------------------------
void softmax_forward(float* out, const float* inp, long N, long V);
void softmax_backward(float* dinp, const float* dout, const float* out, long N, long V);
void rope_forward(float* out, const float* inp, const float* cos, const float* sin, long B, long S, long H, long Dh);
void rope_backward(float* dinp, const float* dout, const float* cos, const float* sin, long B, long S, long H, long Dh);

// ---- optimizers and EMA (optim.cpp) ------------------------------------------------------------------
void adam_atan2_step(float* param, float* m, float* v, const float* grad, long n, double lr, double beta1,
                     double beta2, double wd, long step);
void adamw_step(float* param, float* m, float* v, const float* grad, long n, double lr, double beta1,
                double beta2, double eps, double wd, long step);
void sign_sgd_rows(float* param, const float* grad, const int32_t* rows, long n_rows, long width, double lr, double wd);
void ema_update(float* shadow, const float* param, long n, double decay);

}  // namespace trm
