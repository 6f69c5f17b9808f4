// gemm.cpp: the blocked GEMM driver (BLIS loop order) over the micro-kernel of the active path.
//
//   for jc in N by NC:                     B block  (KC x NC, packed per thread, L3)
//     for pc in K by KC:
//       for ic in this thread's rows by MC: A block (MC x KC, packed per thread, L2)
//         for jr in NC by NR:               B micro-panel (KC x NR) stays in L1
//           for ir in MC by MR:             micro-kernel: MR x NR of C in registers
//
// Threads split the rows of C (in whole MR strips) when M is large enough, else the NR panels of
// each B block, and pack into their own buffers, so no thread ever waits for another. One thread
// owns each C element and sums its k blocks in order, so the result does not depend on the
// thread count. A batch of products is split item by item across threads when that balances.
#include "gemm.h"
#include "../aligned_buf.h"

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#if defined(__x86_64__)
#include <emmintrin.h>
#endif

#include "../cpu_features.h"
#include "../threadpool.h"
#include "../ops/ops.h"

namespace trm {
namespace {

thread_local AlignedBuf tl_pack_a, tl_pack_b, tl_prepacked_a, tl_pack_b_all, tl_pack_b_shared, tl_pack_a_shared, tl_pack_x,
    tl_pack_tail;

// The fast paths (kernel_direct_a / kernel_copy_b / kernel_cols and the transposed sums; for bf16,
// kernel_cols in the general loop) on or off: TRM_GEMM_FAST=0 at start, gemm_set_fast_paths later.
// Off runs the general loop on the tile alone, which gives the same bits (tests compare the two).
std::atomic<bool> g_fast_paths{[] {
  const char* e = std::getenv("TRM_GEMM_FAST");
  return !(e && e[0] == '0');
}()};

// The strip-outer path's limit: every B panel of the product packed at once (8 x 32 columns x kc
// 512 floats = 512 KiB at most, L2) and each A strip reused by at most 8 panels from L1.
constexpr long kStripOuterPanels = 8;
// Tile order when every packed B panel of a block is in hand: strip-outer (each A strip stays in L1
// while it runs all the panels, streamed from L2; C is written a row of tiles at a time) rather than
// panel-outer (each panel in L1, the A strips streamed, C written a column of tiles at a time, its
// rows ldc apart: 2 KiB for the token mixer). With a short k (the token mixer's gate_up forward and
// down dX, 1024 x 512 x 97 per item) the C stores and A's stream set the pace: strip-outer ran them
// at 86-90% of the peak against 68-74% in fp32, 1.27x faster on VDPBF16PS (twelfth session,
// docs/PERFORMANCE.md). Only while the block fits L2 beside the rest (512 KiB: half of the smallest
// L2 these machines have; TRM_GEMM_STRIP_OUTER_KIB sets it, for tests and tuning), and not for the
// AMX kernel's general loop (GemmKernelInfo::prefetches_c_below). Every tile is the same kernel call
// either way: the same bits.
inline bool strip_outer_fits(long packed_b_floats) { return packed_b_floats <= gemm_strip_outer_kib() * 256; }
// The rows from the strip at i0 to the next: mr, or mr - 1 in the tail strips from t0 on (tail_start).
inline long strip_step(long i0, long t0, long mr) { return i0 < t0 ? mr : mr - 1; }
// tile(p, i0) for the panels [p0, p1) and the strips i0 = 0, mr, ... below m (strip_step: from t0 on,
// strips of mr - 1 rows), strip-outer or panel-outer.
template <class Tile>
inline void for_each_tile(bool strip_outer, long p0, long p1, long m, long mr, Tile&& tile, long t0 = -1) {
  if (t0 < 0) t0 = m;
  if (strip_outer) {
    for (long i0 = 0; i0 < m; i0 += strip_step(i0, t0, mr))
      for (long p = p0; p < p1; p++) tile(p, i0);
  } else {
    for (long p = p0; p < p1; p++)
      for (long i0 = 0; i0 < m; i0 += strip_step(i0, t0, mr)) tile(p, i0);
  }
}
// The tile for_each_tile runs after (p, i0), at *pn, *in; false after the last.
inline bool next_tile(bool strip_outer, long p, long i0, long p0, long p1, long m, long mr, long* pn, long* in) {
  if (strip_outer) *pn = p + 1 < p1 ? p + 1 : p0, *in = p + 1 < p1 ? i0 : i0 + mr;
  else *pn = i0 + mr < m ? p : p + 1, *in = i0 + mr < m ? i0 + mr : 0;
  return *pn < p1 && *in < m;
}
// The largest register tile of any kernel (AMX: 32 x 32): the fused epilogues' L1 buffers.
constexpr int kMaxTile = 32 * 32;
// The strips a row-major A's narrow last panel (kernel_cols_a) waits for on that path: two, read
// while the newer is still in L1 from its full panels. Eight (112 rows) came back from L2, and
// with the token mixer's lda of 512 floats every row's line at one k falls in the same two L1
// sets: kernel_cols_a (1% of the weight gradients' FMAs) had 11% as many perf samples as the tile;
// with two, 8.6%, and both products ran 3% faster on one thread. One strip leaves its column's FMA
// chain alone in the lanes, waiting on latency.
constexpr long kColsAStrips = 2;
// Products of at most this many strips of rows read a row-major B's full panels in place
// (kernel_direct_b) instead of packing them (gemm_one). Zen 2, cpu-sudoku4 (S = 17: 3 strips) x1.015-1.02
// on one and two threads; cpu-sudoku9 (S = 82: 14 strips) the same at 4, 10 or 14, and 1.03x slower
// at 48 (the channel MLP's row pieces, whose weights are packed once per piece anyway).
constexpr long kDirectBStrips = 4;

GemmKernelInfo active_kernel(bool bf16) {
  GemmKernelInfo k;
  Isa isa = active_isa();
  if (bf16 && isa == Isa::Avx512 && amx_usable()) {
    k = gemm_kernel_amx_bf16();
  } else if (bf16 && isa == Isa::Avx512 && cpu_features().avx512bf16) {
    k = gemm_kernel_avx512_bf16();
  } else {
    switch (isa) {
      case Isa::Avx512: k = gemm_kernel_avx512(); break;
      case Isa::Avx2: k = gemm_kernel_avx2(); break;
      default: k = gemm_kernel_portable(); break;
    }
    if (bf16) {  // no VDPBF16PS: the fp32 kernel on panels rounded to bf16
      k.round_bf16 = true;
      k.name = isa == Isa::Avx512 ? "avx512 14x32 (bf16 emulated)"
               : isa == Isa::Avx2 ? "avx2 (bf16 emulated)" : "portable 4x16 (bf16 emulated)";
    }
  }
  // Blocking overrides for tuning experiments (bench only; results do not depend on them beyond
  // the order of the k-sum). A bf16 KC stays even (whole pairs per k block). Read once per process:
  // the small-model kernels run thousands of GEMMs per step, and getenv scans the environment.
  struct Overrides {
    int mc = 0, kc = 0, nc = 0;
    Overrides() {
      if (const char* e = std::getenv("TRM_GEMM_MC")) mc = std::atoi(e);
      if (const char* e = std::getenv("TRM_GEMM_KC")) kc = std::atoi(e);
      if (const char* e = std::getenv("TRM_GEMM_NC")) nc = std::atoi(e);
    }
  };
  static const Overrides ov;
  if (!g_fast_paths.load(std::memory_order_relaxed)) {
    k.kernel_direct_b = nullptr;
    k.kernel_direct_a = nullptr;
    k.kernel_direct_at = nullptr;
    k.kernel_copy_b = nullptr;
    k.kernel_cols = nullptr;
    k.kernel_direct_col1 = nullptr;
    k.kernel_direct_col16 = nullptr;
  }
  if (ov.mc) k.mc = (ov.mc / k.mr) * k.mr > 0 ? (ov.mc / k.mr) * k.mr : k.mc;
  if (ov.kc) k.kc = ov.kc / k.kpack * k.kpack > 0 ? ov.kc / k.kpack * k.kpack : k.kc;
  if (ov.nc) k.nc = (ov.nc / k.nr) * k.nr > 0 ? (ov.nc / k.nr) * k.nr : k.nc;
  return k;
}

// Round n floats to bfloat16 values in place, as VCVTNE2PS2BF16 does: nearest even, denormals to
// signed zero, NaN kept (quiet), infinities kept.
void round_bf16_scalar(float* p, long n) {
  for (long i = 0; i < n; i++) {
    uint32_t u;
    std::memcpy(&u, p + i, 4);
    uint32_t e = u & 0x7f800000u;
    if (e == 0) u &= 0x80000000u;
    else if (e == 0x7f800000u) u = (u & 0x7fffffu) ? ((u | 0x400000u) & 0xffff0000u) : u;
    else u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    std::memcpy(p + i, &u, 4);
  }
}
void round_bf16_inplace(float* p, long n) {
#if defined(__x86_64__)
  if (n >= 8 && active_isa() != Isa::Portable) return round_bf16_avx2(p, n);  // (the emulated bf16 products' packs)
#endif
  round_bf16_scalar(p, n);
}

// One fp32 value to bf16 bits, as round_bf16_inplace rounds it; and bf16 bits to fp32 (exact).
inline uint16_t bf16_bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  round_bf16_scalar(reinterpret_cast<float*>(&u), 1);
  return (uint16_t)(u >> 16);
}
inline float bf16_value(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float x;
  std::memcpy(&x, &u, 4);
  return x;
}

void to_bf16_scalar(uint16_t* dst, const float* src, long n) {
  for (long j = 0; j < n; j++) dst[j] = bf16_bits(src[j]);
}
void from_bf16_scalar(float* dst, const uint16_t* src, long n) {
  for (long j = 0; j < n; j++) dst[j] = bf16_value(src[j]);
}

inline void to_bf16(const GemmKernelInfo& kr, uint16_t* dst, const float* src, long n) {
  (kr.to_bf16 ? kr.to_bf16 : to_bf16_scalar)(dst, src, n);
}

inline void store_kept16(const GemmKernelInfo& kr, uint16_t* dst, const float* src, long n, bool stream) {
#if defined(__x86_64__)
  if (stream && n == 32 && (reinterpret_cast<uintptr_t>(dst) & 63) == 0) {
    if (kr.to_bf16_line_nt) return kr.to_bf16_line_nt(dst, src);
    alignas(64) uint16_t t[32];
    to_bf16(kr, t, src, 32);
    for (int j = 0; j < 32; j += 8)
      _mm_stream_si128(reinterpret_cast<__m128i*>(dst + j), _mm_load_si128(reinterpret_cast<const __m128i*>(t + j)));
    return;
  }
#endif
  to_bf16(kr, dst, src, n);
}
inline void from_bf16(const GemmKernelInfo& kr, float* dst, const uint16_t* src, long n) {
  (kr.from_bf16 ? kr.from_bf16 : from_bf16_scalar)(dst, src, n);
}

// The fused epilogues' stores. A row segment of the kept pre-activation is written once and read
// only by the backward, much later: when the whole kept tensor is too large to stay in the last-level
// cache until then (stream) and the segment is whole 64-byte lines, stream it past the caches (no
// read-for-ownership of lines that are about to be overwritten, no eviction of the operands); else
// a plain copy. Either way the same bits land.
constexpr double kStreamBytes = 8e6;
// The forward's kept pre-activation is read back only by the backward, after every later recursion's
// forward has written its own: what decides is the step's whole kept set (cpu-sudoku9 bf16: 79 MiB),
// not one call's, so a kept tensor is streamed from 1 MB up (the small presets' 1-5 MB calls were
// stored through the caches before, each line read for ownership first: bench-ab-step bf16
// cpu-sudoku9 1.10-1.15x, cpu-sudoku4 1.06-1.10x; fp32 even; streaming every size measured the same).
constexpr double kKeptStreamBytes = 1e6;
inline void store_kept(float* dst, const float* src, long n, bool stream) {
#if defined(__x86_64__)
  if (stream && (reinterpret_cast<uintptr_t>(dst) & 63) == 0 && (n & 15) == 0) {
    for (long j = 0; j < n; j += 4) _mm_stream_ps(dst + j, _mm_load_ps(src + j));
    return;
  }
#endif
  std::memcpy(dst, src, n * sizeof(float));
}

// store_kept for a bf16 kept tensor: n values rounded to bf16 (kr.to_bf16), streamed when a whole
// aligned line (32 values) and stream, else stored plainly. Same bits either way.
inline void store_kept16(const GemmKernelInfo& kr, uint16_t* dst, const float* src, long n, bool stream);

inline void kept_fence() {
#if defined(__x86_64__)
  _mm_sfence();
#endif
}

// Packed 32-bit slots for k values: k (fp32) or k pairs (bf16: kpack 2, the only other value). Not
// (k + kpack - 1) / kpack: kpack is known only at run time, and a 64-bit division per register tile
// (the fused SwiGLU kernels' tile loops) cost ~40 cycles of a 150-cycle tile on Zen 2.
inline long k_slots(long k, int kpack) { return kpack == 1 ? k : (k + 1) >> 1; }

inline void prefetch_r(const float* p, long n) {
  for (long j = 0; j < n; j += 16) __builtin_prefetch(p + j, 0, 3);
}

// Ask for the lines of a row segment about to be written (SwiGLU's output), so its stores do not
// wait for each line's read-for-ownership as the GEMM micro-kernel's C prefetch avoids.
inline void prefetch_w(const float* p, long n) {
  for (long j = 0; j < n; j += 16) __builtin_prefetch(p + j, 1, 3);
}

// Memory the general loop's next pack reads (the next A block, the next k or column block of B,
// the next item's operands), fetched into L2 a few lines before each micro-kernel call of the block
// computing now. Without it each pack starts on cold rows with nothing to hide the misses (a bf16
// weight gradient whose operands were written in the forward ran 50% slower than the same call
// again). Up to three regions, each `rows` rows of `bytes` bytes `ld` bytes apart. Into L2 (hint
// 2) everywhere: the strip-outer path's next item used to go to L1, where its 194 KiB (the down dW's
// next dY) could not stay and pushed out the strip's rows that the later panels reread (with the
// column in the last panel's tile, reading A from L1: L2 was 1-3% faster on both products). Not on
// the AMX kernel (gemm_one's read_ahead).
struct NextReads {
  struct Region {
    const char* p;
    long rows, lines, ld;
  };
  Region r[3];
  int n = 0, cur = 0;
  long row = 0, line = 0, left = 0, per = 0, skip = 0;
  void add(const void* p, long rows, long bytes, long ld) {
    if (p && rows > 0 && bytes > 0 && n < 3) {
      r[n++] = {static_cast<const char*>(p), rows, (bytes + 63) / 64, ld};
      left += rows * ((bytes + 63) / 64);
    }
  }
  // spread what was added over the second half of `calls` calls of step(), when the block's own
  // packed panels have been half read (in L2 with what comes in; from the first call, the next
  // item's B evicted this block's unread panels: a bf16 down dW 10% slower)
  void spread(long calls) {
    skip = calls / 2;
    calls -= skip;
    per = calls > 0 ? (left + calls - 1) / calls : left;
  }
  void step() {
    if (skip > 0) {
      skip--;
      return;
    }
    for (long l = 0; l < per && cur < n; l++) {
      const Region& g = r[cur];
      __builtin_prefetch(g.p + row * g.ld + line * 64, 0, 2);
      if (++line == g.lines) line = 0, row++;
      if (row == g.rows) row = 0, cur++;
    }
  }
};

// The rows of the next strip of a row-major A read in place (gemm_one's A-in-place path), asked for
// by the `calls` tile calls of this strip (kernel_direct_a_next, under their FMAs): call c takes lines
// [c * per, (c + 1) * per) of every row, the first three quarters of each row's lines in all (the
// hardware's stream prefetch takes the rest; every line cost more in prefetches than it saved).
// (Not for shorter rows: cpu-sudoku9's A-in-place products at k 256 have theirs in cache, and its step
// ran x1.008-1.014 without the reads there; at k 64-171 cpu-sudoku4's ~1%.)
constexpr long kRowsAheadMinK = 512;
struct StripRowsAhead {
  const float* p = nullptr;
  long rows = 0, line = 0, end = 0, per = 0;
  void set(const float* a, long rows_, long floats, long calls) {
    p = a, rows = rows_, line = 0;
    end = (floats + 15) / 16 * 3 / 4;
    per = calls > 0 ? (end + calls - 1) / calls : end;
  }
  // this call's lines: from *at, *lines of them (0: none)
  long take(const float** at) {
    if (!p || line >= end) return 0;
    const long n = line + per < end ? per : end - line;
    *at = p + line * 16;
    line += n;
    return n;
  }
};

// The AMX kernel's step-hook calls in one call of kcp pairs: its whole 16-pair steps but the last,
// where it calls the hook (at most one pair after them).
inline long amx_hook_calls(const GemmKernelInfo& kr, long kcp) {
  return kr.set_step_hook && kr.prefetches_c_below && kcp % 16 <= 1 && kcp / 16 > 1 ? kcp / 16 - 1 : 0;
}
// The same over a product's k blocks of kr.kc (one kernel call each): the calls per register tile.
inline long amx_hook_calls_k(const GemmKernelInfo& kr, long K) {
  long n = 0;
  for (long pc = 0; pc < K; pc += kr.kc) n += amx_hook_calls(kr, k_slots(K - pc < kr.kc ? K - pc : kr.kc, kr.kpack));
  return n;
}

// Pack op(A)[ic:ic+mc, pc:pc+kc] into MR-row strips, k-major, zero-padding the last strip.
void pack_a(float* dst, const float* A, long lda, bool trans, long ic, long mc, long pc, long kc, int MR,
            GemmPackStrip fast_rowmajor, GemmPackStrip fast_colmajor, int kpack = 1) {
  const long kcp = k_slots(kc, kpack);  // packed slots per row (bf16: k pairs)
  for (long i0 = 0; i0 < mc; i0 += MR) {
    long mr = mc - i0 < MR ? mc - i0 : MR;
    if (!trans && fast_rowmajor) {
      fast_rowmajor(dst, A + (ic + i0) * lda + pc, lda, mr, kc);
    } else if (trans && fast_colmajor) {
      fast_colmajor(dst, A + pc * lda + ic + i0, lda, mr, kc);
    } else if (trans) {  // A(i,k) = A[k*lda + i]: each k gives MR consecutive floats
      for (long k = 0; k < kc; k++) {
        const float* src = A + (pc + k) * lda + ic + i0;
        float* d = dst + k * MR;
        long i = 0;
        for (; i < mr; i++) d[i] = src[i];
        for (; i < MR; i++) d[i] = 0.f;
      }
    } else {      // A(i,k) = A[i*lda + k]: read MR rows side by side
      long i = 0;
      for (; i < mr; i++) {
        const float* src = A + (ic + i0 + i) * lda + pc;
        for (long k = 0; k < kc; k++) dst[k * MR + i] = src[k];
      }
      for (; i < MR; i++)
        for (long k = 0; k < kc; k++) dst[k * MR + i] = 0.f;
    }
    dst += kcp * MR;
  }
}

// Pack NR-column panels [p0, p1) of op(B)[pc:pc+kc, jc:jc+nc] (panel p covers columns p*NR..),
// k-major, zero-padding past nc.
void pack_b(float* dst, const float* B, long ldb, bool trans, long pc, long kc, long jc, long nc,
            long p0, long p1, int NR, GemmPackStrip fast,
            void (*fast_rowmajor)(float*, const float*, long, long, long, long, long), int kpack = 1) {
  const long kcp = k_slots(kc, kpack);
  if (!trans && fast_rowmajor) {
    fast_rowmajor(dst, B + pc * ldb + jc, ldb, nc, kc, p0, p1);
    return;
  }
  for (long p = p0; p < p1; p++) {
    long j0 = p * NR, nr = nc - j0 < NR ? nc - j0 : NR;
    float* d = dst + p * kcp * NR;
    if (trans && fast) {
      fast(d, B + (jc + j0) * ldb + pc, ldb, nr, kc);
    } else if (!trans) {  // B(k,j) = B[k*ldb + j]: NR consecutive floats per k
      for (long k = 0; k < kc; k++) {
        const float* src = B + (pc + k) * ldb + jc + j0;
        float* dk = d + k * NR;
        long j = 0;
        for (; j < nr; j++) dk[j] = src[j];
        for (; j < NR; j++) dk[j] = 0.f;
      }
    } else {       // B(k,j) = B[j*ldb + k]
      long j = 0;
      for (; j < nr; j++) {
        const float* src = B + (jc + j0 + j) * ldb + pc;
        for (long k = 0; k < kc; k++) d[k * NR + j] = src[k];
      }
      for (; j < NR; j++)
        for (long k = 0; k < kc; k++) d[k * NR + j] = 0.f;
    }
  }
}

thread_local AlignedBuf tl_widen;

// pack_a / pack_b below for a bf16-stored operand: the kernel's 16-bit packs where it has one for the
// layout, else the block widened (exactly) into fp32 scratch and packed by the fp32 route, which
// rounds it back to the same bf16 values: correct for any kernel's packed layout.
void pack_a16(float* dst, const uint16_t* A, long lda, bool trans, long ic, long mc, long pc, long kc, int MR,
              const GemmKernelInfo& kr) {
  if (trans && kr.pack_a_colmajor_block16) {
    kr.pack_a_colmajor_block16(dst, A + pc * lda + ic, lda, mc, kc);
    return;
  }
  const GemmPackStrip16 fast = trans ? kr.pack_a_colmajor16 : kr.pack_a_rowmajor16;
  if (fast) {
    const long kcp = k_slots(kc, kr.kpack);
    for (long i0 = 0; i0 < mc; i0 += MR, dst += kcp * MR) {
      long mr = mc - i0 < MR ? mc - i0 : MR;
      fast(dst, trans ? A + pc * lda + ic + i0 : A + (ic + i0) * lda + pc, lda, mr, kc);
    }
    return;
  }
  float* w = tl_widen.get((size_t)mc * kc);
  if (trans)  // A(i, k) = A[k*lda + i]: kc rows of mc
    for (long k = 0; k < kc; k++) from_bf16(kr, w + k * mc, A + (pc + k) * lda + ic, mc);
  else
    for (long i = 0; i < mc; i++) from_bf16(kr, w + i * kc, A + (ic + i) * lda + pc, kc);
  pack_a(dst, w, trans ? mc : kc, trans, 0, mc, 0, kc, MR, kr.pack_a_rowmajor, kr.pack_a_colmajor, kr.kpack);
}

// The A block rows [ic, ic + mc), k [pc, pc + kc) of an fp32 or bf16-stored (a16) A in kr's layout; a
// transposed A through the kernel's whole-block pack where it has one (pack_a16 does so for a16).
void pack_a_kr(const GemmKernelInfo& kr, float* dst, const void* A, bool a16, long lda, bool trans, long ic, long mc,
               long pc, long kc) {
  if (a16) {
    pack_a16(dst, static_cast<const uint16_t*>(A), lda, trans, ic, mc, pc, kc, kr.mr, kr);
    return;
  }
  const float* Af = static_cast<const float*>(A);
  if (trans && kr.pack_a_colmajor_block)
    kr.pack_a_colmajor_block(dst, Af + pc * lda + ic, lda, mc, kc);
  else
    pack_a(dst, Af, lda, trans, ic, mc, pc, kc, kr.mr, kr.pack_a_rowmajor, kr.pack_a_colmajor, kr.kpack);
}

// Tail strips (GemmKernelInfo::tail_strips): where rows [r0, r1) would end in a strip of 1 or 2 rows,
// their last f = MR - rem strips take MR - 1 rows each instead (97 = 16 x 6 + 1 as 12 x 6 + 5 x 5), from
// the row returned (r1: no tail; it is r0 plus a multiple of MR). A strip of r rows keeps 2r chains of
// FMAs in flight, each waiting out the FMA's latency: on Zen 2 (latency 5, two FMA pipes) the one-row
// strip of 97 rows took as long as a full one (5% of the token mixer's down forward). A 5-row strip took
// 0.92 of a 6-row one's time (~5.5 cycles a k), so 6 + 4 rows (6 + 5 cycles) gain nothing as 5 + 5, nor
// 6 + 6 + 3 as 5 + 5 + 5: with those too (82 = 13 x 6 + 4, cpu-sudoku4's 544) the small models' steps
// ran ~0.7% slower. Each element's FMA chain is the same in any strip: the same bits. fp32 only (the
// packed tail is plain fp32 strips).
// A block packed per call repacks its tail rows: worth it only over this many panels (on Zen 2 the
// small models' 544-row products, 4 panels at k 64, ran their steps 0.7-1.1% slower with tails).
constexpr long kTailMinPanels = 8;
inline long tail_start(const GemmKernelInfo& kr, long r0, long r1) {
  const long rows = r1 - r0, MR = kr.mr, rem = rows % MR, f = MR - rem;
  if (!kr.tail_strips || kr.kpack != 1 || kr.round_bf16 || rem == 0 || rem > 2 || rows < f * (MR - 1)) return r1;
  return r1 - f * (MR - 1);
}
// The rows of the strip at i0 of [.., r1) whose tail starts at t0.
inline long strip_rows(long i0, long t0, long r1, int MR) {
  const long r = strip_step(i0, t0, MR);
  return r1 - i0 < r ? r1 - i0 : r;
}
// The packed strip at row i0 of a block: from its MR-row strips (pa, kcp slots a row) before t0, from
// its tail strips (tail, packed_a_tail / pack_a_tail's layout) after.
inline const float* strip_at(const float* pa, const float* tail, long i0, long t0, long kcp, int MR) {
  return i0 < t0 ? pa + i0 * kcp : tail + (i0 - t0) / (MR - 1) * kcp * MR;
}
// op(A)'s rows [t0, r1), k [pc, pc + kc), as strips of MR - 1 rows in the MR-row layout (each strip's last
// row zero), strip q at dst + q * kc * MR.
void pack_a_tail(const GemmKernelInfo& kr, float* dst, const float* A, long lda, bool trans, long t0, long r1, long pc,
                 long kc) {
  for (long i = t0, q = 0; i < r1; i += kr.mr - 1, q++)
    pack_a(dst + q * kc * kr.mr, A, lda, trans, i, kr.mr - 1, pc, kc, kr.mr, kr.pack_a_rowmajor, kr.pack_a_colmajor,
           kr.kpack);
}

// Where a whole-A pack (pack_a_whole: M rows, K) keeps its tail strips: k block pc's f strips at
// + pc * f * MR, strip q of them at + q * kc * MR.
long packed_a_tail_at(const GemmKernelInfo& kr, long M, long K) {
  const long Mr = (M + kr.mr - 1) / kr.mr * kr.mr;
  return (Mr * (K + kr.kpack) + 16 + 15) / 16 * 16;
}

void pack_b16(float* dst, const uint16_t* B, long ldb, bool trans, long pc, long kc, long jc, long nc, long p0,
              long p1, int NR, const GemmKernelInfo& kr) {
  const long kcp = k_slots(kc, kr.kpack);
  if (!trans && kr.pack_b_rowmajor16) {
    kr.pack_b_rowmajor16(dst, B + pc * ldb + jc, ldb, nc, kc, p0, p1);
    return;
  }
  if (trans && kr.pack_b_colmajor16) {
    for (long p = p0; p < p1; p++) {
      long j0 = p * NR, nr = nc - j0 < NR ? nc - j0 : NR;
      kr.pack_b_colmajor16(dst + p * kcp * NR, B + (jc + j0) * ldb + pc, ldb, nr, kc);
    }
    return;
  }
  // columns [c0, c1) of this thread's panels, widened; packed as panels 0.. of that block
  const long c0 = p0 * NR, c1 = p1 * NR < nc ? p1 * NR : nc, w_n = c1 - c0;
  float* w = tl_widen.get((size_t)w_n * kc);
  if (trans)  // B(k, j) = B[j*ldb + k]: w_n rows of kc
    for (long j = 0; j < w_n; j++) from_bf16(kr, w + j * kc, B + (jc + c0 + j) * ldb + pc, kc);
  else
    for (long k = 0; k < kc; k++) from_bf16(kr, w + k * w_n, B + (pc + k) * ldb + jc + c0, w_n);
  pack_b(dst + p0 * kcp * NR, w, trans ? kc : w_n, trans, 0, kc, 0, w_n, 0, p1 - p0, NR, kr.pack_b_colmajor,
         kr.pack_b_rowmajor, kr.kpack);
}

// The fused kernels pack every k block before their tile loops, block after block: op(A)'s rows
// [ic, ic + mc) of a row-major A at dst + koff * (mc rounded up to MR), op(B)'s panels [p0, p1) of
// columns [jc, jc + nc) at dst + koff * pstride (koff: the packed slots of the blocks before).
// Emulated bf16 rounds what was packed.
void pack_a_blocks(const GemmKernelInfo& kr, float* dst, const float* A, long lda, long ic, long mc, long K) {
  const long rows = (mc + kr.mr - 1) / kr.mr * kr.mr;
  long koff = 0;
  for (long pc = 0; pc < K; pc += kr.kc) {
    const long kc = K - pc < kr.kc ? K - pc : kr.kc;
    pack_a(dst + koff * rows, A, lda, false, ic, mc, pc, kc, kr.mr, kr.pack_a_rowmajor, kr.pack_a_colmajor, kr.kpack);
    koff += k_slots(kc, kr.kpack);
  }
  if (kr.round_bf16) round_bf16_inplace(dst, rows * koff);
}

void pack_b_blocks(const GemmKernelInfo& kr, float* dst, long pstride, const float* B, long ldb, bool trans, long jc,
                   long nc, long p0, long p1, long K) {
  const int NR = kr.nr;
  for (long pc = 0, koff = 0; pc < K; pc += kr.kc) {
    const long kc = K - pc < kr.kc ? K - pc : kr.kc, kcp = k_slots(kc, kr.kpack);
    float* d = dst + koff * pstride;
    pack_b(d, B, ldb, trans, pc, kc, jc, nc, p0, p1, NR, kr.pack_b_colmajor, kr.pack_b_rowmajor, kr.kpack);
    if (kr.round_bf16) round_bf16_inplace(d + p0 * kcp * NR, (p1 - p0) * kcp * NR);
    koff += kcp;
  }
}

// C = beta*C for a K == 0 product (no micro-kernel call happens).
void scale_c(float* C, long ldc, long r0, long r1, long N, float beta) {
  for (long i = r0; i < r1; i++) {
    float* c = C + i * ldc;
    if (beta == 0.f) std::memset(c, 0, N * sizeof(float));
    else for (long j = 0; j < N; j++) c[j] *= beta;
  }
}

// Thread ith's rows [r0, r1) of M, in whole MR strips: each boundary is the strip boundary nearest
// to the even split M * i / nth, so a short last strip counts by its rows (512 rows on 2 threads:
// 252 rows and 18 strips + 8 rows; split by strip count, 19 strips against 17 + 8 rows, one thread
// waited for the other about 7% of the token mixer's down dW). Rows are independent: the split
// changes no result.
inline void split_rows_by_strips(long M, int MR, int ith, int nth, long* r0, long* r1) {
  auto edge = [&](int i) {
    const long e = (2 * M * i + (long)MR * nth) / (2L * MR * nth) * MR;  // round(M i / (nth MR)) MR
    return e < M ? e : M;
  };
  *r0 = edge(ith);
  *r1 = ith + 1 == nth ? M : edge(ith + 1);
}

// Claimed A blocks: a product's rows go to threads a block of kr.mc rows at a time, to whichever frees
// up first (ItemClaims, ops.h), instead of a fixed share each. TRM_GEMM_CLAIM=0 keeps the fixed
// shares (A/B runs; the same bits either way: rows are independent and each block sums its k blocks
// in order on one thread).
bool gemm_claims_on() {
  static const bool on = [] {
    const char* e = std::getenv("TRM_GEMM_CLAIM");
    return !(e && e[0] == '0');
  }();
  return on;
}
// Claimed A blocks' rows: n blocks of whole MR strips (the last ending at the last row), n a multiple of
// the threads and at least four each, block b's strips [b S / n, (b + 1) S / n) of the S strips, so the
// blocks differ by one strip at most, and none over kr.mc rows. Blocks of kr.mc rows or one size rounded
// up to MR left the thread that took the last block to decide when the region ends: cpu-sudoku4's 544
// channel rows ran as 252 + 252 + 40 on two threads, one thread idle 29-39 us of each ~100 us bf16
// linear_swiglu call; the paper MLP step at B 16 (1552 rows) ran 5 blocks of 336 on two, the caller
// waiting 3.6 ms of each 16 ms fp32 linear_swiglu call (2-vCPU Zen 5, the pool's region profile); at 16
// threads the B 64 step's 6208 rows made 49 blocks of 128 (the AMX kernel's), so one thread ran four
// where the others ran three, and the caller waited 13-21% of each bf16 channel product (16-vCPU Xeon).
// Four a thread against two: the paper step at B 16 x1.05 (fp32 and bf16), at B 64 and the small presets
// even. Rows are independent and each block runs its k blocks in order on one thread: the same bits for
// any blocks.
struct RowBlocks {
  long rows, strips, n, mr;
  long start(long b) const {
    const long r = b * strips / n * mr;
    return r < rows ? r : rows;
  }
  long size(long b) const { return start(b + 1) - start(b); }
};
RowBlocks claim_row_blocks(const GemmKernelInfo& kr, long rows, int nth) {
  const long strips = (rows + kr.mr - 1) / kr.mr, cap = kr.mc / kr.mr > 1 ? kr.mc / kr.mr : 1;
  long n = (strips + cap - 1) / cap;
  if (n < 4L * nth) n = 4L * nth;
  n = (n + nth - 1) / nth * nth;
  if (n > strips) n = strips;
  return {rows, strips, n < 1 ? 1 : n, kr.mr};
}
// Packs done once for all threads of a product (pack_b_shared, pack_items_a / _b, the fused channel
// kernels' W) only from this many elements: each is a parallel region of its own, which for a small
// model's products cost more than repeating their small packs did (cpu-sudoku4's fp32 step 0.98x with W
// shared in every claimed linear_swiglu, 2-vCPU Zen 5).
constexpr double kSharedPackMinElements = 1 << 18;
// The blocks and who has taken which (ItemClaims over the block numbers); packed_b: every k block of op(B)
// packed once for all threads (pack_b_shared), or null: each thread packs its own.
struct ClaimedRows {
  const RowBlocks blocks;
  ItemClaims claims;
  const float* packed_b = nullptr;
  explicit ClaimedRows(const RowBlocks& b) : blocks(b), claims(b.n, true) {}
};

// For gemm's general loop: the AMX kernel (the bf16 channel products of the paper step), one column
// block (N <= nc), and every k block of B packed at most kClaimedPackedFloats (16 MiB) per thread.
// And the other kernels' products that run the general loop (fp32: more than kStripOuterPanels panels,
// no packed B; bf16 on VDPBF16PS: every one) with at least eight full A blocks a thread: the paper MLP
// step's channel products at B 64 (6208 rows), whose fixed row halves ended with the slower vCPU's
// (2-vCPU Zen 5, one process, alternating: 6208 x 512 x 1536 and x 3072 claimed 1.07-1.15x in fp32,
// 1.07-1.10x in bf16 (0.98x once); the fp32 step x1.022, x1.029, x1.023). At B 16 (1552 rows, two
// blocks a thread) they ran 0.96-1.04x, so not there. (Not for the emulated bf16 products, unmeasured.)
constexpr long kClaimedPackedFloats = 1L << 22;
bool gemm_claims_row_blocks(const GemmKernelInfo& kr, const GemmArgs& g, int nth) {
  const long kcp_max = k_slots(kr.kc, kr.kpack), all_p = (g.N + kr.nr - 1) / kr.nr;
  const long packed = (g.K + kr.kc - 1) / kr.kc * kcp_max * all_p * kr.nr;
  const bool general_tall = !kr.round_bf16 && !g.packed_b && all_p > kStripOuterPanels && g.M >= 8L * nth * kr.mc;
  return gemm_claims_on() && (kr.prefetches_c_below || general_tall) && g.K > 0 && g.N <= kr.nc &&
         packed <= kClaimedPackedFloats;
}

// The A blocks one thread runs in the fused channel kernels (linear_swiglu and its backward): its
// fixed rows [r0, r1) block by block, or (claims) blocks claimed one at a time, r0 = 0, r1 = all rows.
struct RowBlockWalk {
  ClaimedRows* claimed;
  int ith;  // the region part (its home share of the claimed blocks)
  long r0, r1, mc, blk = -1;
  long first() {
    if (!claimed) return r0 < r1 ? r0 : -1;
    blk = claimed->claims.part(ith).first();
    return blk < 0 ? -1 : claimed->blocks.start(blk);
  }
  long next(long ic) {
    if (!claimed) return ic + mc < r1 ? ic + mc : -1;
    blk = claimed->claims.part(ith).next(blk);
    return blk < 0 ? -1 : claimed->blocks.start(blk);
  }
  long rows(long ic) const {  // of the block at ic
    if (claimed) return claimed->blocks.size(blk);
    return r1 - ic < mc ? r1 - ic : mc;
  }
};

// gemm_in_halves' limits (below)
constexpr double kHalvesMaxC = 65536;  // floats of C (the scratch: 256 KiB)
// one product: k at least this long (1024 before: cpu-sudoku4's channel weight gradients, k 544 = 32
// items of 17 tokens, now in halves too: its step x1.03 on a 2-vCPU Zen 5, one process)
constexpr long kHalvesMinK = 512;
// What this thread is running for gemm_in_halves: nothing, a half (whose own gemm does not split
// again), or a k-range half of an A^T B on a thread of its own (gemm_one's read-ahead asks).
enum class InHalf { kNo, kHalf, kKRangeAlone };
thread_local InHalf tl_in_half = InHalf::kNo;

// One product inside a parallel region, on this thread's share: rows [r0, r1) of C in whole MR
// strips when split_rows, else the NR panels [p0, p1) of every B block. Each thread packs what it
// needs into its own buffers, so threads never wait for each other (no barriers: a descheduled
// thread delays only its own share). Packing B per thread costs K*N per thread, which is small
// next to its (M/nth)*N*K multiply-adds whenever rows are split (M >= 2*MR*nth).
// Whether gemm_one packs op(B) as one fp32 block of panels (one k block, one column block): what a
// GemmArgs::packed_b stands in for.
inline bool packs_b_once(const GemmKernelInfo& kr, const GemmArgs& g) {
  return !g.bf16 && !g.b16 && kr.kpack == 1 && !kr.round_bf16 && g.K <= kr.kc && g.N <= kr.nc;
}

// Whether gemm_one's one-A-block path copies B's panels under the tiles (kernel_copy_b) instead of
// packing them in a pass. On AVX2 (no kernel_direct_at) only where this thread's part of B is over
// kCopyBMinBytes: a pack pass over that much goes out to L3 and back with nothing to hide it (the small
// models' weight-gradient halves, 1312 x 256 and 1312 x 512 of dh and dgate_up; the paper token mixer's
// 512 x 512 and 1024 x 512 per item), while a smaller one packs from cache. Zen 2, one thread, separate
// processes: the paper token mixer's down forward 59-67 -> 66-73% of the peak, its gate_up dX 62-70 ->
// 68-77%; cpu-sudoku9's step x1.019-1.028 (its halves). At half of L2 (256 KiB) while the copy cost four
// loads and four stores a unit: cpu-sudoku4's 544 x 64 (two threads' row halves, 136 KiB) ran its step
// 0.95-0.97x through the copying tile then. With the copy through a ymm register, 64 KiB (cpu-sudoku9's
// token mixer backward per item, 128 KiB of dgate_up, and cpu-sudoku4's halves copy too): cpu-sudoku9 x1.002-1.008,
// cpu-sudoku4 x0.996-1.004 (bench-ab-step, two runs each).
constexpr double kCopyBMinBytes = 65536;
// (gemm_by_transpose's choice of a narrow sum in place: where its transposed form would pack more than this)
constexpr double kNarrowInPlaceMinBytes = 262144;
inline bool copy_b_pays(const GemmKernelInfo& kr, const GemmArgs& g, int ith, int nth, bool split_rows) {
  if (kr.kernel_direct_at) return true;
  long q0 = 0, q1 = (g.N + kr.nr - 1) / kr.nr;
  if (!split_rows) split_range(q1, ith, nth, &q0, &q1);
  return (double)g.K * (q1 - q0) * kr.nr * 4 > kCopyBMinBytes;
}

// Panels [q0, q1) of op(B)'s block (k from pc, kc of them; columns from jc, nc of them) packed at dst
// in the kernel's layout (panel q at its place among all of the block's panels).
void pack_b_panels(const GemmKernelInfo& kr, const GemmArgs& g, const void* B, float* dst, long pc, long kc, long jc,
                   long nc, long q0, long q1) {
  if (g.b16)
    pack_b16(dst, static_cast<const uint16_t*>(B), g.ldb, g.trans_b, pc, kc, jc, nc, q0, q1, kr.nr, kr);
  else
    pack_b(dst, static_cast<const float*>(B), g.ldb, g.trans_b, pc, kc, jc, nc, q0, q1, kr.nr, kr.pack_b_colmajor,
           kr.pack_b_rowmajor, kr.kpack);
  if (kr.round_bf16) round_bf16_inplace(dst + q0 * kc * kr.nr, (q1 - q0) * kc * kr.nr);
}

void gemm_one(const GemmKernelInfo& kr, const GemmArgs& g, const void* A, const void* B, float* C,
              float beta, int ith, int nth, bool split_rows, const float* prepacked_a = nullptr,
              const void* next_b = nullptr, const void* next_a = nullptr, ClaimedRows* row_claims = nullptr,
              const float* item_packed_b = nullptr) {
  const int MR = kr.mr, NR = kr.nr, KP = kr.kpack;
  const long M = g.M, N = g.N, K = g.K;
  long r0 = 0, r1 = M;
  if (split_rows && !row_claims) split_rows_by_strips(M, MR, ith, nth, &r0, &r1);
  if (K == 0) {
    long lo = r0, hi = r1;
    if (!split_rows) split_range(M, ith, nth, &lo, &hi);
    scale_c(C, g.ldc, lo, hi, N, beta);
    return;
  }
  if (r0 >= r1) return;
  auto pack_panels = [&](float* dst, long pc, long kc, long jc, long nc, long q0, long q1) {
    pack_b_panels(kr, g, B, dst, pc, kc, jc, nc, q0, q1);
  };
  // The fp32 paths below read operands unpacked or pack them inside the micro-kernel (the same
  // values into the same FMAs: the same bits as the general loop at the end).
  const bool fp32 = KP == 1 && !kr.round_bf16 && !g.a16 && !g.b16 && !row_claims;  // (row_claims: the general loop)
  const float* Af = static_cast<const float*>(A);
  const float* Bf = static_cast<const float*>(B);
  const long all_panels = (N + NR - 1) / NR;
  // Tail strips (tail_start) of a packed A window [w0, w1): where they start (w1: none), and their pack
  // for k block pc, from the whole-A pack (a window of it that ends at M) or packed here into buf.
  // Windows start at multiples of MR and end there or at M, so a window of a whole-A pack has the
  // tail of all M rows or none.
  auto window_tail = [&](long w0, long w1, long panels) {
    if (g.a16 || (prepacked_a && w1 != M) || (!prepacked_a && panels < kTailMinPanels)) return w1;
    return tail_start(kr, w0, w1);
  };
  auto tail_pack = [&](long t0, long w1, long pc, long kc) -> const float* {
    if (t0 >= w1) return nullptr;
    if (prepacked_a) return prepacked_a + packed_a_tail_at(kr, M, K) + pc * ((M - t0) / (MR - 1)) * MR;
    float* buf = tl_pack_tail.get((size_t)MR * MR * kr.kc);
    pack_a_tail(kr, buf, Af, g.lda, g.trans_a, t0, w1, pc, kc);
    return buf;
  };
  // Few B panels, row-major A, rows that stream from memory once (the token mixer's weight
  // gradients: 1024 x 97 x 512 per item): each A strip is read in place by the tile of every full
  // panel (14 sequential row streams, prefetched ahead under the first panel's FMAs, then from L1/L2:
  // as fast as a packed strip), and a narrow last panel (97 = 3 x 32 + 1) runs with the rows in the
  // lanes: a one-column one inside the last full panel's tile (kernel_direct_col1: the tile's own
  // broadcasts of A blended into the lanes, 6-7% of the weight gradients' time before), wider ones
  // two strips at a time (kColsAStrips), transposing 16 x 16 blocks of A in registers (kernel_cols_a).
  // Before, the whole A block was packed first: a pass over megabytes with nothing to hide it; then
  // each strip was packed from L1 for the other panels and the narrow one (7% of the time, and the
  // narrow panel read eight packed strips back from L2: 4% more).
  // A transposed A (the channel MLP's weight gradients in the small models, 512 x 64 x 544) is read
  // in place by every full panel's tile (a strip's 14 values of a k are adjacent: one line), with no
  // pack at all unless a narrow panel needs the strip.
  // AVX2 (row-major A only, at most 8 panels of 16; a last panel of at most 4 columns in the lanes,
  // kernel_cols_a, wider partial ones on the tile): the channel MLP's down and dinp products in the small models (N = D = 64, each
  // packed A value used by 4 panels only): 81 -> 101 GFLOP/s on one Zen 2 thread, cpu-sudoku9's step
  // 1.02-1.08x. (On Zen 3, twentieth session, the same tile on this path then also took the token
  // mixer's sums over items and the steps ran 0.87-0.94x: re-measure there.)
  // the caller's op(B) packed once (GemmArgs::packed_b), where this call packs it in one block
  // (or this item's, packed by gemm for all threads: pack_items_b)
  const float* packed_b =
      item_packed_b ? item_packed_b : g.packed_b && g.stride_b == 0 && packs_b_once(kr, g) ? g.packed_b : nullptr;
  const GemmDirectAKernel direct = g.trans_a ? kr.kernel_direct_at : kr.kernel_direct_a;
  // (a kernel without narrow-panel kernels, cols_max 0, never has a narrow panel: portable; AVX2 has
  // kernel_cols_a only, and no transposed A in place, so never kernel_cols here)
  const bool cols_ok = kr.cols_max == 0 || (g.trans_a ? kr.kernel_cols != nullptr : kr.kernel_cols_a != nullptr);
  // More panels where the caller packed all of op(B) already (GemmArgs::packed_b: nothing to pack here)
  // and it is small (at most 256 KiB, half of what strip_outer_fits allows: the panels stream from L2 for
  // every strip): the small models' channel gate_up forward, x W_gu^T with 32 panels at k 64, reads its
  // x rows in place instead of packing them (AVX2 only, where it was measured: mlpNormForward 1.04-1.10x
  // on two Zen 2 threads, cpu-sudoku9's step 1.009-1.011x, cpu-sudoku4's even).
  const bool wide_packed = packed_b && !g.trans_a && !kr.kernel_direct_at && K * all_panels * NR <= 65536;
  if (fp32 && direct && cols_ok && !prepacked_a && N <= kr.nc && (all_panels <= kStripOuterPanels || wide_packed) &&
      (split_rows || nth == 1)) {
    float* pb = tl_pack_b.get((size_t)kr.kc * all_panels * NR);
    // a transposed A's strips for kernel_cols: strip t at t * kc * MR
    float* pa_grp = g.trans_a ? tl_pack_a.get((size_t)kr.cols_strips * kr.kc * MR + 16) : nullptr;
    for (long pc = 0; pc < K; pc += kr.kc) {
      const long kc = K - pc < kr.kc ? K - pc : kr.kc;
      const float b_eff = pc == 0 ? beta : 1.f;
      if (packed_b) pb = const_cast<float*>(packed_b);  // (one k block: K <= kc)
      else pack_panels(pb, pc, kc, 0, N, 0, all_panels);
      // a narrow last panel waits for a group of strips and runs on them together
      const long grp_strips = g.trans_a ? kr.cols_strips : kColsAStrips;
      const long last = all_panels - 1, j_last = last * NR, n_last = N - j_last;
      const bool narrow = all_panels > 1 && n_last <= kr.cols_max;
      // a one-column narrow panel of a row-major A rides on the last full panel's tile (A in L1
      // by then: not the first panel, whose tile prefetches the rows)
      const bool col1 = narrow && n_last == 1 && !g.trans_a && kr.kernel_direct_col1 && last >= 2;
      // a last panel a little over 16 columns wide (82 = 2 x 32 + 18) as a 16-column tile plus its
      // few columns in the lanes (kernel_direct_col16), not a 32-column tile that is half padding
      const bool col16 = !g.trans_a && kr.kernel_direct_col16 && last >= 1 && n_last > 16 &&
                         n_last <= 16 + kr.cols_max;
      long grp0 = r0, in_grp = 0;
      // The next item's B (packed by every thread at its start, with nothing to hide its misses)
      // is prefetched a slice per strip over the second half of this block's strips, late enough
      // to still be in L2 when it is packed.
      NextReads ahead;
      if (pc + kr.kc >= K) ahead.add(next_b, g.trans_b ? N : K, (g.trans_b ? K : N) * 4, g.ldb * 4);
      ahead.spread((r1 - r0 + MR - 1) / MR);
      // (A in place: tail strips need no pack; kernel_cols' packed groups take whole strips)
      const long t0 = g.trans_a ? r1 : tail_start(kr, r0, r1);
      // AVX2 (kernel_direct_a_next): the next strip's rows of a row-major A (or the next k block's or
      // item's first strip) asked for by this strip's tiles under their FMAs (StripRowsAhead). Otherwise the
      // first panel's tile met the rows cold, six row streams at once: the token mixer's gate_up dW
      // (1024 x 97 x 512 per item, 2 MiB of A from memory) ran its tiles at 80% of the peak against 94-95%
      // with A in cache (Zen 2, a standalone strip loop in one process, interleaved: 80 -> 86-87%; all the
      // rows' lines spread over the tiles 82%, the first 4 or 8 lines of each at the first tile 77-80%;
      // in bursts between the tile calls, the prefetch instructions waited for fill buffers).
      // (AVX-512's tile reads its rows ahead in k itself.)
      const bool rows_ahead = !g.trans_a && kr.kernel_direct_a_next && K >= kRowsAheadMinK;
      const float* next_item_a = static_cast<const float*>(next_a);
      for (long i0 = r0, step = MR; i0 < r1; i0 += step) {
        ahead.step();
        step = strip_step(i0, t0, MR);
        const long mr = strip_rows(i0, t0, r1, MR);
        float* ci = C + i0 * g.ldc;
        const float* as = g.trans_a ? Af + pc * g.lda + i0 : Af + i0 * g.lda + pc;
        const long full_end = narrow ? last : all_panels;
        StripRowsAhead next_rows;
        if (rows_ahead) {
          const long in = i0 + step;
          if (in < r1) next_rows.set(Af + in * g.lda + pc, strip_rows(in, t0, r1, MR), kc, full_end);
          else if (pc + kr.kc < K)
            next_rows.set(Af + r0 * g.lda + pc + kc, MR, K - pc - kc < kr.kc ? K - pc - kc : kr.kc, full_end);
          else if (next_item_a)
            next_rows.set(next_item_a + r0 * g.lda, MR, K < kr.kc ? K : kr.kc, full_end);
        }
        // the tile of panel p, asking for its share of the next rows
        auto tile = [&](long p) {
          const float* at = nullptr;
          const long lines = next_rows.take(&at), n = N - p * NR < NR ? N - p * NR : NR;
          if (lines > 0)
            kr.kernel_direct_a_next(kc, as, g.lda, pb + p * kc * NR, ci + p * NR, g.ldc, mr, n, g.alpha, b_eff, at,
                                    g.lda, next_rows.rows, lines);
          else
            direct(kc, as, g.lda, pb + p * kc * NR, ci + p * NR, g.ldc, mr, n, g.alpha, b_eff);
        };
        tile(0);
        if (all_panels == 1) continue;
        for (long p = 1; p < full_end; p++) {
          if (col1 && p == last - 1)
            kr.kernel_direct_col1(kc, as, g.lda, pb + p * kc * NR, ci + p * NR, g.ldc, mr, NR, g.alpha, b_eff,
                                  pb + last * kc * NR, ci + j_last);
          else if (p == last && col16)
            kr.kernel_direct_col16(kc, as, g.lda, pb + p * kc * NR, ci + p * NR, g.ldc, mr, n_last, g.alpha, b_eff);
          else
            tile(p);
        }
        if (!narrow || col1) continue;
        // (a transposed A's strip is a plain copy per k: packed for kernel_cols, whose loads it suits)
        if (g.trans_a) pack_a(pa_grp + in_grp * kc * MR, Af, g.lda, true, i0, mr, pc, kc, MR, kr.pack_a_rowmajor,
                              kr.pack_a_colmajor, KP);
        if (++in_grp == grp_strips || i0 + step >= r1) {
          const long rows = i0 + mr - grp0;
          float* cg = C + grp0 * g.ldc + j_last;
          if (g.trans_a)
            kr.kernel_cols(kc, pa_grp, pb + last * kc * NR, cg, g.ldc, rows, n_last, g.alpha, b_eff);
          else
            kr.kernel_cols_a(kc, Af + grp0 * g.lda + pc, g.lda, pb + last * kc * NR, cg, g.ldc, rows, n_last, g.alpha,
                             b_eff);
          grp0 = i0 + step;
          in_grp = 0;
        }
      }
    }
    return;
  }
  // A few strips of rows and a row-major B (the token mixer's S = 17 products on AVX2, 17 x 64 x 256
  // and 17 x 64 x 512 per item): packing B's K x N values for three strips of use took about a third
  // of these products' time, so the tile reads B's full panels in place (NR floats of each k row)
  // and only a partial last panel is packed. Panel by panel, the strips after the first read the
  // panel's rows from L1.
  if (fp32 && kr.kernel_direct_b && !g.trans_b && r1 - r0 <= kDirectBStrips * MR) {
    const long mc = r1 - r0;
    float* pa = tl_pack_a.get((size_t)kr.mc * kr.kc);
    float* pb = tl_pack_b.get((size_t)kr.kc * NR + 16);
    for (long jc = 0; jc < N; jc += kr.nc) {
      const long nc = N - jc < kr.nc ? N - jc : kr.nc;
      long p0 = 0, p1 = (nc + NR - 1) / NR;
      if (!split_rows) split_range(p1, ith, nth, &p0, &p1);
      for (long pc = 0; p0 < p1 && pc < K; pc += kr.kc) {
        const long kc = K - pc < kr.kc ? K - pc : kr.kc;
        const float b_eff = pc == 0 ? beta : 1.f;
        const float* pa_blk = pa;
        if (prepacked_a) pa_blk = prepacked_a + pc * ((M + MR - 1) / MR * MR) + r0 * kc;
        else pack_a(pa, Af, g.lda, g.trans_a, r0, mc, pc, kc, MR, kr.pack_a_rowmajor, kr.pack_a_colmajor, KP);
        for (long p = p0; p < p1; p++) {
          const long j0 = jc + p * NR, nr = nc - p * NR < NR ? nc - p * NR : NR;
          if (nr < NR) pack_panels(pb, pc, kc, j0, nr, 0, 1);
          for (long i0 = 0; i0 < mc; i0 += MR) {
            const long mr = mc - i0 < MR ? mc - i0 : MR;
            float* ct = C + (r0 + i0) * g.ldc + j0;
            if (nr == NR)
              kr.kernel_direct_b(kc, pa_blk + i0 * kc, Bf + pc * g.ldb + j0, g.ldb, ct, g.ldc, mr, NR, g.alpha, b_eff);
            else
              kr.kernel(kc, pa_blk + i0 * kc, pb, ct, g.ldc, mr, nr, g.alpha, b_eff);
          }
        }
      }
    }
    return;
  }
  // One A block holds all of this thread's rows (M <= mc: the token mixer's S-row products with a
  // row-major B, 97 x 512 x 512 per item): each B panel serves that block alone, so instead of a
  // pack pass over the whole B block (megabytes out to L3 and back, a third of these products'
  // time), the tiles of panel p copy panel p + 1 into the other of two panel buffers as they
  // compute, a slice per strip, spread over their k loops.
  if (fp32 && kr.kernel_copy_b && !g.trans_b && r1 - r0 <= kr.mc && copy_b_pays(kr, g, ith, nth, split_rows)) {
    const long mc = r1 - r0, strips = (mc + MR - 1) / MR;
    const long my_panels = split_rows ? all_panels : (all_panels + nth - 1) / nth;  // (about: for the tail's gate)
    const long t0 = window_tail(r0, r1, my_panels) - r0;
    float* pa = tl_pack_a.get((size_t)kr.mc * kr.kc);
    float* pb = tl_pack_b.get((size_t)2 * kr.kc * NR + 16);
    for (long jc = 0; jc < N; jc += kr.nc) {
      const long nc = N - jc < kr.nc ? N - jc : kr.nc;
      long p0 = 0, p1 = (nc + NR - 1) / NR;
      if (!split_rows) split_range(p1, ith, nth, &p0, &p1);
      if (p0 >= p1) continue;
      for (long pc = 0; pc < K; pc += kr.kc) {
        const long kc = K - pc < kr.kc ? K - pc : kr.kc;
        const float b_eff = pc == 0 ? beta : 1.f;
        const float* pa_blk = pa;
        if (prepacked_a) pa_blk = prepacked_a + pc * ((M + MR - 1) / MR * MR) + r0 * kc;
        else pack_a_kr(kr, pa, A, false, g.lda, g.trans_a, r0, mc, pc, kc);  // (a transposed A: a block at a time)
        const float* pa_tail = tail_pack(r0 + t0, r1, pc, kc);
        pack_panels(pb, pc, kc, jc + p0 * NR, nc - p0 * NR, 0, 1);
        const long per = (kc + strips - 1) / strips;
        for (long p = p0; p < p1; p++) {
          const long j0 = p * NR, nr = nc - j0 < NR ? nc - j0 : NR;
          float* cur = pb + ((p - p0) & 1) * kc * NR;
          float* nxt = pb + (((p - p0) & 1) ^ 1) * kc * NR;
          const long nn = p + 1 < p1 ? (nc - j0 - NR < NR ? nc - j0 - NR : NR) : 0;
          // the copy kernel takes full panels and at most kc / 4 rows per strip
          const bool copy_next = nn == NR && per * 4 <= kc;
          for (long i0 = 0, s = 0; i0 < mc; i0 += strip_step(i0, t0, MR), s++) {
            const long mr = strip_rows(i0, t0, mc, MR);
            const float* pas = strip_at(pa_blk, pa_tail, i0, t0, kc, MR);
            float* ct = C + (r0 + i0) * g.ldc + jc + j0;
            const long rb = s * per, re = copy_next ? (rb + per < kc ? rb + per : kc) : rb;
            if (re > rb)
              kr.kernel_copy_b(kc, pas, cur, ct, g.ldc, mr, nr, g.alpha, b_eff, Bf + (pc + rb) * g.ldb + jc + j0 + NR,
                               g.ldb, nxt + rb * NR, re - rb, kc - rb);
            else
              kr.kernel(kc, pas, cur, ct, g.ldc, mr, nr, g.alpha, b_eff);
          }
          // a narrow next panel (or too few strips to carry the copy): packed on its own
          if (nn > 0 && !copy_next) pack_panels(nxt, pc, kc, jc + j0 + NR, nc - j0 - NR, 0, 1);
        }
      }
    }
    return;
  }
  float* pa = tl_pack_a.get((size_t)kr.mc * kr.kc);
  float* pb = tl_pack_b.get((size_t)kr.kc * ((kr.nc + NR - 1) / NR) * NR);
  const long ea = g.a16 ? 2 : 4, eb = g.b16 ? 2 : 4;
  // the sources of pack_a's block (rows [ic, ic + mc), k [pc, pc + kc)) and of this thread's
  // panels of pack_b's block (k [pc, pc + kc), columns from jc)
  // Not for the AMX kernel (prefetches_c_below): what it asked for under its tiles (its step hook, into
  // L2) waited for fill buffers behind the tiles' own loads and held them up (perf: 3-5% of the bf16
  // steps on those prefetches; a transposed A packed a block at a time asks for its own lines as it
  // packs). Without them: the bf16 channel gate_up dW 1.11-1.15x, and bench-ab-step bf16 cpu-sudoku9
  // 1.06-1.07x, cpu-sudoku4 1.06-1.09x, paper 1.05-1.06x. The fp32 steps ran even without them; they keep them.
  // Nor for a k-range half of gemm_in_halves' A^T B on a thread of its own, over several k blocks (the
  // next blocks continue the rows the hardware prefetchers already stream, and the prefetches stalled
  // the tiles behind full miss buffers): Zen 2, cpu-sudoku9's halves (512 x 64 and 64 x 256, k 1312) 1.00-1.05x without them
  // and its step x1.007-1.022. Elsewhere they pay: one k block and a little (cpu-sudoku4's 512 x 64 x
  // 544) ran 0.96x without them, the paper config's 3072 x 512 x 1552 0.97x (its B 16 step 0.98x), the
  // sums over items (whose next item is elsewhere) 0.71-0.81x. Measured on AVX2 only: the kernels with
  // kernel_direct_at (AVX-512) keep them.
  const bool read_ahead = !kr.prefetches_c_below &&
                          !(tl_in_half == InHalf::kKRangeAlone && g.K >= 2 * kr.kc && !kr.kernel_direct_at);
  auto next_a_block = [&](NextReads& nr_, const void* a, long ic, long pc, long rows = 0) {  // (rows: kr.mc)
    if (!read_ahead || !a || prepacked_a || ic >= r1 || pc >= K) return;
    if (rows <= 0) rows = kr.mc;
    const long mc = r1 - ic < rows ? r1 - ic : rows, kc = K - pc < kr.kc ? K - pc : kr.kc;
    const char* base = static_cast<const char*>(a);
    if (g.trans_a) nr_.add(base + (pc * g.lda + ic) * ea, kc, mc * ea, g.lda * ea);
    else nr_.add(base + (ic * g.lda + pc) * ea, mc, kc * ea, g.lda * ea);
  };
  auto next_b_block = [&](NextReads& nr_, const void* b, long pc, long jc) {
    if (!read_ahead || !b || pc >= K || jc >= N) return;
    const long kc = K - pc < kr.kc ? K - pc : kr.kc, nc = N - jc < kr.nc ? N - jc : kr.nc;
    long q0 = 0, q1 = (nc + NR - 1) / NR;
    if (!split_rows) split_range(q1, ith, nth, &q0, &q1);
    if (q0 >= q1) return;
    const long c0 = jc + q0 * NR, cols = (q1 * NR < nc ? q1 * NR : nc) - q0 * NR;
    const char* base = static_cast<const char*>(b);
    if (g.trans_b) nr_.add(base + (c0 * g.ldb + pc) * eb, cols, kc * eb, g.ldb * eb);
    else nr_.add(base + (pc * g.ldb + c0) * eb, kc, cols * eb, g.ldb * eb);
  };
  // One A block (rows [ic, ic + mc), k [pc, pc + kc)) against this thread's panels [p0, p1) of the
  // packed B block pb (columns from jc, nc of them, `panels` in all), with `ahead` prefetching what
  // comes next.
  auto run_block = [&](long jc, long nc, long panels, long p0, long p1, long pc, long kc, const float* pb, long ic,
                       long mc, NextReads& ahead) {
    const long kcp = k_slots(kc, KP);  // packed slots per row/column (fp32: kc)
    const float b_eff = pc == 0 ? beta : 1.f;
    // a B block that L2 holds: each A strip runs all its panels from L1 (strip_outer_fits)
    const bool strip_outer = !kr.prefetches_c_below && strip_outer_fits((p1 - p0) * kcp * NR);
    const float* pa_blk = pa;
    if (prepacked_a) pa_blk = prepacked_a + (pc / KP) * ((M + MR - 1) / MR * MR) + ic * kcp;
    else {
      pack_a_kr(kr, pa, A, g.a16, g.lda, g.trans_a, ic, mc, pc, kc);
      if (kr.round_bf16) round_bf16_inplace(pa, (mc + MR - 1) / MR * MR * kc);
    }
    const long t0 = window_tail(ic, ic + mc, p1 - p0) - ic;
    const float* pa_tail = tail_pack(ic + t0, ic + mc, pc, kc);
    // a narrow last panel (<= cols_max columns) runs with the rows in the lanes, cols_strips
    // strips per call (kernel_cols: the same bits as the tile)
    const long last = panels - 1, n_last = nc - last * NR, grp = (long)kr.cols_strips * MR;
    const bool narrow = kr.kernel_cols && n_last <= kr.cols_max && last >= p0 && last < p1;
    const long strips = (mc + MR - 1) / MR;
    // (the reads ahead, a share per tile; none on the AMX kernel: read_ahead)
    ahead.spread((p1 - p0 - (narrow ? 1 : 0)) * strips + (narrow ? (mc + grp - 1) / grp : 0));
    auto tile = [&](long p, long i0) {
      const long j0 = p * NR, nr = nc - j0 < NR ? nc - j0 : NR, mr = strip_rows(i0, t0, mc, MR);
      const float* pas = strip_at(pa_blk, pa_tail, i0, t0, kcp, MR);
      ahead.step();
      kr.kernel(kcp, pas, pb + p * kcp * NR, C + (ic + i0) * g.ldc + jc + j0, g.ldc, mr, nr, g.alpha, b_eff);
    };
    for_each_tile(strip_outer, p0, narrow ? last : p1, mc, MR, tile, t0);
    if (narrow) {
      const long j0 = last * NR;
      for (long i0 = 0; i0 < mc; i0 += grp) {
        ahead.step();
        kr.kernel_cols(kcp, pa_blk + i0 * kcp, pb + last * kcp * NR, C + (ic + i0) * g.ldc + jc + j0, g.ldc,
                       mc - i0 < grp ? mc - i0 : grp, nc - j0, g.alpha, b_eff);
      }
    }
  };
  if (row_claims) {
    // Claimed A blocks (gemm_claims_row_blocks, claim_row_blocks): each thread takes the next block when
    // it frees up and runs all its k blocks back to back; every k block of B is packed once for all
    // threads before (packed_b), or by this thread at its first block and kept (per k block, room for
    // all panels). Each C element still sums its k blocks in order, on one thread: the same bits as any
    // split.
    const long all_p = (N + NR - 1) / NR, k_blocks = (K + kr.kc - 1) / kr.kc, kcp_max = k_slots(kr.kc, KP);
    const long bstride = kcp_max * all_p * NR;
    const RowBlocks& rb = row_claims->blocks;
    ItemClaims::Part row_blocks = row_claims->claims.part(ith);
    long blk = row_blocks.first();
    if (blk < 0) return;
    float* pb_all = row_claims->packed_b ? const_cast<float*>(row_claims->packed_b)
                                         : tl_pack_b_all.get((size_t)k_blocks * bstride);
    bool packed = row_claims->packed_b != nullptr;
    for (; blk >= 0; blk = row_blocks.next(blk)) {
      const long ic = rb.start(blk), mc = rb.size(blk);
      const long bn = row_blocks.likely_next(blk);
      for (long pc = 0, kb = 0; pc < K; pc += kr.kc, kb++) {
        const long kc = K - pc < kr.kc ? K - pc : kr.kc;
        float* pb_k = pb_all + kb * bstride;
        if (!packed) pack_panels(pb_k, pc, kc, 0, N, 0, all_p);
        NextReads ahead;
        if (pc + kr.kc < K) {
          if (!packed) next_b_block(ahead, B, pc + kr.kc, 0);
          next_a_block(ahead, A, ic, pc + kr.kc, mc);
        } else if (bn >= 0) {
          next_a_block(ahead, A, rb.start(bn), 0, rb.size(bn));
        } else {  // the next item's (the caller's next_b / next_a)
          next_b_block(ahead, next_b, 0, 0);
          next_a_block(ahead, next_a, 0, 0);
        }
        run_block(0, N, all_p, 0, all_p, pc, kc, pb_k, ic, mc, ahead);
      }
      packed = true;
    }
    return;
  }
  for (long jc = 0; jc < N; jc += kr.nc) {
    long nc = N - jc < kr.nc ? N - jc : kr.nc;
    long panels = (nc + NR - 1) / NR, p0 = 0, p1 = panels;
    if (!split_rows) split_range(panels, ith, nth, &p0, &p1);
    if (p0 >= p1) continue;
    for (long pc = 0; pc < K; pc += kr.kc) {
      long kc = K - pc < kr.kc ? K - pc : kr.kc;
      if (packed_b) pb = const_cast<float*>(packed_b);  // (one block: jc = pc = 0)
      else pack_panels(pb, pc, kc, jc, nc, p0, p1);
      for (long ic = r0; ic < r1; ic += kr.mc) {
        NextReads ahead;
        if (ic + kr.mc < r1) {
          next_a_block(ahead, A, ic + kr.mc, pc);
        } else if (pc + kr.kc < K) {
          next_b_block(ahead, B, pc + kr.kc, jc);
          next_a_block(ahead, A, r0, pc + kr.kc);
        } else if (jc + kr.nc < N) {
          next_b_block(ahead, B, 0, jc + kr.nc);
          next_a_block(ahead, A, r0, 0);
        } else {  // the next item's (the caller's next_b / next_a)
          next_b_block(ahead, next_b, 0, 0);
          next_a_block(ahead, next_a, r0, 0);
        }
        run_block(jc, nc, panels, p0, p1, pc, kc, pb, ic, r1 - ic < kr.mc ? r1 - ic : kr.mc, ahead);
      }
    }
  }
}

// A shared by every item of a batch (stride_a == 0) packed once, all rows, every k block: block
// pc holds the MR strips of all rows for k in [pc, pc + kc) at offset pc * Mr (Mr = M rounded up
// to MR), in exactly the layout pack_a gives one ic block, so gemm_one can point into it.
// After them, where rows [0, M) have tail strips (tail_start), those rows again as tail strips
// (packed_a_tail_at).
// The tail strips of a whole-A pack: how many (their rows from M - f * (MR - 1)).
inline long whole_a_tail_strips(const GemmKernelInfo& kr, const GemmArgs& g) {
  return g.a16 ? 0 : (g.M - tail_start(kr, 0, g.M)) / (kr.mr - 1);
}
size_t packed_a_floats(const GemmKernelInfo& kr, const GemmArgs& g) {
  return (size_t)packed_a_tail_at(kr, g.M, g.K) + whole_a_tail_strips(kr, g) * kr.mr * g.K + 16;
}
void pack_a_whole(const GemmKernelInfo& kr, const GemmArgs& g, float* dst) {
  long Mr = (g.M + kr.mr - 1) / kr.mr * kr.mr;
  const long f = whole_a_tail_strips(kr, g), t0 = g.M - f * (kr.mr - 1);
  for (long pc = 0; pc < g.K; pc += kr.kc) {
    long kc = g.K - pc < kr.kc ? g.K - pc : kr.kc;
    pack_a_kr(kr, dst + (pc / kr.kpack) * Mr, g.A, g.a16, g.lda, g.trans_a, 0, g.M, pc, kc);
    if (f > 0)
      pack_a_tail(kr, dst + packed_a_tail_at(kr, g.M, g.K) + pc * f * kr.mr, static_cast<const float*>(g.A), g.lda,
                  g.trans_a, t0, g.M, pc, kc);
  }
  if (kr.round_bf16) round_bf16_inplace(dst, Mr * g.K);
}
const float* prepack_a(const GemmKernelInfo& kr, const GemmArgs& g) {
  float* dst = tl_prepacked_a.get(packed_a_floats(kr, g));
  pack_a_whole(kr, g, dst);
  return dst;
}

}  // namespace

