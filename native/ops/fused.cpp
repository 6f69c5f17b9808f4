// fused.cpp: the small-model half-block kernels (fused.h). The threads of one region take whole
// items one at a time as they free up (token mixer, parallel_claim: each part its home share first,
// the same items as the channel MLP's rows) or runs of contiguous rows (channel MLP, RowPieces);
// inside a part the GEMM, SwiGLU and norm kernels run on the calling thread.
//
// Claimed token mixer items (ItemClaims, ops.h): against a fixed half each, cpu-sudoku4's step
// 1.006-1.028x on the Xeon; home shares first: against one shared counter 1.02-1.09x on Zen 5 (the
// 9% where the two vCPUs are far apart), against fixed halves even to 1.03x. Each thread still packs
// the shared weights once.
#include "fused.h"
#include "../aligned_buf.h"

#include <atomic>
#include <cstdint>
#include <cstdlib>

#include "../gemm/gemm.h"
#include "ops.h"

namespace trm {
namespace {

// Channel-MLP rows per chunk: at most this many floats of its gate_up (rows x 2I; up to 256 rows at
// I = 256, 512 KiB) so it stays in L2 (each chunk packs the weights once: fuller chunks pack them
// less often). Rows are independent in every op, so the chunking never changes a bit.
constexpr long kChunkFloats = 131072;
// The rows come in pieces of at most a quarter chunk, whole strips of the fp32 kernel's tile rows mr
// (14 on AVX-512, 6 on AVX2: an edge tile computes all mr rows, so AVX2 lost 4 rows of products in
// every 56-row piece), the strips spread evenly over the pieces (they differ by at most one strip;
// only the last piece ends in a partial one). They are claimed in runs (ItemClaims::take_run): each
// thread takes up to a chunk of consecutive pieces at a time from the front of its home share (the
// rows the token mixer's items gave it), and the shares' last pieces go one at a time, so a thread
// that finishes early takes some of the other's instead of waiting (fixed halves: the two threads of a
// 2-vCPU Zen 5 ended 2-7% apart, the one that ran longer changing from run to run).
struct RowPieces {
  long N, mr, strips, n, most_pieces, most_rows;
  RowPieces(long N_, long I, long mr_) : N(N_), mr(mr_), strips((N_ + mr_ - 1) / mr_) {
    const long most = kChunkFloats / (2 * I) < 1 ? 1 : kChunkFloats / (2 * I);
    const long per = most >= 4 * mr ? most / 4 / mr : most >= mr ? most / mr : 1;  // strips a piece at most
    n = (strips + per - 1) / per;
    most_pieces = most / (per * mr) < 1 ? 1 : most / (per * mr);
    most_rows = most_pieces * per * mr;
  }
  // the first row of piece p (p = n: N)
  long start(long p) const {
    const long r = n ? p * strips / n * mr : 0;
    return r < N ? r : N;
  }
  long end(long p0, long count) const { return start(p0 + count); }
};

// A forward that keeps nothing (keep = false) writes each item's (or chunk's) gate_up and h here,
// per thread, instead of into the caller's buffers: they stay in L2, and the megabytes a kept
// forward writes (the token mixer's gate_up is 2Is/S times its input) never go out to memory.
thread_local AlignedBuf tl_unkept;

// The token mixer's gate_up is 2Is/S times its input. For short sequences (cpu-sudoku4: S 17, 30
// times) writing it out in the kept forward and reading it back in the backward costs more than
// running its product again there (measured on a 13 GB/s host: -0.44 ms per kept forward, +0.25 ms
// per backward at S 17); at S 82 (cpu-sudoku9) the product costs five times as much and keeping it
// wins (the step 2-5% faster). fused.h token_mixer_recomputes_gate_up.
constexpr long kRecomputeGateUpMaxS = 24;

// The weights a part shares across its items or chunks, packed once per part (gemm_pack_a, the
// layout gemm packs them in for each call), instead of once per gemm call: the same packed values,
// so the same bits. A part's packs (up to four) sit side by side in one per-thread buffer.
thread_local AlignedBuf tl_weights;

// While the caller says the weights are frozen (set_weights_frozen: a supervision step's forward and
// backward, model/step.ts), a thread keeps its packs of them between kernel calls, keyed by the
// operands' addresses and shapes and the active kernel: a step's 8-16 calls of a layer's kernel pack
// its weights once per thread instead of once per call. Any freeze starts a new epoch, and a pack made
// in another epoch is never used (the optimizer changes the weights between steps, in place).
std::atomic<unsigned long long> g_frozen_epoch{0}, g_epochs{0};
struct PackKey {
  uintptr_t v[20] = {};
  bool operator==(const PackKey& o) const {
    for (int i = 0; i < 20; i++)
      if (v[i] != o.v[i]) return false;
    return true;
  }
};
struct PackEntry {
  unsigned long long epoch = 0;
  PackKey key;
  AlignedBuf buf;
};
constexpr int kPackEntries = 16;  // per thread (a step uses 4 kernels x layers)
thread_local PackEntry tl_packs[kPackEntries];
thread_local int tl_pack_next = 0;

// The key of up to four operands' packs (A or B, by `role`) under the active fp32 kernel.
PackKey pack_key(int role, const GemmArgs* g1, const GemmArgs* g2, const GemmArgs* g0, const GemmArgs* g3) {
  PackKey k;
  const GemmKernelInfo kr = gemm_active_kernel(false);
  k.v[0] = (uintptr_t)role;
  k.v[1] = (uintptr_t)kr.kernel;
  k.v[2] = (uintptr_t)kr.mr << 32 | (uintptr_t)kr.nr;
  k.v[3] = (uintptr_t)kr.kc;
  int i = 4;
  for (const GemmArgs* g : {g1, g2, g0, g3}) {
    if (!g) { i += 4; continue; }
    k.v[i++] = (uintptr_t)(role == 0 ? g->A : g->B);
    k.v[i++] = (uintptr_t)(role == 0 ? g->lda : g->ldb) << 1 | (uintptr_t)(role == 0 ? g->trans_a : g->trans_b);
    k.v[i++] = (uintptr_t)g->M << 32 | (uintptr_t)g->N;
    k.v[i++] = (uintptr_t)g->K;
  }
  return k;
}

// The buffer for a pack of n floats of up to four operands (pack_key's), and whether it already holds
// it (made in this epoch); while the weights are not frozen, `fallback`'s (to be packed).
float* frozen_pack(AlignedBuf& fallback, size_t n, bool* hit, int role, const GemmArgs* g1, const GemmArgs* g2,
                   const GemmArgs* g0, const GemmArgs* g3 = nullptr) {
  *hit = false;
  const unsigned long long ep = g_frozen_epoch.load(std::memory_order_acquire);
  if (ep == 0) return fallback.get(n);
  const PackKey key = pack_key(role, g1, g2, g0, g3);
  for (PackEntry& e : tl_packs)
    if (e.epoch == ep && e.key == key) {
      *hit = true;
      return e.buf.p;
    }
  PackEntry* e = nullptr;
  for (PackEntry& f : tl_packs)
    if (f.epoch != ep) { e = &f; break; }
  if (!e) e = &tl_packs[tl_pack_next++ % kPackEntries];
  e->epoch = ep;
  e->key = key;
  return e->buf.get(n);
}

// Packs op(A) (role 0: gemm_pack_a) or op(B) (role 1: gemm_pack_b) of each operand given (g0, g3 may be
// null) side by side into `fallback`, or finds them in this thread's frozen packs, and points each at its
// pack (packed_a / packed_b). An op(B) the active kernel would not pack in one block (0 floats) keeps
// packed_b null.
void pack_shared(int role, AlignedBuf& fallback, GemmArgs* g1, GemmArgs* g2, GemmArgs* g0 = nullptr,
                 GemmArgs* g3 = nullptr) {
  const auto padded = [role](const GemmArgs* g) -> size_t {
    return g ? ((role == 0 ? gemm_packed_a_floats(*g) : gemm_packed_b_floats(*g)) + 15) / 16 * 16 : 0;
  };
  bool hit;
  float* p = frozen_pack(fallback, padded(g1) + padded(g2) + padded(g0) + padded(g3) + 16, &hit, role, g1, g2, g0, g3);
  size_t at = 0;
  for (GemmArgs* g : {g1, g2, g0, g3}) {
    const size_t n = padded(g);
    if (n == 0) continue;
    if (!hit) role == 0 ? gemm_pack_a(p + at, *g) : gemm_pack_b(p + at, *g);
    (role == 0 ? g->packed_a : g->packed_b) = p + at;
    at += n;
  }
}

// The fused kernels' shared weights as op(A), packed once per part (pack_shared)
void pack_shared_a(GemmArgs& g1, GemmArgs& g2, GemmArgs* g0 = nullptr, GemmArgs* g3 = nullptr) {
  pack_shared(0, tl_weights, &g1, &g2, g0, g3);
}

// C (M x N, ldc) = op(A) op(B) from packs in one k block (K <= kc; pa as gemm_pack_a lays op(A) out, pb
// the NR-column panels of op(B), panel p at p * K * NR; fp32): gemm's loop over the active kernel,
// beta 0, so bitwise gemm's result.
void gemm_packed(const GemmKernelInfo& kr, const float* pa, const float* pb, long M, long N, long K, float* C,
                 long ldc) {
  const long MR = kr.mr, NR = kr.nr;
  for (long j0 = 0; j0 < N; j0 += NR)
    for (long i0 = 0; i0 < M; i0 += MR)
      kr.kernel(K, pa + i0 * K, pb + j0 * K, C + i0 * ldc + j0, ldc, M - i0 < MR ? M - i0 : MR, N - j0 < NR ? N - j0 : NR,
                1.f, 0.f);
}

// The channel MLP's weights as the B operand of its row-chunk products (x W^T), packed once per part
// (gemm_pack_b) instead of once per chunk: the same packed values, so the same bits. Up to two side by
// side; an operand the active kernel would not pack in one block keeps packed_b null.
thread_local AlignedBuf tl_weights_b;

void pack_shared_b(GemmArgs& g1, GemmArgs* g2) { pack_shared(1, tl_weights_b, &g1, g2); }

thread_local AlignedBuf tl_hpanels;

// Prefetches for write of the lines of two kept buffers (p1, n1 and p2, n2 floats; none when both are
// empty) that the next item stores to, a share per slice of this item's SwiGLU over `slices` slices:
// those lines come in from memory while this item computes, instead of stalling the stores that first
// touch them (a kept call's gate_up and h are megabytes, out of cache).
struct NextWrites {
  const float *p1, *p2;
  long l1, l2, per, l = 0;
  NextWrites(const float* p1_, long n1, const float* p2_, long n2, long slices)
      : p1(p1_), p2(p2_), l1((n1 + 15) / 16), l2((n2 + 15) / 16), per((l1 + l2 + slices - 1) / slices) {}
  void share() {
    for (const long e = l + per; l < e && l < l1 + l2; l++)
      __builtin_prefetch(l < l1 ? p1 + l * 16 : p2 + (l - l1) * 16, 1, 3);
  }
};

// One item's SwiGLU (h (Is, D) of gate_up [gate (Is, D) | up (Is, D)]) written as the down product's B
// panels hp of nr columns (swiglu_panels) and, when y is not null, also row-major at y (the kept h), in
// kKeptSlices slices of rows, each followed by its share of the next item's write prefetches
// (NextWrites). Bitwise swiglu_forward_rows.
constexpr long kKeptSlices = 64;
void swiglu_item(float* hp, long nr, float* y, const float* gu, long Is, long D, const float* p1, long n1,
                 const float* p2, long n2) {
  const long step = (Is + kKeptSlices - 1) / kKeptSlices;
  NextWrites next(p1, n1, p2, n2, (Is + step - 1) / step);
  const float* u = gu + Is * D;
  for (long k = 0; k < Is; k += step) {
    const long rows = Is - k < step ? Is - k : step;
    swiglu_panels(hp + k * nr, Is * nr, y ? y + k * D : nullptr, gu + k * D, u + k * D, rows, D);
    next.share();
  }
}

// SwiGLU of one row (y (n) = swiglu of [gate (n) | up (n)] at gu) in kKeptSlices slices, each followed
// by its share of the next item's write prefetches, as swiglu_item does. Bitwise swiglu_forward_rows.
void swiglu_prefetching(float* y, const float* gu, long n, const float* p1, long n1, const float* p2, long n2) {
  const long step = (n + kKeptSlices - 1) / kKeptSlices;
  NextWrites next(p1, n1, p2, n2, kKeptSlices);
  for (long c = 0; c < n; c += step) {
    swiglu_pair(y + c, gu + c, gu + n + c, n - c < step ? n - c : step);
    next.share();
  }
}

}  // namespace

void set_weights_frozen(bool on) {
  g_frozen_epoch.store(on ? g_epochs.fetch_add(1, std::memory_order_acq_rel) + 1 : 0, std::memory_order_release);
}

bool token_mixer_recomputes_gate_up(long S) { return S <= kRecomputeGateUpMaxS; }

void token_mixer_norm_forward(float* out, float* rstd, float* gate_up, float* h, float* r, const float* inp,
                              const float* w_gate_up, const float* w_down, long B, long S, long D, long Is,
                              double eps, bool keep) {
  const long gu = 2 * Is * D, hd = Is * D, sd = S * D;
  const bool keep_gu = keep && !token_mixer_recomputes_gate_up(S);
  parallel_claim(B, B * (3 * Is * S * D + 2 * sd), [&](ItemClaims::Part& items) {
    long b = items.first();
    if (b < 0) return;
    const GemmKernelInfo kr = gemm_active_kernel(false);
    // h written as the down product's packed B (the kernel's panels, one k block): no pack of h per item
    const bool panels = swiglu_panels_width() == kr.nr && kr.kpack == 1 && D % kr.nr == 0 && Is <= kr.kc;
    // A kept gate_up_b made in the per-thread buffer too, and SwiGLU's pass over it streams it and h
    // to the kept tensors past the caches as it reads them (swiglu_panels_kept): no line of the
    // megabytes a kept call writes is read for ownership first, nor evicts what the next item reads.
    // Zen 2 (AVX2), cpu-sudoku9 (S 82): the kept forward 1.73-1.75 -> 1.66-1.68 ms, the step x1.012-1.013
    // (bench-ab-step, two runs); the paper step at B 16 even. (The channel MLP's chunks the same way ran
    // their kept forward 0.98x and the step even, for reasons not found: docs/PERFORMANCE.md.)
    const bool stream_kept = keep_gu && panels && swiglu_panels_streams_kept(D);
    // what is not kept stays in a per-thread buffer (in L2): gate_up when the backward recomputes it
    // or no backward follows (or is streamed out of it), h too when no backward follows
    float* own = keep_gu && !stream_kept ? nullptr : tl_unkept.get((size_t)(gu + hd));
    GemmArgs g1;  // gate_up_b = W_gu @ x_b
    g1.M = 2 * Is; g1.N = D; g1.K = S;
    g1.A = w_gate_up; g1.lda = S;
    g1.ldb = D; g1.ldc = D;
    GemmArgs g2;  // r_b = W_down @ h_b
    g2.M = S; g2.N = D; g2.K = Is;
    g2.A = w_down; g2.lda = Is;
    g2.ldb = D; g2.ldc = D;
    pack_shared_a(g1, g2);
    float* hp = panels ? tl_hpanels.get((size_t)hd) : nullptr;
    for (; b >= 0; b = items.next(b)) {
      const long bn = items.likely_next(b);  // (this item prefetches its kept lines)
      float* gub = keep_gu && !stream_kept ? gate_up + b * gu : own;
      float* hb = keep ? h + b * hd : own + gu;
      g1.B = inp + b * sd;
      g1.C = gub;
      gemm(g1);
      if (stream_kept) {  // h into the panels; h and [gate; up] streamed to the kept tensors
        swiglu_panels_kept(hp, Is * kr.nr, hb, gub, gub + Is * D, gate_up + b * gu, gate_up + b * gu + Is * D, Is, D);
        gemm_packed(kr, g2.packed_a, hp, S, D, Is, r + b * sd, D);
      } else if (panels) {  // h straight into the down product's B panels (and the kept h, the next
                            // item's kept lines prefetched for write meanwhile)
        const bool next = keep && bn >= 0, next_gu = next && keep_gu;
        swiglu_item(hp, kr.nr, keep ? hb : nullptr, gub, Is, D, next ? h + bn * hd : nullptr, next ? hd : 0,
                    next_gu ? gate_up + bn * gu : nullptr, next_gu ? gu : 0);
        gemm_packed(kr, g2.packed_a, hp, S, D, Is, r + b * sd, D);
      } else {
        if (keep && bn >= 0)  // the next item's kept h (and gate_up) prefetched for write meanwhile
          swiglu_prefetching(hb, gub, hd, h + bn * hd, hd, keep_gu ? gate_up + bn * gu : nullptr,
                             keep_gu ? gu : 0);
        else
          swiglu_forward_rows(hb, gub, 0, 1, hd);
        g2.B = hb;
        g2.C = r + b * sd;
        gemm(g2);
      }
      add(r + b * sd, r + b * sd, inp + b * sd, sd);
      rmsnorm_seq_forward(out + b * sd, rstd + b * D, r + b * sd, 1, S, D, eps);
    }
  });
}

void mlp_norm_forward(float* out, float* rstd, float* gate_up, float* h, float* r, const float* inp,
                      const float* w_gate_up, const float* w_down, long N, long D, long I, double eps, bool keep) {
  const RowPieces pieces(N, I, gemm_active_kernel(false).mr);
  parallel_claim(pieces.n, N * (3 * I * D + 2 * D), [&](ItemClaims::Part& part) {
    const long step = pieces.most_rows;
    float* own = keep ? nullptr : tl_unkept.get((size_t)step * 3 * I);
    GemmArgs g1;  // gate_up = x @ W_gu^T
    g1.trans_b = true;
    g1.N = 2 * I; g1.K = D;
    g1.lda = D;
    g1.B = w_gate_up; g1.ldb = D;
    g1.ldc = 2 * I;
    GemmArgs g2;  // r = h @ W_down^T
    g2.trans_b = true;
    g2.N = D; g2.K = I;
    g2.lda = I;
    g2.B = w_down; g2.ldb = I;
    g2.ldc = D;
    bool packed = false;
    long count;
    for (long p0; (p0 = part.next_run(pieces.most_pieces, &count)) >= 0;) {
      if (!packed) pack_shared_b(g1, &g2), packed = true;
      const long r0 = pieces.start(p0), rows = pieces.end(p0, count) - r0;
      float* guc = keep ? gate_up + r0 * 2 * I : own;  // this chunk's rows
      float* hc = keep ? h + r0 * I : own + step * 2 * I;
      g1.M = rows;
      g1.A = inp + r0 * D;
      g1.C = guc;
      gemm(g1);
      swiglu_forward_rows(hc, guc, 0, rows, I);
      g2.M = rows;
      g2.A = hc;
      g2.C = r + r0 * D;
      gemm(g2);
      add(r + r0 * D, r + r0 * D, inp + r0 * D, rows * D);
      rmsnorm_forward(out + r0 * D, rstd + r0, r + r0 * D, rows, D, eps);
    }
  });
}

void mlp_norm_backward(float* dinp, float* dr, float* dh, float* dgate_up, const float* dout, const float* out,
                       const float* rstd, const float* gate_up, const float* w_gate_up, const float* w_down, long N,
                       long D, long I, bool fresh) {
  const RowPieces pieces(N, I, gemm_active_kernel(false).mr);
  parallel_claim(pieces.n, N * (4 * I * D + 4 * D), [&](ItemClaims::Part& part) {
    GemmArgs g2;  // dinp += dgate_up @ W_gu
    g2.N = D; g2.K = 2 * I;
    g2.lda = 2 * I;
    g2.B = w_gate_up; g2.ldb = D;
    g2.ldc = D;
    g2.beta = 1.f;
    bool packed = false;
    long count;
    for (long p0; (p0 = part.next_run(pieces.most_pieces, &count)) >= 0;) {
      if (!packed) pack_shared_b(g2, nullptr), packed = true;
      const long r0 = pieces.start(p0), rows = pieces.end(p0, count) - r0;
      rmsnorm_backward(dr + r0 * D, dout + r0 * D, out + r0 * D, rstd + r0, rows, D, dinp + r0 * D, fresh);  // dinp (+)= dr
      // dh = dr @ W_down with SwiGLU's backward in its epilogue: dgate_up written fresh, dh never
      // stored (bitwise gemm, fill and swiglu_backward_rows)
      linear_swiglu_backward(dgate_up + r0 * 2 * I, dr + r0 * D, gate_up + r0 * 2 * I, w_down, rows, D, I, false, true);
      g2.M = rows;
      g2.A = dgate_up + r0 * 2 * I;
      g2.C = dinp + r0 * D;
      gemm(g2);
    }
  });
}

void token_mixer_norm_backward(float* dinp, float* dr, float* dh, float* dgate_up, const float* dout,
                               const float* out, const float* rstd, const float* gate_up, const float* inp,
                               const float* w_gate_up, const float* w_gate_up_t, const float* w_down_t, long B,
                               long S, long D, long Is, bool fresh) {
  const long gu = 2 * Is * D, sd = S * D;
  const bool recompute = token_mixer_recomputes_gate_up(S);
  parallel_claim(B, B * ((recompute ? 5 : 3) * Is * S * D + 4 * sd), [&](ItemClaims::Part& items) {
    long b = items.first();
    if (b < 0) return;
    // recomputed: gate_b = W_g @ x_b and up_b = W_u @ x_b, W_gu's two halves packed apart, made by
    // gemm_swiglu_backward tile by tile beside each dh tile (gemm.h recompute_x: the forward's bits)
    GemmArgs wg, wu;
    wg.M = wu.M = Is; wg.N = wu.N = D; wg.K = wu.K = S;
    wg.A = w_gate_up; wu.A = w_gate_up + Is * S;
    wg.lda = wu.lda = S;
    GemmArgs g1;  // dh_b = W_down^T @ dr_b (its A: gemm_swiglu_backward's shared WT)
    g1.M = Is; g1.K = S;
    g1.A = w_down_t; g1.lda = S;
    GemmArgs g2;  // dinp_b += W_gu^T @ dgate_up_b
    g2.M = S; g2.N = D; g2.K = 2 * Is;
    g2.A = w_gate_up_t; g2.lda = 2 * Is;
    g2.ldb = D; g2.ldc = D;
    g2.beta = 1.f;
    pack_shared_a(g1, g2, recompute ? &wg : nullptr, recompute ? &wu : nullptr);
    for (; b >= 0; b = items.next(b)) {
      const long bn = items.likely_next(b);  // (this item prefetches its kept gate_up)
      const float* gub = recompute ? nullptr : gate_up + b * gu;
      rmsnorm_seq_backward(dr + b * sd, dout + b * sd, out + b * sd, rstd + b * D, 1, S, D, dinp + b * sd, fresh);  // dinp (+)= dr
      // dh_b = W_down^T @ dr_b with SwiGLU's backward in its epilogue (dh never stored) (a kept gate_up:
      // the next item's, out of cache, prefetched meanwhile)
      const bool next = !recompute && bn >= 0;
      gemm_swiglu_backward(dgate_up + b * gu, dr + b * sd, gub, w_down_t, Is, D, S, 1, false, true, false, false,
                           g1.packed_a, next ? gate_up + bn * gu : nullptr, next ? gu * 4 : 0,
                           recompute ? inp + b * sd : nullptr, wg.packed_a, wu.packed_a);
      g2.B = dgate_up + b * gu;
      g2.C = dinp + b * sd;
      gemm(g2);
    }
  });
}

}  // namespace trm