GemmKernelInfo gemm_active_kernel(bool bf16) { return active_kernel(bf16); }
long gemm_strip_outer_kib() {
  static const long kib = [] {
    const char* e = std::getenv("TRM_GEMM_STRIP_OUTER_KIB");
    return e ? std::atol(e) : 512L;
  }();
  return kib;
}

bool gemm_set_fast_paths(bool on) {
  g_fast_paths.store(on);
  return on;  // (every kernel has one: gemm_by_transpose's sums)
}

size_t gemm_packed_a_floats(const GemmArgs& g) { return packed_a_floats(active_kernel(g.bf16), g); }

size_t gemm_packed_b_floats(const GemmArgs& g) {
  const GemmKernelInfo kr = active_kernel(g.bf16);
  if (!packs_b_once(kr, g)) return 0;
  return (size_t)(g.N + kr.nr - 1) / kr.nr * kr.nr * g.K + 16;
}
void gemm_pack_b(float* dst, const GemmArgs& g) {
  const GemmKernelInfo kr = active_kernel(g.bf16);
  pack_b(dst, g.B, g.ldb, g.trans_b, 0, g.K, 0, g.N, 0, (g.N + kr.nr - 1) / kr.nr, kr.nr, kr.pack_b_colmajor,
         kr.pack_b_rowmajor, kr.kpack);
}
void gemm_pack_a(float* dst, const GemmArgs& g) { pack_a_whole(active_kernel(g.bf16), g, dst); }

// Item b's operand: p + b * stride elements of 4 bytes, or of 2 for a bf16-stored operand.
inline const void* item_at(const float* p, bool is16, long off) {
  return is16 ? static_cast<const void*>(reinterpret_cast<const uint16_t*>(p) + off) : static_cast<const void*>(p + off);
}

// dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols: 16 x 16 blocks in registers on AVX-512
// (copy_transposed_avx512), 8 x 8 on AVX2 (copy_transposed_avx2), else 16 x 16 blocks element by element
// down whole columns (every store touched a new line: 14% of a transposed sum's time on Zen 2).
void copy_transposed(float* dst, long ldd, const float* src, long lds, long rows, long cols) {
  if (active_isa() == Isa::Avx512) return copy_transposed_avx512(dst, ldd, src, lds, rows, cols);
  if (active_isa() == Isa::Avx2) return copy_transposed_avx2(dst, ldd, src, lds, rows, cols);
  constexpr long BS = 16;
  for (long i0 = 0; i0 < rows; i0 += BS)
    for (long j0 = 0; j0 < cols; j0 += BS) {
      const long i1 = i0 + BS < rows ? i0 + BS : rows, j1 = j0 + BS < cols ? j0 + BS : cols;
      for (long j = j0; j < j1; j++)
        for (long i = i0; i < i1; i++) dst[j * ldd + i] = src[i * lds + j];
    }
}

// g computed as C^T = op(B)^T op(A)^T into scratch (C^T's rows the M columns), then copied back.
void gemm_transposed(const GemmArgs& g) {
  static thread_local AlignedBuf scratch;
  float* ct = scratch.get((size_t)g.M * g.N);
  if (g.beta != 0.f) copy_transposed(ct, g.M, g.C, g.ldc, g.M, g.N);
  GemmArgs t = g;
  t.M = g.N; t.N = g.M;
  t.trans_a = !g.trans_b; t.A = g.B; t.lda = g.ldb; t.stride_a = g.stride_b;
  t.trans_b = !g.trans_a; t.B = g.A; t.ldb = g.lda; t.stride_b = g.stride_a;
  t.C = ct; t.ldc = g.M;
  gemm(t);
  copy_transposed(g.C, g.ldc, ct, g.M, g.N, g.M);
}

// Two products run as their transpose, C^T = op(B)^T op(A)^T, on AVX-512's strip-outer path:
// - a sum over items of op(A) B^T with few rows and a wide, transposed B (the token mixer's down
//   weight gradient, 97 x 512 x 512 per item: sum of dY_b H_b^T), which packed the whole B of every
//   item with 16 x 16 transposes for only M rows of use; transposed, that operand is read in place
//   as a row-major A and only the small one is packed;
// - one product with fewer rows than columns, both at most 8 panels (the small models' channel
//   weight gradients, 64 x 256 x 544 in cpu-sudoku4): the strip-outer path packs all of op(B),
//   K x N, for M rows of use; transposed it packs K x M and reads the rest in place.
// And on a kernel without that path (AVX2, portable), a sum whose last panel would be mostly padding
// (below). Each element of C^T is the same chain of FMAs as the element of C (the same products, k blocks,
// beta and alpha), so copying C^T back gives C's bits; the scratch costs 2 M N floats.
bool gemm_by_transpose(const GemmKernelInfo& kr, const GemmArgs& g) {
  if (g.bf16 || g.a16 || g.b16 || g.packed_a || g.packed_b || g.K == 0) return false;
  if (!kr.kernel_direct_a || !kr.kernel_direct_at) {
    // A kernel without a transposed A in place (AVX2, portable): a sum over items of op(A) B^T whose
    // last panel would be mostly padding (the token mixer's gate_up weight gradient, 512 x 82 x 64 per
    // item at S = 82: 96 columns computed) runs transposed when that pads less (C^T's 82 rows in 6-row
    // strips: 84), the same two copies of C as below. But where the narrow-panel kernel for a row-major
    // A (AVX2's kernel_cols_a) can run that last panel in the lanes (up to cols_max columns past whole
    // panels, at most kStripOuterPanels panels: 97 = 6 x 16 + 1) and the transposed form would pack a
    // big operand per item with 8 x 8 transposes (op(A)^T: K x M over kNarrowInPlaceMinBytes, the paper token
    // mixer's dgate_up^T, 512 x 1024), the sum runs in place, its A read in place: Zen 2, the paper
    // gate_up dW (1024 x 97 x 512 per item) 62-64 -> 70-74% of the peak on one and two threads. And a
    // sum with few rows and a wide transposed B over that size (the paper down dW, 97 x 512 x 512 per
    // item: H^T packed whole for 97 rows of use) runs as C^T = B A^T, H read in place: 62-65 -> 68-71%.
    // cpu-sudoku9's 82-row sums (64 x 512 and 64 x 256 per item, in cache) keep their forms: moved
    // too, they ran 0.92-0.99x alone on two threads and the step even.
    const auto up = [](long x, long m) { return (x + m - 1) / m * m; };
    const bool sums = g.stride_c == 0 && g.batch >= 2 && g.trans_b && !g.trans_a;
    const auto narrow_in_place = [&](long n, long packed_floats) {
      return kr.kernel_direct_a && kr.kernel_cols_a && n % kr.nr != 0 && n % kr.nr <= kr.cols_max &&
             (n + kr.nr - 1) / kr.nr <= kStripOuterPanels && packed_floats * 4.0 > kNarrowInPlaceMinBytes;
    };
    const bool sum_wide = sums && g.M >= g.N && !narrow_in_place(g.N, g.K * g.M) &&
                          up(g.N, kr.mr) * up(g.M, kr.nr) * 1.08 < up(g.M, kr.mr) * up(g.N, kr.nr);
    const bool sum_narrow = sums && g.M < g.N && g.N >= 4L * kr.mr && narrow_in_place(g.M, g.K * g.N);
    if (!(sum_wide || sum_narrow) || !g_fast_paths.load(std::memory_order_relaxed)) return false;
    gemm_transposed(g);
    return true;
  }
  if (g.M >= g.N || g.N < 4L * kr.mr) return false;
  const long lim = kStripOuterPanels * kr.nr;
  // (a sum only where C^T's columns, the M rows, fill whole panels or leave a narrow last one that
  // runs in lanes: 82 = 2 x 32 + 18 or 37 = 32 + 5 padded to 96 and 64 columns cost more than the
  // pack they save; 2-vCPU Zen 5, the S = 82 down weight gradient 66 -> 74% of the peak in place on
  // one thread, 69 -> 77% on two, S = 37 46 -> 67%; S = 97 = 3 x 32 + 1 stays transposed, 78% against 68%)
  const bool sum = g.stride_c == 0 && g.batch >= 2 && g.trans_b && !g.trans_a && g.M <= lim &&
                   g.M % kr.nr <= kr.cols_max;
  // (a small one, in cache, loses more to the two copies than it gains: 20 x 97 x 64 took 2.4 us
  // plain and 3.9 transposed, while 64 x 256 x 544 with cold operands went 117 -> 90 us)
  const bool single = g.batch == 1 && g.N <= lim && g.N <= kr.nc && 2.0 * g.M * g.N * g.K >= 4e6;
  if (!sum && !single) return false;
  gemm_transposed(g);
  return true;
}

// Reductions in two fixed halves (fp32 or bf16, a small C): the items of a sum over items (stride_c == 0), or
// the k range of one A^T B product with a long k (the weight-gradient form dW = dY^T X; no fused
// kernel computes that form, and each fused kernel promises gemm's bits for its own): the small
// models' weight gradients, sums over the batch's items or tokens. Half 0 accumulates into C (with
// beta), half 1 into a scratch C from zero, then C += scratch: the halves are fixed by the shape, so
// the bits are the same for any thread count. On two threads each half runs on one thread, over the
// items (or tokens) that thread's home share gave it in the kernels before (ItemClaims, the row
// runs), so each reads what it wrote; one product split by
// rows made both threads read every item, half of it written by the other core (2-vCPU Zen 5:
// cpu-sudoku9's step x1.08, the paper token mixer's down weight gradient 82-84% -> 88-89% of the peak
// on two threads). With more threads the halves run one after the other, each on all of them.
// bf16 products too (their operands fp32 or bf16-stored): each half packs only its own items or k range,
// where the threads of a product split inside every item both packed its shared operand, and a fixed
// half each balances as the per-item splits did. 2-vCPU Zen 5, VDPBF16PS: the paper token mixer's down
// weight gradient (97 x 512 x 512 per item) x1.16, the bf16 cpu-sudoku9 step x1.10-1.14 (its 82-row
// item sums and its channel weight gradients over 2624 tokens). The bits change from the item-by-item
// order (within rounding), the same for any thread count.
bool gemm_in_halves(const GemmArgs& g) {
  const bool items = g.stride_c == 0 && g.batch >= 4,
             ks = g.trans_a && !g.trans_b && g.batch == 1 && g.K >= kHalvesMinK;
  if (tl_in_half != InHalf::kNo || (!g.bf16 && (g.a16 || g.b16)) || g.packed_a || g.packed_b || g.K == 0 || (double)g.M * g.N > kHalvesMaxC ||
      !(items || ks))
    return false;
  static thread_local AlignedBuf scratch;
  float* sc = scratch.get((size_t)g.M * g.N);
  // Each half on its own thread (two threads or one), and on a kernel that packs a transposed A strip
  // by strip (no kernel_direct_at: AVX2), a tall A^T B (the channel MLP's gate_up weight gradient,
  // 512 x 64, k 1312 a half) runs as its transpose B^T A: the wide operand packed as B panels, 64
  // contiguous bytes a row at a time, not as 6-float pieces of 2 KiB-apart rows (gemm_by_transpose's
  // bits). Zen 2, one process: 512 x 64 x 2624 1.05-1.09x on two threads, 1.07-1.08x on one. (Not for one
  // product on two threads: 512 x 64 x 544 ran 0.86x, its 64 rows of C^T split between them.)
  const bool alone = pool_threads() <= 2;
  const GemmKernelInfo kr = active_kernel(false);
  const bool tall_tn = ks && !g.bf16 && !kr.kernel_direct_at && g.M >= 4 * g.N && g.M <= kr.nc;
  auto half = [&](int h) {
    GemmArgs t = g;
    long lo, hi;
    split_range(items ? g.batch : g.K, h, 2, &lo, &hi);
    const long oa = items ? lo * g.stride_a : lo * g.lda, ob = items ? lo * g.stride_b : lo * g.ldb;
    if (items) t.batch = hi - lo;
    else t.K = hi - lo;  // (A^T B: k runs down the rows of both)
    t.A = static_cast<const float*>(item_at(g.A, g.a16, oa));
    t.B = static_cast<const float*>(item_at(g.B, g.b16, ob));
    if (h == 1) {
      t.C = sc;
      t.ldc = g.N;
      t.beta = 0.f;
    }
    tl_in_half = alone && ks ? InHalf::kKRangeAlone : InHalf::kHalf;
    if (alone && tall_tn) gemm_transposed(t);
    else gemm(t);
    tl_in_half = InHalf::kNo;
  };
  if (alone)
    parallel_run([&](int p, int np) {
      for (int h = p; h < 2; h += np) half(h);
    }, 2);
  else
    for (int h = 0; h < 2; h++) half(h);
  // C += scratch by rows on every thread (on one, the other thread waited out this sum idle)
  parallel_run([&](int p, int np) {
    long lo, hi;
    split_range(g.M, p, np, &lo, &hi);
    for (long i = lo; i < hi; i++)
      for (long j = 0; j < g.N; j++) g.C[i * g.ldc + j] += sc[i * g.N + j];
  });
  return true;
}

// pack(h, q0, q1) for panels [q0, q1) of each of `groups` groups of `panels` panels (k blocks, or B's
// halves), all groups' panels split over the threads in runs within one group: the packs done once for
// all threads of a product whose threads claim its row blocks. work: the elements packed.
template <class Pack>
void parallel_panels(long groups, long panels, double work, Pack&& pack) {
  parallel_for(groups * panels, work > 1e9 ? (long)1e9 : (long)work, [&](long lo, long hi) {
    while (lo < hi) {
      const long h = lo / panels, q0 = lo % panels, q1 = hi - h * panels < panels ? hi - h * panels : panels;
      pack(h, q0, q1);
      lo += q1 - q0;
    }
  });
}

// Every k block of op(B) (all columns: one column block) packed for all threads of a claimed product, in
// the layout of gemm_one's claimed loop (k block kb at kb * bstride), the panels split over the threads
// (the caller's buffer; the region's end is the barrier before the product reads it). Each thread packing
// all of B for itself repeated that work on every thread: at 16 threads on the paper step's bf16 weight
// gradients (3072 x 512 x 6208: each thread packed B's 3.2 M elements for ~1.2 GFLOP of its own) as long
// as a third of the tile work. The packs are the same values either way: the same bits. Null (each thread
// packs its own) under kSharedPackMinElements.
const float* pack_b_shared(const GemmKernelInfo& kr, const GemmArgs& g) {
  if ((double)g.K * g.N < kSharedPackMinElements) return nullptr;
  const long all_p = (g.N + kr.nr - 1) / kr.nr, k_blocks = (g.K + kr.kc - 1) / kr.kc;
  const long bstride = k_slots(kr.kc, kr.kpack) * all_p * kr.nr;
  float* dst = tl_pack_b_shared.get((size_t)k_blocks * bstride);
  parallel_panels(k_blocks, all_p, (double)g.K * g.N, [&](long kb, long q0, long q1) {
    const long pc = kb * kr.kc, kc = g.K - pc < kr.kc ? g.K - pc : kr.kc;
    pack_b_panels(kr, g, g.B, dst + kb * bstride, pc, kc, 0, g.N, q0, q1);
  });
  return dst;
}

// Packs that every thread would repeat, done once for all threads (the same values: the same bits):
// - op(A) of a product split by column panels (each thread packed all of A for its own panels: at 16
//   threads the paper step's weight gradient 512 x 1536 x 6208, A^T's 3.2 M elements for each thread's
//   ~0.6 GFLOP), or of each item of a batch split inside its items (the token mixer's down weight
//   gradient, a sum of 64 items of 97 x 512 x 512: each thread packed every item's A for one panel);
// - op(B) of each item of a batch split by rows (the token mixer's gate_up weight gradient, 1024 x 97 x
//   512 summed over 64 items: each thread packed every item's B for its 64 rows). One k block and one
//   column block only (gemm_one's packed_b).
// Each only from kSharedPackMinElements in all, and items at most kSharedItemsBytes in all. No A with tail
// strips (their layout comes from pack_a_whole's second pass).
constexpr double kSharedItemsBytes = 64.0 * (1 << 20);
inline size_t round16(size_t n) { return (n + 15) / 16 * 16; }
// floats per item of pack_items_a (0: not shared)
size_t shared_a_floats(const GemmKernelInfo& kr, const GemmArgs& g) {
  if (g.packed_a || g.K == 0 || whole_a_tail_strips(kr, g) != 0) return 0;
  const size_t f = round16(packed_a_floats(kr, g));
  const long items = g.batch == 1 || !g.stride_a ? 1 : g.batch;
  return (double)g.M * g.K * items >= kSharedPackMinElements && 4.0 * f * items <= kSharedItemsBytes ? f : 0;
}
// floats per item of pack_items_b (0: not shared)
size_t shared_b_floats(const GemmKernelInfo& kr, const GemmArgs& g) {
  if (g.batch == 1 || g.packed_b || g.K == 0 || g.K > kr.kc || g.N > kr.nc) return 0;
  const size_t f = round16((size_t)k_slots(g.K, kr.kpack) * ((g.N + kr.nr - 1) / kr.nr) * kr.nr);
  const long items = g.stride_b ? g.batch : 1;
  return (double)g.K * g.N * items >= kSharedPackMinElements && 4.0 * f * items <= kSharedItemsBytes ? f : 0;
}
// op(A) of every item (one when A is shared, stride_a 0), `per` floats apart, in gemm_one's prepacked_a
// layout (pack_a_whole's), in blocks of kr.mc rows and one k block, split over the threads
const float* pack_items_a(const GemmKernelInfo& kr, const GemmArgs& g, size_t per) {
  const long items = g.stride_a ? g.batch : 1, Mr = (g.M + kr.mr - 1) / kr.mr * kr.mr;
  const long row_blocks = (g.M + kr.mc - 1) / kr.mc, k_blocks = (g.K + kr.kc - 1) / kr.kc;
  const long per_item = k_blocks * row_blocks;
  float* dst = tl_pack_a_shared.get(per * items);
  const double work = (double)g.M * g.K * items;
  parallel_for(items * per_item, work > 1e9 ? (long)1e9 : (long)work, [&](long lo, long hi) {
    for (long i = lo; i < hi; i++) {
      const long b = i / per_item, j = i % per_item;
      const long pc = j / row_blocks * kr.kc, kc = g.K - pc < kr.kc ? g.K - pc : kr.kc;
      const long ic = j % row_blocks * kr.mc, mc = g.M - ic < kr.mc ? g.M - ic : kr.mc;
      const long kcp = k_slots(kc, kr.kpack);
      float* d = dst + b * per + (pc / kr.kpack) * Mr + ic * kcp;
      pack_a_kr(kr, d, item_at(g.A, g.a16, b * g.stride_a), g.a16, g.lda, g.trans_a, ic, mc, pc, kc);
      if (kr.round_bf16) round_bf16_inplace(d, (mc + kr.mr - 1) / kr.mr * kr.mr * kcp);
    }
  });
  return dst;
}
// op(B) of every item (one when B is shared), `per` floats apart: one block of all panels (pack_b_panels)
const float* pack_items_b(const GemmKernelInfo& kr, const GemmArgs& g, size_t per) {
  const long items = g.stride_b ? g.batch : 1, all_p = (g.N + kr.nr - 1) / kr.nr;
  float* dst = tl_pack_b_shared.get(per * items);
  parallel_panels(items, all_p, (double)g.K * g.N * items, [&](long b, long q0, long q1) {
    pack_b_panels(kr, g, item_at(g.B, g.b16, b * g.stride_b), dst + b * per, 0, g.K, 0, g.N, q0, q1);
  });
  return dst;
}

// The fused channel kernels' W packed once for all threads when they claim row blocks (one column block):
// `groups` column groups of I columns (group h from column h * I: linear_swiglu's gate and up halves of
// W^T, its backward's W) by pack_b_blocks, group h at h * Kp * pstride; each thread had packed all of W
// (1.6 M elements of the paper config) for itself. Null under kSharedPackMinElements.
float* pack_w_shared(const GemmKernelInfo& kr, long groups, const float* W, long ldb, bool trans, long I, long K,
                     long Kp, long pstride) {
  if ((double)groups * I * K < kSharedPackMinElements) return nullptr;
  float* dst = tl_pack_b_shared.get((size_t)groups * Kp * pstride + 16);
  parallel_panels(groups, (I + kr.nr - 1) / kr.nr, (double)groups * I * K, [&](long h, long q0, long q1) {
    pack_b_blocks(kr, dst + h * Kp * pstride, pstride, W, ldb, trans, h * I, I, q0, q1, K);
  });
  return dst;
}

void gemm(const GemmArgs& g) {
  if (g.M == 0 || g.N == 0 || g.batch == 0) return;
  if (gemm_in_halves(g)) return;
  const GemmKernelInfo kr = active_kernel(g.bf16);
  if (gemm_by_transpose(kr, g)) return;
  // (pool_threads: one when nested in a region, a gemm_in_halves half or a fused kernel's item. When it
  // counted the pool there, a half of the paper token mixer's down weight gradient, 16 items of 512 x 97
  // x 512 transposed, packed all its items' op(B) in a pass of their own first, pack_items_b: 4 MB out
  // to L3 and back, for a split that never came: two threads 77-78 -> 82% of the peak. Same bits.)
  const int nth = pool_threads();
  const double flops_item = 2.0 * g.M * g.N * g.K;
  // Independent items: whole items per thread when that balances (small items, or enough of
  // them, or a multiple of the thread count). Items that accumulate into one C (stride_c == 0)
  // must be summed in order, so they are split inside each item instead (each thread owns its
  // rows or columns of C across all items, so the order per element is still the batch order).
  // (One thread takes this path too, for the weight packed once.)
  bool by_item = g.batch >= nth && g.stride_c != 0 &&
                 (nth == 1 || flops_item < 4e6 || g.batch % nth == 0 || g.batch >= 8L * nth);
  if (by_item) {
    // A weight shared by all items is packed once per thread instead of once per item.
    bool shared_a = g.stride_a == 0 && g.K > 0 && (double)g.M * g.K <= 4e6;
    // Items claimed one at a time as threads free up (ItemClaims, ops.h); the operands of the item
    // the next claim would get are prefetched under this one.
    ItemClaims claims(g.batch, true);
    parallel_run([&](int ith, int) {
      ItemClaims::Part items = claims.part(ith);
      long b = items.first();
      if (b < 0) return;
      const float* pre = g.packed_a ? g.packed_a : shared_a && g.batch > nth ? prepack_a(kr, g) : nullptr;
      for (; b >= 0; b = items.next(b)) {
        const long bn = items.likely_next(b);
        gemm_one(kr, g, item_at(g.A, g.a16, b * g.stride_a), item_at(g.B, g.b16, b * g.stride_b), g.C + b * g.stride_c,
                 g.beta, 0, 1, true, pre, bn >= 0 ? item_at(g.B, g.b16, bn * g.stride_b) : nullptr,
                 bn >= 0 && g.stride_a ? item_at(g.A, g.a16, bn * g.stride_a) : nullptr);
      }
    });
    return;
  }
  // Each thread packs the A rows and B panels it uses. Splitting rows, a thread packs M/nth rows
  // of A and all N columns of B per k block; splitting panels, all M rows and N/nth columns. So
  // split the larger of M and N (rows need at least two MR strips per thread, panels two each).
  bool rows_ok = g.M >= (long)kr.mr * 2 * nth, panels_ok = g.N >= (long)kr.nr * 2 * nth;
  bool split_rows = rows_ok && (!panels_ok || g.M >= g.N);
  int use = flops_item * g.batch < 2e5 ? 1 : nth;  // tiny products: threading costs more than it saves
  if (use > 1 && g.batch == 1 && split_rows && gemm_claims_row_blocks(kr, g, nth)) {
    ClaimedRows blocks(claim_row_blocks(kr, g.M, nth));
    blocks.packed_b = pack_b_shared(kr, g);
    parallel_run([&](int ith, int nt) {
      gemm_one(kr, g, g.A, g.B, g.C, g.beta, ith, nt, true, g.packed_a, nullptr, nullptr, &blocks);
    });
    return;
  }
  // packs every thread would repeat, done once (pack_items_a / pack_items_b): A split by panels, B by rows.
  // From three threads: on two, each thread packing its own copy of every item's operand inside its loop
  // (from cache, the next item's prefetched under the tiles) beat one pass over all items first (megabytes
  // with nothing to hide their misses, read back from L3): the paper token mixer's gate_up weight gradient
  // (1024 x 97 x 512 summed over 32 items, its op(B) shared) 8.89-9.14 -> 8.61-8.65 ms, 83 -> 85% of
  // the peak (2-vCPU Zen 5); the paper step at B 16 even (fp32 x1.012, bf16 x0.989, x1.008). At 16
  // threads a thread's share of an item is a sixteenth, and the shared pass won (thirty-fifth session).
  const size_t per_a = use > 2 && !split_rows ? shared_a_floats(kr, g) : 0;
  const size_t per_b = use > 2 && split_rows ? shared_b_floats(kr, g) : 0;
  const float* items_a = per_a ? pack_items_a(kr, g, per_a) : nullptr;
  const float* items_b = per_b ? pack_items_b(kr, g, per_b) : nullptr;
  const size_t step_a = g.stride_a ? per_a : 0, step_b = g.stride_b ? per_b : 0;
  parallel_run([&](int ith, int nt) {
    for (long b = 0; b < g.batch; b++) {
      float beta = (g.stride_c == 0 && b > 0) ? 1.f : g.beta;
      gemm_one(kr, g, item_at(g.A, g.a16, b * g.stride_a), item_at(g.B, g.b16, b * g.stride_b), g.C + b * g.stride_c,
               beta, ith, nt, split_rows, items_a ? items_a + b * step_a : g.packed_a,
               b + 1 < g.batch && !items_b ? item_at(g.B, g.b16, (b + 1) * g.stride_b) : nullptr,
               b + 1 < g.batch && g.stride_a && !items_a ? item_at(g.A, g.a16, (b + 1) * g.stride_a) : nullptr, nullptr,
               items_b ? items_b + b * step_b : nullptr);
    }
  }, use);
}

namespace {
// A register tile's bf16 SwiGLU epilogue (kr.swiglu_to16), rows [next, mr) still to do: y = silu(g) * u
// (bf16, rows ldy apart) from the tile's g and u (rows ldt apart) and, with kg, the kept pre-activation
// rounded as it is stored (a gate row at kg, its up row up elements further, rows ldk apart). Both fused
// forwards run it; finish() does it all at once, step() kRowsPerStep rows, for the AMX kernel's step hook
// (linear_swiglu runs a tile's epilogue between the k steps of the next tile: the tile unit works meanwhile).
struct TileEpilogue16 {
  static constexpr long kRowsPerStep = 2;
  const GemmKernelInfo* kr = nullptr;
  const float *g = nullptr, *u = nullptr;
  long ldt = 0;
  uint16_t* y = nullptr;
  long ldy = 0;
  uint16_t* kg = nullptr;
  long ldk = 0, up = 0, nr = 0, mr = 0;
  bool stream = false;
  long next = 0;
  bool left() const { return next < mr; }
  void rows(long end) {
    for (; next < end && next < mr; next++) {
      const float *gi = g + next * ldt, *ui = u + next * ldt;
      kr->swiglu_to16(y + next * ldy, gi, ui, nr);
      if (kg) {
        store_kept16(*kr, kg + next * ldk, gi, nr, stream);
        store_kept16(*kr, kg + next * ldk + up, ui, nr, stream);
      }
    }
  }
  void finish() { rows(mr); }
  static void step(void* self) {
    auto* e = static_cast<TileEpilogue16*>(self);
    e->rows(e->next + kRowsPerStep);
  }
};

// linear_swiglu's step hook on the AMX kernel with bf16 storage: the tile before's epilogue rows (when it
// overlaps, as TileEpilogue16::step) and this tile's output rows asked for writing, `per` a step. A
// burst of them before the tile's products waited for fill buffers, as gemm_one's reads ahead did.
struct TileStepHook {
  TileEpilogue16* pending = nullptr;
  const uint16_t* row = nullptr;
  long ld = 0, left = 0, per = 0;
  static void step(void* self) {
    auto* h = static_cast<TileStepHook*>(self);
    if (h->pending && h->pending->left()) TileEpilogue16::step(h->pending);
    h->ask(h->per);
  }
  void rest() { ask(left); }
  void ask(long rows) {
    for (; rows > 0 && left > 0; rows--, left--, row += ld) __builtin_prefetch(row, 1, 3);
  }
};

// The kept bf16 [G | U] rows that the next register tile's SwiGLU backward epilogue reads (its gate
// row g, the up row `up` elements further, rows ld apart), asked for `per` rows per k step of this
// tile's products (the AMX kernel's step hook). The backwards that stream a fresh bf16 dgate_up ask for
// no rows before a tile (a burst waited for fill buffers behind the streamed lines), so without this
// each epilogue row waited for memory: perf put most of the epilogue's samples on its first load.
struct KeptRowsAhead {
  const uint16_t* g = nullptr;
  long ld = 0, up = 0, left = 0, per = 0;
  // `rows` rows from g_, spread over `calls` hook calls of the kernel call that follows; stop() after it.
  void start(const GemmKernelInfo& kr, const uint16_t* g_, long ld_, long up_, long rows, long calls) {
    g = g_, ld = ld_, up = up_, left = rows, per = (rows + calls - 1) / calls;
    kr.set_step_hook(&step, this);
  }
  void stop(const GemmKernelInfo& kr) const {
    if (g) kr.set_step_hook(nullptr, nullptr);
  }
  static void step(void* self) {
    auto* h = static_cast<KeptRowsAhead*>(self);
    for (long r = 0; r < h->per && h->left > 0; r++, h->left--, h->g += h->ld) {
      __builtin_prefetch(h->g, 0, 3);
      __builtin_prefetch(h->g + h->up, 0, 3);
    }
  }
};

}  // namespace

void gemm_swiglu(void* out_, void* gate_up_, const float* X, const float* W, long H, long N, long K, long batch,
                 bool bf16, bool kept16) {
  if (H == 0 || N == 0 || batch == 0) return;
  kept16 = kept16 && bf16;
  float* out = kept16 ? nullptr : static_cast<float*>(out_);
  float* gate_up = kept16 ? nullptr : static_cast<float*>(gate_up_);
  uint16_t* out16 = kept16 ? static_cast<uint16_t*>(out_) : nullptr;
  uint16_t* gate_up16 = kept16 ? static_cast<uint16_t*>(gate_up_) : nullptr;
  const GemmKernelInfo kr = active_kernel(bf16);
  const int MR = kr.mr, NR = kr.nr, KP = kr.kpack;
  const long Hr = (H + MR - 1) / MR * MR, panels = (N + NR - 1) / NR;
  long Kp = 0;  // packed slots over all k blocks (gemm_one's blocks: kr.kc each)
  for (long pc = 0; pc < K; pc += kr.kc) Kp += k_slots(K - pc < kr.kc ? K - pc : kr.kc, KP);
  const int nth = pool_threads();
  const bool stream = 8.0 * batch * H * N > kKeptStreamBytes;  // the kept [G; U], in bytes
  const bool stream16 = stream;  // (the same elements: never read again before the backward)
  // Whole items when there are enough, claimed one at a time as threads free up (ItemClaims, ops.h),
  // else each item's panels split across threads.
  const bool by_item = batch >= nth;
  ItemClaims claims(batch, by_item);
  parallel_run([&](int ith, int nt) {
    long p0 = 0, p1 = panels;
    if (!by_item) split_range(panels, ith, nt, &p0, &p1);
    ItemClaims::Part items = claims.part(ith);
    long b = items.first();
    if (b < 0 || p0 >= p1) return;
    // The shared weight, packed once per thread: gate strips, then up strips, k block by k block.
    float* pg = tl_prepacked_a.get((size_t)2 * Hr * Kp + 16);
    float* pu = pg + Hr * Kp;
    pack_a_blocks(kr, pg, W, K, 0, H, K);
    pack_a_blocks(kr, pu, W + H * K, K, 0, H, K);
    float* pb = tl_pack_b.get((size_t)Kp * panels * NR + 16);
    alignas(64) float tg[kMaxTile], tu[kMaxTile];  // one register tile of G and of U
    if (K == 0) {
      for (int i = 0; i < kMaxTile; i++) tg[i] = tu[i] = 0.f;
    }
    for (; b >= 0; b = items.next(b)) {
      const float* Xb = X + b * K * N;
      float* hb = out ? out + b * H * N : nullptr;
      float* gb = gate_up ? gate_up + b * 2 * H * N : nullptr;
      uint16_t* hb16 = out16 ? out16 + b * H * N : nullptr;
      uint16_t* gb16 = gate_up16 ? gate_up16 + b * 2 * H * N : nullptr;
      pack_b_blocks(kr, pb, panels * NR, Xb, N, false, 0, N, p0, p1, K);
      // The next item's input: start it towards the cache while this one computes (a read of
      // every 16th float, one per line, spread over the panels below).
      const long bn = items.likely_next(b);
      const float* next = bn >= 0 ? X + bn * K * N : nullptr;
      const long next_lines = next ? (K * N + 15) / 16 : 0;
      long next_at = 0;
      const long steps = (p1 - p0) * Hr / MR, per_step = steps > 0 ? (next_lines + steps - 1) / steps : 0;
      auto tile = [&](long p, long s0) {
        const long j0 = p * NR, nr = N - j0 < NR ? N - j0 : NR, mr = H - s0 < MR ? H - s0 : MR;
        if (hb)
          for (long i = 0; i < mr; i++) prefetch_w(hb + (s0 + i) * N + j0, nr);
        else
          for (long i = 0; i < mr; i++) __builtin_prefetch(hb16 + (s0 + i) * N + j0, 1, 3);
        for (long pc = 0, koff = 0; pc < K; pc += kr.kc) {
          long kc = K - pc < kr.kc ? K - pc : kr.kc, kcp = k_slots(kc, KP);
          const float* pbp = pb + koff * panels * NR + p * kcp * NR;
          float beta = pc == 0 ? 0.f : 1.f;
          kr.kernel(kcp, pg + koff * Hr + s0 * kcp, pbp, tg, NR, mr, nr, 1.f, beta);
          kr.kernel(kcp, pu + koff * Hr + s0 * kcp, pbp, tu, NR, mr, nr, 1.f, beta);
          koff += kcp;
        }
        // bf16 storage: h, and [G; U] when kept, rounded as they are stored
        const bool fused16 = hb16 && kr.swiglu_to16;
        if (fused16)
          TileEpilogue16{&kr, tg, tu, NR, hb16 + s0 * N + j0, N, gb16 ? gb16 + s0 * N + j0 : nullptr, N, H * N, nr, mr,
                         stream16}
              .finish();
        // fp32: bitwise swigluForward's on every ISA path (ops/swiglu.cpp), the whole tile at once
        if (hb && !bf16) swiglu_tile(hb + s0 * N + j0, N, tg, tu, NR, mr, nr);
        for (long i = 0; i < (fused16 ? 0 : mr); i++) {
          const float* g = tg + i * NR;
          const float* u = tu + i * NR;
          if (hb16) {  // (no fused kernel for it: composed here)
            alignas(64) float y[32];
            swiglu_pair_bf16(y, g, u, nr);
            to_bf16(kr, hb16 + (s0 + i) * N + j0, y, nr);
            if (gb16) {
              store_kept16(kr, gb16 + (s0 + i) * N + j0, g, nr, stream16);
              store_kept16(kr, gb16 + (H + s0 + i) * N + j0, u, nr, stream16);
            }
            continue;
          }
          // bf16: within a few ulp of swigluForward's (fp32: swiglu_tile above)
          if (bf16) swiglu_pair_bf16(hb + (s0 + i) * N + j0, g, u, nr);
          if (gb) {
            store_kept(gb + (s0 + i) * N + j0, g, nr, stream);
            store_kept(gb + (H + s0 + i) * N + j0, u, nr, stream);
          }
        }
        for (long l = 0; l < per_step && next_at < next_lines; l++, next_at++)
          __builtin_prefetch(next + next_at * 16, 0, 2);
      };
      for_each_tile(strip_outer_fits(Kp * (p1 - p0) * NR), p0, p1, H, MR, tile);
    }
    kept_fence();  // the streamed stores are visible before the region ends
  });
}

void linear_swiglu(void* out_, void* gate_up_, const float* X, const float* W, long N, long D, long I, bool bf16,
                   bool kept16) {
  if (N == 0 || I == 0) return;
  kept16 = kept16 && bf16;
  float* out = kept16 ? nullptr : static_cast<float*>(out_);
  float* gate_up = kept16 ? nullptr : static_cast<float*>(gate_up_);
  uint16_t* out16 = kept16 ? static_cast<uint16_t*>(out_) : nullptr;
  uint16_t* gate_up16 = kept16 ? static_cast<uint16_t*>(gate_up_) : nullptr;
  const GemmKernelInfo kr = active_kernel(bf16);
  const int MR = kr.mr, NR = kr.nr, KP = kr.kpack;
  const long K = D;
  long Kp = 0;  // packed slots over all k blocks (gemm_one's blocks: kr.kc each)
  for (long pc = 0; pc < K; pc += kr.kc) Kp += k_slots(K - pc < kr.kc ? K - pc : kr.kc, KP);
  // B blocks: NCh gate columns and the NCh up columns that pair with them (NC columns in all)
  const long nch = kr.nc / 2 / NR * NR > NR ? kr.nc / 2 / NR * NR : NR;
  const long mcr = (kr.mc + MR - 1) / MR * MR;
  const int nth = pool_threads();
  const bool stream = 8.0 * N * I > kKeptStreamBytes;  // the kept [G | U], in bytes
  const bool stream16 = stream;  // (the same elements: never read again before the backward)
  // as gemm(): split the longer of the rows (whole MR strips) and the column panels
  const bool rows_ok = N >= (long)MR * 2 * nth, panels_ok = I >= (long)NR * 2 * nth;
  const bool split_rows = rows_ok && (!panels_ok || N >= I);
  const int use = 4.0 * N * I * K < 2e5 ? 1 : nth;
  // rows claimed a block at a time (gemm_claims_on) where one column block covers I
  const bool claim_rows = split_rows && use > 1 && I <= nch && gemm_claims_on();
  ClaimedRows blocks(claim_row_blocks(kr, claim_rows ? N : 0, nth));
  const long pstride = (nch + NR - 1) / NR * NR;  // floats per packed slot row of one B half
  // claimed rows: W's gate and up halves packed once for all threads (pack_w_shared)
  float* shared_gu = claim_rows ? pack_w_shared(kr, 2, W, D, true, I, K, Kp, pstride) : nullptr;
  parallel_run([&](int ith, int nt) {
    long r0 = 0, r1 = N;
    if (split_rows && !claim_rows) split_rows_by_strips(N, MR, ith, nt, &r0, &r1);
    RowBlockWalk walk{claim_rows ? &blocks : nullptr, ith, r0, r1, kr.mc};
    const long ic0 = walk.first();
    if (ic0 < 0) return;
    float* pa = tl_pack_a.get((size_t)mcr * Kp + 16);
    float* pbg = shared_gu ? shared_gu : tl_pack_b.get((size_t)2 * Kp * pstride + 16);
    float* pbu = pbg + Kp * pstride;
    // one register tile of G and of U; two of each when a tile's epilogue runs during the next one's
    // products (overlap: the AMX kernel's step hook, bf16 storage). Only when the pre-activation is
    // kept: its streamed stores then overlap the tile unit's work (a kept call 1.1-1.3x faster, 1 and 2
    // threads); SwiGLU alone gained nothing measurable that way.
    alignas(64) float tgs[2][kMaxTile], tus[2][kMaxTile];
    float *tg = tgs[0], *tu = tus[0];
    if (K == 0)
      for (int i = 0; i < kMaxTile; i++) tg[i] = tu[i] = 0.f;
    const bool overlap = out16 && gate_up16 && kr.swiglu_to16 && kr.set_step_hook && K > 0;
    TileEpilogue16 pending;
    const long hook_calls = 2 * amx_hook_calls_k(kr, K);  // per tile (G and U), for TileStepHook's rows per step
    const bool hook_rows = out16 && hook_calls > 0;
    for (long jc = 0; jc < I; jc += nch) {
      const long nc = I - jc < nch ? I - jc : nch, panels = (nc + NR - 1) / NR;
      long p0 = 0, p1 = panels;
      if (!split_rows) split_range(panels, ith, nt, &p0, &p1);
      if (p0 >= p1) continue;
      // this block's gate columns jc.. and up columns I + jc.. of op(B) = W^T, every k block
      if (!shared_gu) {
        pack_b_blocks(kr, pbg, pstride, W, D, true, jc, nc, p0, p1, K);
        pack_b_blocks(kr, pbu, pstride, W, D, true, I + jc, nc, p0, p1, K);
      }
      for (long ic = ic0; ic >= 0; ic = walk.next(ic)) {
        const long mc = walk.rows(ic), mr_all = (mc + MR - 1) / MR * MR;
        pack_a_blocks(kr, pa, X, D, ic, mc, K);
        for (long p = p0; p < p1; p++) {
          const long j0 = p * NR, nr = nc - j0 < NR ? nc - j0 : NR;
          for (long i0 = 0; i0 < mc; i0 += MR) {
            const long mr = mc - i0 < MR ? mc - i0 : MR;
            TileStepHook hook{overlap && pending.left() ? &pending : nullptr, out16 + (ic + i0) * I + jc + j0, I, mr,
                              (mr + hook_calls - 1) / (hook_calls > 0 ? hook_calls : 1)};
            if (out)
              for (long i = 0; i < mr; i++) prefetch_w(out + (ic + i0 + i) * I + jc + j0, nr);
            else if (!hook_rows)
              for (long i = 0; i < mr; i++) __builtin_prefetch(out16 + (ic + i0 + i) * I + jc + j0, 1, 3);
            if (hook_rows) kr.set_step_hook(&TileStepHook::step, &hook);
            else if (overlap && pending.left()) kr.set_step_hook(&TileEpilogue16::step, &pending);
            for (long pc = 0, koff = 0; pc < K; pc += kr.kc) {
              long kc = K - pc < kr.kc ? K - pc : kr.kc, kcp = k_slots(kc, KP);
              const float* pap = pa + koff * mr_all + i0 * kcp;
              const float beta = pc == 0 ? 0.f : 1.f;
              kr.kernel(kcp, pap, pbg + koff * pstride + p * kcp * NR, tg, NR, mr, nr, 1.f, beta);
              kr.kernel(kcp, pap, pbu + koff * pstride + p * kcp * NR, tu, NR, mr, nr, 1.f, beta);
              koff += kcp;
            }
            if (hook_rows) {  // (rows the hook did not reach: a strip of at most 16 rows runs without it)
              kr.set_step_hook(nullptr, nullptr);
              hook.rest();
            }
            if (out16 && kr.swiglu_to16) {  // bf16 storage: h, and [G | U] when kept, rounded as they are stored
              TileEpilogue16 e{&kr, tg, tu, NR, out16 + (ic + i0) * I + jc + j0, I,
                               gate_up16 ? gate_up16 + (ic + i0) * 2 * I + jc + j0 : nullptr, 2 * I, I, nr, mr,
                               stream16};
              if (!overlap) {
                e.finish();
                continue;
              }
              // the tile before: what its products' steps left; then this tile waits for the next
              kr.set_step_hook(nullptr, nullptr);
              pending.finish();
              pending = e;
              tg = tg == tgs[0] ? tgs[1] : tgs[0];
              tu = tu == tus[0] ? tus[1] : tus[0];
              continue;
            }
            // fp32: bitwise swiglu_forward's, the whole tile at once (swiglu_tile)
            if (!out16 && !bf16) swiglu_tile(out + (ic + i0) * I + jc + j0, I, tg, tu, NR, mr, nr);
            for (long i = 0; i < mr; i++) {
              const long row = ic + i0 + i;
              const float* g = tg + i * NR;
              const float* u = tu + i * NR;
              if (out16) {  // (no fused kernel for it: composed here)
                alignas(64) float y[32];
                swiglu_pair_bf16(y, g, u, nr);
                to_bf16(kr, out16 + row * I + jc + j0, y, nr);
                if (gate_up16) {
                  store_kept16(kr, gate_up16 + row * 2 * I + jc + j0, g, nr, stream16);
                  store_kept16(kr, gate_up16 + row * 2 * I + I + jc + j0, u, nr, stream16);
                }
                continue;
              }
              if (bf16) swiglu_pair_bf16(out + row * I + jc + j0, g, u, nr);
              if (gate_up) {
                store_kept(gate_up + row * 2 * I + jc + j0, g, nr, stream);
                store_kept(gate_up + row * 2 * I + I + jc + j0, u, nr, stream);
              }
            }
          }
        }
      }
    }
    pending.finish();
    kept_fence();  // the streamed stores are visible before the region ends
  }, use);
}

// linear_swiglu_backward's kept gate_up from this size up is prefetched a strip ahead (below)
constexpr double kStripAheadBytes = 4e6;

void linear_swiglu_backward(void* dgate_up_, const float* dout, const void* gate_up_, const float* W, long N, long D,
                            long I, bool bf16, bool fresh, bool kept16, bool d16) {
  if (N == 0 || I == 0) return;
  kept16 = kept16 && bf16;
  d16 = d16 && bf16 && fresh;
  float* dgate_up = d16 ? nullptr : static_cast<float*>(dgate_up_);
  uint16_t* dgate_up16 = d16 ? static_cast<uint16_t*>(dgate_up_) : nullptr;
  const float* gate_up = kept16 ? nullptr : static_cast<const float*>(gate_up_);
  const uint16_t* gate_up16 = kept16 ? static_cast<const uint16_t*>(gate_up_) : nullptr;
  const GemmKernelInfo kr = active_kernel(bf16);
  const int MR = kr.mr, NR = kr.nr, KP = kr.kpack;
  const long K = D;
  long Kp = 0;
  for (long pc = 0; pc < K; pc += kr.kc) Kp += k_slots(K - pc < kr.kc ? K - pc : kr.kc, KP);
  const long ncb = kr.nc;  // column block of dh (gemm's NC)
  const long mcr = (kr.mc + MR - 1) / MR * MR;
  const int nth = pool_threads();
  const bool rows_ok = N >= (long)MR * 2 * nth, panels_ok = I >= (long)NR * 2 * nth;
  const bool split_rows = rows_ok && (!panels_ok || N >= I);
  const int use = 2.0 * N * I * K < 2e5 ? 1 : nth;
  // A fresh bf16 dgate_up too large to stay in the last-level cache until the next products read it
  // (kStreamBytes, 8 MB: read again soon, unlike a kept tensor) is streamed past the caches
  // (swiglu_backward16), and then the tiles' epilogue rows are not prefetched: the streamed lines hold
  // the fill buffers and the prefetches stalled behind them (perf put half the pass's samples on
  // them). The paper config's bf16 calls ran 1.03-1.19x faster; a small model's (cpu-sudoku9 bf16:
  // 2.7 MB) lost 1-2% when streamed, and the fp32 ones 2-3% without the prefetches.
  const bool stream = d16 && 2.0 * N * 2 * I > kStreamBytes, prefetch_rows = !stream;
  // fp32 with a kept gate_up too large to be in cache still (cpu-sudoku9's 5.4 MB, written by the forward
  // a step's worth of kernels before): strip by strip, each tile also asks L2 for its lines of the kept
  // rows and of dgate_up one strip down, a strip (~16 tiles) ahead of their use. The tile's own prefetch
  // (prefetch_rows) is too late for memory. Zen 2, cold operands (8 sets): mlpNormBackward 1.05-1.065x
  // at N 2624 and 544 on two threads, 1.03x on one; the cpu-sudoku9 step x1.001-1.007. Not for
  // cpu-sudoku4's 1.1 MB (its step 0.989-1.000x): in cache already.
  const bool strip_ahead = prefetch_rows && gate_up && dgate_up && 4.0 * N * 2 * I > kStripAheadBytes;
  // streamed: the next tile's kept rows asked for during this tile's products instead (KeptRowsAhead)
  const long hook_calls = amx_hook_calls_k(kr, K);
  const bool rows_ahead = stream && gate_up16 && hook_calls > 0;
  // rows claimed a block at a time (gemm_claims_on) where one column block covers I
  const bool claim_rows = split_rows && use > 1 && I <= ncb && gemm_claims_on();
  ClaimedRows blocks(claim_row_blocks(kr, claim_rows ? N : 0, nth));
  const long pstride = (ncb + NR - 1) / NR * NR;
  // claimed rows: W packed once for all threads (pack_w_shared)
  float* shared_b = claim_rows ? pack_w_shared(kr, 1, W, I, false, I, K, Kp, pstride) : nullptr;
  parallel_run([&](int ith, int nt) {
    long r0 = 0, r1 = N;
    if (split_rows && !claim_rows) split_rows_by_strips(N, MR, ith, nt, &r0, &r1);
    RowBlockWalk walk{claim_rows ? &blocks : nullptr, ith, r0, r1, kr.mc};
    const long ic0 = walk.first();
    if (ic0 < 0) return;
    float* pa = tl_pack_a.get((size_t)mcr * Kp + 16);
    float* pb = shared_b ? shared_b : tl_pack_b.get((size_t)Kp * pstride + 16);
    alignas(64) float tg[kMaxTile];  // one register tile of dh
    if (K == 0)
      for (int i = 0; i < kMaxTile; i++) tg[i] = 0.f;
    for (long jc = 0; jc < I; jc += ncb) {
      const long nc = I - jc < ncb ? I - jc : ncb, panels = (nc + NR - 1) / NR;
      long p0 = 0, p1 = panels;
      if (!split_rows) split_range(panels, ith, nt, &p0, &p1);
      if (p0 >= p1) continue;
      if (!shared_b) pack_b_blocks(kr, pb, pstride, W, I, false, jc, nc, p0, p1, K);
      for (long ic = ic0; ic >= 0; ic = walk.next(ic)) {
        const long mc = walk.rows(ic), mr_all = (mc + MR - 1) / MR * MR;
        pack_a_blocks(kr, pa, dout, D, ic, mc, K);
        // fp32, B's panels in L2 (strip_outer_fits: the small models' K x I, not the paper config's 3 MB):
        // strip by strip, each strip across all of this thread's panels, so each tile's epilogue continues
        // along the same rows of the kept gate_up and of dgate_up (one line further per tile) instead of
        // jumping to six new rows 2I floats apart: the cpu-sudoku9 step x1.002-1.017 (median 1.008, 5
        // rounds) and cpu-sudoku4 x0.998-1.018 on Zen 2. bf16 keeps the panel-outer order its streamed
        // stores and rows-ahead hooks were tuned in.
        const bool strip_outer = !bf16 && !gate_up16 && !dgate_up16 && strip_outer_fits(Kp * (p1 - p0) * NR);
        auto tile = [&](long p, long i0) {
          const long j0 = p * NR, nr = nc - j0 < NR ? nc - j0 : NR;
          const long mr = mc - i0 < MR ? mc - i0 : MR;
          if (strip_ahead && strip_outer)  // the same tile's lines one strip down, into L2
            for (long i = i0 + MR; i < i0 + 2 * MR && i < mc; i++) {
              const long o = (ic + i) * 2 * I + jc + j0;
              __builtin_prefetch(gate_up + o, 0, 2), __builtin_prefetch(gate_up + o + I, 0, 2);
              __builtin_prefetch(dgate_up + o, 1, 2), __builtin_prefetch(dgate_up + o + I, 1, 2);
            }
          if (prefetch_rows)
            for (long i = 0; i < mr; i++) {
              const long o = (ic + i0 + i) * 2 * I + jc + j0;
              if (gate_up) prefetch_r(gate_up + o, nr), prefetch_r(gate_up + o + I, nr);
              else __builtin_prefetch(gate_up16 + o, 0, 3), __builtin_prefetch(gate_up16 + o + I, 0, 3);
              if (dgate_up16) __builtin_prefetch(dgate_up16 + o, 1, 3), __builtin_prefetch(dgate_up16 + o + I, 1, 3);
              else if (fresh) prefetch_w(dgate_up + o, nr), prefetch_w(dgate_up + o + I, nr);
              else prefetch_r(dgate_up + o, nr), prefetch_r(dgate_up + o + I, nr);
            }
          KeptRowsAhead ahead;  // the next tile in for_each_tile's order
          long pn, in;
          if (rows_ahead && next_tile(strip_outer, p, i0, p0, p1, mc, MR, &pn, &in))
            ahead.start(kr, gate_up16 + (ic + in) * 2 * I + jc + pn * NR, 2 * I, I, mc - in < MR ? mc - in : MR,
                        hook_calls);
          for (long pc = 0, koff = 0; pc < K; pc += kr.kc) {
            long kc = K - pc < kr.kc ? K - pc : kr.kc, kcp = k_slots(kc, KP);
            kr.kernel(kcp, pa + koff * mr_all + i0 * kcp, pb + koff * pstride + p * kcp * NR, tg, NR, mr, nr, 1.f,
                      pc == 0 ? 0.f : 1.f);
            koff += kcp;
          }
          ahead.stop(kr);
          if (!bf16 && !gate_up16 && !dgate_up16) {  // fp32: bitwise swiglu_backward_pair's, the whole tile at once
            const long o = (ic + i0) * 2 * I + jc + j0;
            swiglu_backward_tile(dgate_up + o, dgate_up + o + I, 2 * I, tg, NR, gate_up + o, gate_up + o + I, 2 * I,
                                 mr, nr, !fresh);
            return;
          }
          for (long i = 0; i < mr; i++) {
            const long o = (ic + i0 + i) * 2 * I + jc + j0;
            if ((gate_up16 || dgate_up16) && kr.swiglu_backward16) {
              const bool g16 = gate_up16 != nullptr, d16 = dgate_up16 != nullptr;
              kr.swiglu_backward16(d16 ? static_cast<void*>(dgate_up16 + o) : dgate_up + o,
                                   d16 ? static_cast<void*>(dgate_up16 + o + I) : dgate_up + o + I, tg + i * NR,
                                   g16 ? static_cast<const void*>(gate_up16 + o) : gate_up + o,
                                   g16 ? static_cast<const void*>(gate_up16 + o + I) : gate_up + o + I, nr, !fresh,
                                   g16, d16, stream);
              continue;
            }
            if (gate_up16 || dgate_up16) {
              alignas(64) float g32[32], u32[32], dg[32], du[32];
              const float *gp = gate_up ? gate_up + o : g32, *up = gate_up ? gate_up + o + I : u32;
              if (gate_up16) {  // the kept [G | U] in bf16, widened (exactly) for the epilogue
                from_bf16(kr, g32, gate_up16 + o, nr);
                from_bf16(kr, u32, gate_up16 + o + I, nr);
              }
              if (dgate_up16) {  // fresh dgate_up in bf16: the next products' operand, rounded as they would
                swiglu_backward_pair_bf16(dg, du, tg + i * NR, gp, up, nr, false);
                to_bf16(kr, dgate_up16 + o, dg, nr);
                to_bf16(kr, dgate_up16 + o + I, du, nr);
              } else {
                swiglu_backward_pair_bf16(dgate_up + o, dgate_up + o + I, tg + i * NR, gp, up, nr, !fresh);
              }
              continue;
            }
            (bf16 ? swiglu_backward_pair_bf16 : swiglu_backward_pair)(dgate_up + o, dgate_up + o + I, tg + i * NR,
                                                                       gate_up + o, gate_up + o + I, nr, !fresh);
          }
        };
        for_each_tile(strip_outer, p0, p1, mc, MR, tile);
      }
    }
    kept_fence();  // dgate_up's streamed rows (swiglu_backward16) are visible before the region ends
  }, use);
}

void gemm_swiglu_backward(void* dgate_up_, const float* dout, const void* gate_up_, const float* WT, long H, long N,
                          long K, long batch, bool bf16, bool fresh, bool kept16, bool d16,
                          const float* packed_wt, const void* next, long next_bytes, const float* recompute_x,
                          const float* packed_wg, const float* packed_wu) {
  if (H == 0 || N == 0 || batch == 0) return;
  kept16 = kept16 && bf16;
  d16 = d16 && bf16 && fresh;
  float* dgate_up = d16 ? nullptr : static_cast<float*>(dgate_up_);
  uint16_t* dgate_up16 = d16 ? static_cast<uint16_t*>(dgate_up_) : nullptr;
  const float* gate_up = kept16 ? nullptr : static_cast<const float*>(gate_up_);
  const uint16_t* gate_up16 = kept16 ? static_cast<const uint16_t*>(gate_up_) : nullptr;
  const GemmKernelInfo kr = active_kernel(bf16);
  const int MR = kr.mr, NR = kr.nr, KP = kr.kpack;
  const long Hr = (H + MR - 1) / MR * MR, panels = (N + NR - 1) / NR;
  long Kp = 0;
  for (long pc = 0; pc < K; pc += kr.kc) Kp += k_slots(K - pc < kr.kc ? K - pc : kr.kc, KP);
  const int nth = pool_threads();
  const bool by_item = batch >= nth;
  // streamed dgate_up, no row prefetches: why in linear_swiglu_backward. Nor with a recomputed gate_up
  // (cpu-sudoku4's S 17): then only dgate_up's rows were asked for, for writing, 12 prefetches a tile
  // just before its epilogue stores to them; without them that step ran x1.004-1.016 (four runs)
  const bool stream = d16 && 2.0 * batch * 2 * H * N > kStreamBytes, prefetch_rows = !stream && !recompute_x;
  const long hook_calls = amx_hook_calls_k(kr, K);  // (KeptRowsAhead, as in linear_swiglu_backward)
  const bool rows_ahead = stream && gate_up16 && hook_calls > 0;
  ItemClaims claims(batch, by_item);  // (as in gemm_swiglu)
  parallel_run([&](int ith, int nt) {
    long p0 = 0, p1 = panels;
    if (!by_item) split_range(panels, ith, nt, &p0, &p1);
    ItemClaims::Part items = claims.part(ith);
    long b = items.first();
    if (b < 0 || p0 >= p1) return;
    // the shared WT, packed once per thread, k block by k block (gemm_pack_a's layout), unless given
    const float* pw = packed_wt;
    if (!pw) {
      float* p = tl_prepacked_a.get((size_t)Hr * Kp + 16);
      pack_a_blocks(kr, p, WT, K, 0, H, K);
      pw = p;
    }
    float* pb = tl_pack_b.get((size_t)Kp * panels * NR + 16);
    float* px = recompute_x ? tl_pack_x.get((size_t)Kp * panels * NR + 16) : nullptr;
    alignas(64) float tg[kMaxTile], tgg[kMaxTile], tgu[kMaxTile];  // dh; recomputed G and U (recompute_x)
    if (K == 0)
      for (int i = 0; i < kMaxTile; i++) tg[i] = tgg[i] = tgu[i] = 0.f;
    // the caller's next operand, a share of its lines per register tile (part 0's tiles: one copy)
    const long next_lines = next && ith == 0 ? (next_bytes + 63) / 64 : 0;
    // (spread over the tiles of this thread's share of the items: claimed, about batch / nt)
    const long my_items = by_item ? (batch + nt - 1) / nt : batch;
    const long tiles = my_items * (p1 - p0) * (Hr / MR), next_per = tiles > 0 ? (next_lines + tiles - 1) / tiles : 0;
    long next_at = 0;
    for (; b >= 0; b = items.next(b)) {
      const float* Xb = dout + b * K * N;
      const float* gb = gate_up ? gate_up + b * 2 * H * N : nullptr;
      const uint16_t* gb16 = gate_up16 ? gate_up16 + b * 2 * H * N : nullptr;
      float* db = dgate_up ? dgate_up + b * 2 * H * N : nullptr;
      uint16_t* db16 = dgate_up16 ? dgate_up16 + b * 2 * H * N : nullptr;
      pack_b_blocks(kr, pb, panels * NR, Xb, N, false, 0, N, p0, p1, K);
      if (px) pack_b_blocks(kr, px, panels * NR, recompute_x + b * K * N, N, false, 0, N, p0, p1, K);
      const bool strip_outer = strip_outer_fits(Kp * (p1 - p0) * NR);
      // out (mr x nr, rows NR apart) = the tile at (s0, p) of a product of packed A rows (pa, laid out as
      // pw: Hr rows per k block) and packed panels (pbk, as pb), k block by k block
      auto tile_product = [&](const float* pa, const float* pbk, float* out, long p, long s0, long mr, long nr) {
        for (long pc = 0, koff = 0; pc < K; pc += kr.kc) {
          long kc = K - pc < kr.kc ? K - pc : kr.kc, kcp = k_slots(kc, KP);
          kr.kernel(kcp, pa + koff * Hr + s0 * kcp, pbk + koff * panels * NR + p * kcp * NR, out, NR, mr, nr, 1.f,
                    pc == 0 ? 0.f : 1.f);
          koff += kcp;
        }
      };
      auto tile = [&](long p, long s0) {
        const long j0 = p * NR, nr = N - j0 < NR ? N - j0 : NR, mr = H - s0 < MR ? H - s0 : MR;
        if (prefetch_rows)
          for (long i = 0; i < mr; i++) {
            const long o = (s0 + i) * N + j0;
            if (gb) prefetch_r(gb + o, nr), prefetch_r(gb + H * N + o, nr);
            else if (gb16) __builtin_prefetch(gb16 + o, 0, 3), __builtin_prefetch(gb16 + H * N + o, 0, 3);
            if (db16) __builtin_prefetch(db16 + o, 1, 3), __builtin_prefetch(db16 + H * N + o, 1, 3);
            else if (fresh) prefetch_w(db + o, nr), prefetch_w(db + H * N + o, nr);
            else prefetch_r(db + o, nr), prefetch_r(db + H * N + o, nr);
          }
        KeptRowsAhead ahead;  // the next tile in for_each_tile's order
        long pn, sn;
        if (rows_ahead && next_tile(strip_outer, p, s0, p0, p1, H, MR, &pn, &sn))
          ahead.start(kr, gb16 + sn * N + pn * NR, N, H * N, H - sn < MR ? H - sn : MR, hook_calls);
        tile_product(pw, pb, tg, p, s0, mr, nr);
        ahead.stop(kr);
        for (long e = next_at + next_per; next_at < e && next_at < next_lines; next_at++)
          __builtin_prefetch(static_cast<const char*>(next) + next_at * 64, 0, 2);
        if (px) {  // this tile's G and U made here, into L1, instead of read from a gate_up made whole
          tile_product(packed_wg, px, tgg, p, s0, mr, nr);
          tile_product(packed_wu, px, tgu, p, s0, mr, nr);
          const long o = s0 * N + j0;
          swiglu_backward_tile(db + o, db + H * N + o, N, tg, NR, tgg, tgu, NR, mr, nr, !fresh);
          return;
        }
        if (!bf16 && !gb16 && !db16) {  // fp32: bitwise swiglu_backward_pair's, the whole tile at once
          const long o = s0 * N + j0;
          swiglu_backward_tile(db + o, db + H * N + o, N, tg, NR, gb + o, gb + H * N + o, N, mr, nr, !fresh);
          return;
        }
        for (long i = 0; i < mr; i++) {
          const long o = (s0 + i) * N + j0;
          if ((gb16 || db16) && kr.swiglu_backward16) {
            const long o2 = H * N + o;
            kr.swiglu_backward16(db16 ? static_cast<void*>(db16 + o) : db + o,
                                 db16 ? static_cast<void*>(db16 + o2) : db + o2, tg + i * NR,
                                 gb16 ? static_cast<const void*>(gb16 + o) : gb + o,
                                 gb16 ? static_cast<const void*>(gb16 + o2) : gb + o2, nr, !fresh, gb16 != nullptr,
                                 db16 != nullptr, stream);
            continue;
          }
          if (gb16 || db16) {
            alignas(64) float g32[32], u32[32], dg[32], du[32];
            const float *gp = gb ? gb + o : g32, *up = gb ? gb + H * N + o : u32;
            if (gb16) {  // the kept [G; U] in bf16, widened (exactly) for the epilogue
              from_bf16(kr, g32, gb16 + o, nr);
              from_bf16(kr, u32, gb16 + H * N + o, nr);
            }
            if (db16) {  // fresh dgate_up in bf16: the next products' operand, rounded as they would
              swiglu_backward_pair_bf16(dg, du, tg + i * NR, gp, up, nr, false);
              to_bf16(kr, db16 + o, dg, nr);
              to_bf16(kr, db16 + H * N + o, du, nr);
            } else {
              swiglu_backward_pair_bf16(db + o, db + H * N + o, tg + i * NR, gp, up, nr, !fresh);
            }
            continue;
          }
          (bf16 ? swiglu_backward_pair_bf16 : swiglu_backward_pair)(db + o, db + H * N + o, tg + i * NR, gb + o,
                                                                     gb + H * N + o, nr, !fresh);
        }
      };
      for_each_tile(strip_outer, p0, p1, H, MR, tile);
    }
    kept_fence();  // dgate_up's streamed rows (swiglu_backward16) are visible before the region ends
  });
}

}  // namespace trm
