// kernel_avx2.cpp: the AVX2+FMA micro-kernel (6 x 16: 12 ymm accumulators) and FMA peak loop.
// Same rules as kernel_avx512.cpp: target pragma, C headers only.
#pragma GCC target("avx2,fma")
#include <immintrin.h>
#include <time.h>

#include "gemm.h"

namespace trm {
namespace {

constexpr int MR = 6, NR = 16;

// Every loop over the accumulator array is fully unrolled (the pragmas): with one loop left rolled
// (the edge tile's spill below) GCC kept the array in memory and stored all 12 accumulators every k
// step, which ran the tile at a quarter of the FMA peak on Zen 3 (22 vs 54 GFLOP/s, one thread).
// SB: the floats between B's k rows: NR for a packed panel, 0 for ldb (B read in place, full panels).
// AD: A read in place from a row-major A (row i at pa + i * lda) instead of a packed strip (pa[k * MR + i]).
// R: the rows computed, m's (ukr_rows): an edge strip's rows past m would be products of the pack's zero
// rows (or, read in place, of row m - 1 again), never stored; cutting them leaves each stored element's
// FMA chain, so its bits, as it was.
// COPY (kernel_copy_b): while the tile computes, cp_rows rows of the next (full) B panel are copied
// from cp_src (rows cp_ld apart) into its packed slot cp_dst (cp_dst[r * NR + j] = cp_src[r * cp_ld + j]),
// 32 bytes every 2^sh k steps spread over the k loop, through the one ymm register the tile leaves
// free, with the source rows asked for kAheadB rows ahead (cp_more: the rows that follow at that
// stride, this slice's and the next strip's). So the next panel streams in under this tile's
// FMAs instead of in a pack pass of its own (gemm.cpp, the one-A-block path). (16 rows ahead ran
// cpu-sudoku9's step 0.965x: 2 KiB-apart rows fall in two of L1's sets; 32 even; rows 32 or 64 ahead into
// L2 besides: even, in separate processes.)
constexpr long kAheadB = 8;
constexpr long kPrefetchCMinK = 96;  // (below)

// PFN (kernel_direct_a_next): no copy; cp_src, cp_ld, cp_rows: the rows asked for, cp_more the lines
// of each, a line of every row every 16 k steps from the start of the k loop.
template <long SB, bool AD, int R = MR, bool COPY = false, bool PFN = false>
inline void ukr_body(long kc, const float* __restrict pa, long lda, const float* __restrict pb, long ldb, float* c,
                     long ldc, long m, long n, float alpha, float beta, const float* __restrict cp_src = nullptr,
                     long cp_ld = 0, float* __restrict cp_dst = nullptr, long cp_rows = 0, long cp_more = 0) {
  const long sb = SB ? SB : ldb;
  const float* ar[MR] = {};
  if (AD)
#pragma GCC unroll 6
    for (int i = 0; i < R; i++) ar[i] = pa + i * lda;
  __m256 acc[R][2];
#pragma GCC unroll 6
  for (int i = 0; i < R; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  // C is touched only after the k loop: its lines are asked for now, for writing (the first and the
  // last of each row's n floats). A product's fresh output came from DRAM at the stores, the tile
  // waiting on it (Zen 2, a standalone panel loop of the paper token mixer's down forward with a cold C:
  // the copying tile 79 -> 83-84% of the peak, the plain tile 87 -> 91%). AVX-512's tile does the same.
  // Not for short k loops (the small models' k 17-82: their C mostly in cache, the prefetches' cost
  // not hidden; cpu-sudoku4's step 0.985-0.989x with them).
#pragma GCC unroll 6
  for (int i = 0; i < R; i++)
    if (i < m && kc >= kPrefetchCMinK) {
      __builtin_prefetch(c + i * ldc, 1, 3);
      __builtin_prefetch(c + i * ldc + n - 1, 1, 3);
    }
  long units = 0, sh = 0;  // COPY: 32-byte units (two a row), one every 2^sh k steps
  if (COPY) {
    units = 2 * cp_rows;
    while (units > 0 && (units << (sh + 1)) <= kc) sh++;
    for (long r = 0; r < kAheadB && r < cp_more; r++) _mm_prefetch((const char*)(cp_src + r * cp_ld), _MM_HINT_T0);
  }
  // One k step: the tile's 12 FMAs (B in place: rows of any alignment). The loops below unroll it by 4:
  // one loop's counter, compare and branch per 48 FMAs instead of per 12 (on Zen 3 the tile ran
  // 1.06-1.17x faster, kc 64 to 512, packs in L1 or B streamed from L2; standalone, 15 alternating
  // rounds). COPY and PFN run their work between runs of k steps (a copy unit, then its 2^sh steps; a
  // line of each row, then 16 steps) instead of testing on every step whether some is due, and the
  // copy goes through a ymm register (it went through four general registers while the loop was one:
  // GCC then kept the accumulators in registers only that way). Standalone panel loop on Zen 2, one
  // thread, k 512: the copying tile with a hot source 87-89 -> 92-93% of the peak, a cold one 86 -> 90%,
  // 64 rows (11 strips, more copied per tile) 84-85 -> 92-93%. The same FMAs in the same order: the
  // same bits.
  long k = 0;
  auto kstep = [&]() __attribute__((always_inline)) {
    __m256 b0 = SB ? _mm256_load_ps(pb) : _mm256_loadu_ps(pb);
    __m256 b1 = SB ? _mm256_load_ps(pb + 8) : _mm256_loadu_ps(pb + 8);
#pragma GCC unroll 6
    for (int i = 0; i < R; i++) {
      __m256 a = _mm256_broadcast_ss(AD ? ar[i] + k : pa + i);
      acc[i][0] = _mm256_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(a, b1, acc[i][1]);
    }
    if (!AD) pa += MR;
    pb += sb;
    k++;
  };
  if (COPY) {
    // unit u copied before k step u 2^sh, then its 2^sh k steps with no test per step
    const long per_unit = 1L << sh;
    for (long u = 0; u < units; u++) {
      const long r = u >> 1;
      _mm256_store_ps(cp_dst + u * 8, _mm256_loadu_ps(cp_src + r * cp_ld + (u & 1) * 8));
      if ((u & 1) == 0 && r + kAheadB < cp_more) _mm_prefetch((const char*)(cp_src + (r + kAheadB) * cp_ld), _MM_HINT_T0);
#pragma GCC unroll 4
      for (long e = k + per_unit; k < e;) kstep();
    }
  }
  if (PFN) {
    // a line of each row asked for, then 16 k steps with no test per step
    for (long l = 0; l < cp_more && k + 16 <= kc; l++) {
      const float* s = cp_src + l * 16;
#pragma GCC unroll 6
      for (int i = 0; i < MR; i++)
        if (i < cp_rows) _mm_prefetch((const char*)(s + i * cp_ld), _MM_HINT_T0);
#pragma GCC unroll 4
      for (long e = k + 16; k < e;) kstep();
    }
  }
#pragma GCC unroll 4
  for (; k < kc;) kstep();
  if (R == MR && m == MR && n == NR) {
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
    for (int i = 0; i < MR; i++) {
      float* ci = c + i * ldc;
      __m256 r0 = _mm256_mul_ps(va, acc[i][0]), r1 = _mm256_mul_ps(va, acc[i][1]);
      if (beta != 0.f) {
        r0 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci), r0);
        r1 = _mm256_fmadd_ps(vb, _mm256_loadu_ps(ci + 8), r1);
      }
      _mm256_storeu_ps(ci, r0);
      _mm256_storeu_ps(ci + 8, r1);
    }
    return;
  }
  // Edge tile: spill to a buffer, then write the valid part with the same rounding as above
  // (alpha*acc first, then one fma with beta*C) so edges and interior agree bit for bit.
  alignas(32) float t[R][NR];
  __m256 va = _mm256_set1_ps(alpha);
#pragma GCC unroll 6
  for (int i = 0; i < R; i++) {
    _mm256_store_ps(t[i], _mm256_mul_ps(va, acc[i][0]));
    _mm256_store_ps(t[i] + 8, _mm256_mul_ps(va, acc[i][1]));
  }
  for (long i = 0; i < m; i++)
    for (long j = 0; j < n; j++)
      c[i * ldc + j] = beta != 0.f ? __builtin_fmaf(beta, c[i * ldc + j], t[i][j]) : t[i][j];
}

// The body for an edge strip's m rows (R = m), the full tile otherwise.
template <long SB, bool AD, bool COPY = false, bool PFN = false>
inline void ukr_rows(long kc, const float* pa, long lda, const float* pb, long ldb, float* c, long ldc, long m, long n,
                     float alpha, float beta, const float* cp_src = nullptr, long cp_ld = 0, float* cp_dst = nullptr,
                     long cp_rows = 0, long cp_more = 0) {
#define TRM_ROWS(R) ukr_body<SB, AD, R, COPY, PFN>(kc, pa, lda, pb, ldb, c, ldc, m, n, alpha, beta, cp_src, cp_ld, cp_dst, cp_rows, cp_more)
  switch (m) {
    case 1: return TRM_ROWS(1);
    case 2: return TRM_ROWS(2);
    case 3: return TRM_ROWS(3);
    case 4: return TRM_ROWS(4);
    case 5: return TRM_ROWS(5);
    default: return TRM_ROWS(MR);
  }
#undef TRM_ROWS
}

void ukr_6x16(long kc, const float* pa, const float* pb, float* c, long ldc, long m, long n, float alpha,
              float beta) {
  ukr_rows<NR, false>(kc, pa, 0, pb, NR, c, ldc, m, n, alpha, beta);
}

// The tile on a strip of a row-major A read in place (A[i * lda + k], i < m) and a packed panel: the
// same FMAs in the same order as on the packed strip, so the same bits.
void ukr_6x16_direct_a(long kc, const float* A, long lda, const float* pb, float* c, long ldc, long m, long n,
                       float alpha, float beta) {
  ukr_rows<NR, true>(kc, A, lda, pb, NR, c, ldc, m, n, alpha, beta);
}

// The same, asking for `lines` lines of `rows` rows from `next` under its FMAs (PFN above).
void ukr_6x16_direct_a_next(long kc, const float* A, long lda, const float* pb, float* c, long ldc, long m, long n,
                            float alpha, float beta, const float* next, long ld, long rows, long lines) {
  ukr_rows<NR, true, false, true>(kc, A, lda, pb, NR, c, ldc, m, n, alpha, beta, next, ld, nullptr, rows, lines);
}

// The tile on a full panel of a row-major B read in place (B[k * ldb + j], j < NR): the same FMAs in
// the same order as on the packed panel, so the same bits.
void ukr_6x16_direct_b(long kc, const float* pa, const float* B, long ldb, float* c, long ldc, long m, long n,
                       float alpha, float beta) {
  ukr_rows<0, false>(kc, pa, 0, B, ldb, c, ldc, m, n, alpha, beta);
}

// The tile on a packed strip and panel, copying rows of the next B panel as it computes (COPY above):
// the same FMAs in the same order as ukr_6x16, so the same bits.
void ukr_copy_6x16(long kc, const float* pa, const float* pb, float* c, long ldc, long m, long n, float alpha,
                   float beta, const float* src, long ld, float* dst, long rows, long more) {
  ukr_rows<NR, false, true>(kc, pa, 0, pb, NR, c, ldc, m, n, alpha, beta, src, ld, dst, rows, more);
}

// r[j][i] = in[i][j] for 8 rows of 8 floats (unpack, shuffle, then swap 128-bit halves).
inline void transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
    u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
  }
  for (int i = 0; i < 4; i++) {
    r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
  }
}

// The first 6 floats of v at d (a 16-byte and an 8-byte store: a strip row is 24 bytes).
inline void store6(float* d, __m256 v) {
  _mm_storeu_ps(d, _mm256_castps256_ps128(v));
  _mm_storel_pi((__m64*)(d + 4), _mm256_extractf128_ps(v, 1));
}

// The packs: the same values the driver's generic packs write (gemm.cpp pack_a / pack_b), by 8 x 8
// transposes and vector copies instead of one float at a time (together 14% of cpu-sudoku4's step on
// Zen 3 when generic). Rows or columns past mr / nr are zero.

// A row-major strip (A[i*lda + k], i < mr) to dst[k*MR + i]: 8 k at a time, one transpose each.
void pack_a_rowmajor_6(float* dst, const float* A, long lda, long mr, long kc) {
  long k0 = 0;
  for (; k0 + 8 <= kc; k0 += 8) {
    __m256 r[8];
    for (int i = 0; i < 8; i++) r[i] = i < mr && i < MR ? _mm256_loadu_ps(A + i * lda + k0) : _mm256_setzero_ps();
    transpose8(r);
    for (int j = 0; j < 8; j++) store6(dst + (k0 + j) * MR, r[j]);
  }
  for (long k = k0; k < kc; k++)
    for (int i = 0; i < MR; i++) dst[k * MR + i] = i < mr ? A[i * lda + k] : 0.f;
}

// The 6 floats at s to d (a 16-byte and an 8-byte copy: one k of a strip).
inline void copy6(float* d, const float* s) {
  _mm_storeu_ps(d, _mm_loadu_ps(s));
  _mm_storel_pi((__m64*)(d + 4), _mm_castpd_ps(_mm_load_sd((const double*)(s + 4))));
}

// A transposed strip (A[k*lda + i]: a k's values adjacent) to dst[k*MR + i].
void pack_a_colmajor_6(float* dst, const float* A, long lda, long mr, long kc) {
  if (mr == MR) {
    for (long k = 0; k < kc; k++) copy6(dst + k * MR, A + k * lda);
    return;
  }
  for (long k = 0; k < kc; k++)
    for (int i = 0; i < MR; i++) dst[k * MR + i] = i < mr ? A[k * lda + i] : 0.f;
}

// A whole A block of a transposed A (A[k*lda + i], mc rows; strip s at dst + s * kc * MR), 8 k at a
// time: those 8 rows of A (mc values each, in L1 for the group) are dealt out 6 to a strip, 8 k
// (192 contiguous bytes) per strip. Strip by strip (pack_a_colmajor_6) each k gave 24 bytes of a line
// 2 KiB from the next k's (the small models' channel weight gradients: dgate_up^T, 2624 x 512): 2 KiB
// apart, a strip's 512 lines fall in 2 of L1's 64 sets, so every strip read them from L3 again (the
// pack took 60% as long as the tile's FMAs); k by k over all strips, the strips' stores (12 KiB
// apart: one L1 set) evicted each other.
void pack_a_colmajor_block_6(float* dst, const float* A, long lda, long mc, long kc) {
  constexpr long KG = 8;
  const long full = mc / MR, rest = mc - full * MR;
  for (long k0 = 0; k0 < kc; k0 += KG) {
    const long kn = kc - k0 < KG ? kc - k0 : KG;
    for (long kk = 0; kk < kn && k0 + KG + kk < kc; kk++)  // the next group's rows (their first lines)
      _mm_prefetch((const char*)(A + (k0 + KG + kk) * lda), _MM_HINT_T0);
    for (long t = 0; t < full; t++) {
      const float* s = A + k0 * lda + t * MR;
      float* d = dst + t * kc * MR + k0 * MR;
      for (long kk = 0; kk < kn; kk++, s += lda, d += MR) copy6(d, s);
    }
    if (rest)
      for (long kk = 0; kk < kn; kk++)
        for (int i = 0; i < MR; i++)
          dst[full * kc * MR + (k0 + kk) * MR + i] = i < rest ? A[(k0 + kk) * lda + full * MR + i] : 0.f;
  }
}

// An NR-column panel of a transposed B (B[j*ldb + k]) to dst[k*NR + j]: per 8 k, one transpose per
// 8 columns. A narrow panel (nr <= 4) is copied column by column over zeros (a transpose would move
// 64 floats to use at most 32).
void pack_b_colmajor_16(float* dst, const float* B, long ldb, long nr, long kc) {
  const __m256 zero = _mm256_setzero_ps();
  if (nr <= 4) {
    for (long k = 0; k < kc; k++) {
      _mm256_storeu_ps(dst + k * NR, zero);
      _mm256_storeu_ps(dst + k * NR + 8, zero);
      for (long j = 0; j < nr; j++) dst[k * NR + j] = B[j * ldb + k];
    }
    return;
  }
  long k0 = 0;
  for (; k0 + 8 <= kc; k0 += 8) {
    for (int h = 0; h < 2; h++) {
      if (h * 8 >= nr) {
        for (int k = 0; k < 8; k++) _mm256_storeu_ps(dst + (k0 + k) * NR + 8, zero);
        continue;
      }
      __m256 r[8];
      for (int j = 0; j < 8; j++) r[j] = h * 8 + j < nr ? _mm256_loadu_ps(B + (h * 8 + j) * ldb + k0) : zero;
      transpose8(r);
      for (int k = 0; k < 8; k++) _mm256_storeu_ps(dst + (k0 + k) * NR + h * 8, r[k]);
    }
  }
  for (long k = k0; k < kc; k++)
    for (int j = 0; j < NR; j++) dst[k * NR + j] = j < nr ? B[j * ldb + k] : 0.f;
}

// Panels [p0, p1) of a plain B (B[k*ldb + j], nc columns): row by row, NR floats per panel, the
// edge panel's columns past nc zero (masked loads).
void pack_b_rowmajor_16(float* dst, const float* B, long ldb, long nc, long kc, long p0, long p1) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (long k = 0; k < kc; k++) {
    const float* src = B + k * ldb;
    for (long p = p0; p < p1; p++) {
      long j0 = p * NR, nr = nc - j0 < NR ? nc - j0 : NR;
      float* d = dst + p * kc * NR + k * NR;
      if (nr == NR) {
        _mm256_storeu_ps(d, _mm256_loadu_ps(src + j0));
        _mm256_storeu_ps(d + 8, _mm256_loadu_ps(src + j0 + 8));
      } else {
        __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)nr), lane);
        __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)nr - 8), lane);
        _mm256_storeu_ps(d, _mm256_maskload_ps(src + j0, m0));
        _mm256_storeu_ps(d + 8, _mm256_maskload_ps(src + j0 + 8, m1));
      }
    }
  }
}

// bf16 rounding on 8 lanes: round_bf16_inplace's integer operations (gemm.cpp) lane by lane, so the
// same bits: nearest even, a zero exponent to signed zero, NaN quieted, infinities kept.
inline __m256i round8(__m256i u) {
  const __m256i expm = _mm256_set1_epi32(0x7f800000), hi = _mm256_set1_epi32((int)0xffff0000u);
  const __m256i e = _mm256_and_si256(u, expm);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i normal = _mm256_and_si256(_mm256_add_epi32(u, _mm256_add_epi32(_mm256_set1_epi32(0x7fff), lsb)), hi);
  const __m256i zero = _mm256_and_si256(u, _mm256_set1_epi32((int)0x80000000u));
  const __m256i mant0 = _mm256_cmpeq_epi32(_mm256_and_si256(u, _mm256_set1_epi32(0x7fffff)), _mm256_setzero_si256());
  const __m256i quiet = _mm256_and_si256(_mm256_or_si256(u, _mm256_set1_epi32(0x400000)), hi);
  const __m256i special = _mm256_blendv_epi8(quiet, u, mant0);
  __m256i r = _mm256_blendv_epi8(normal, zero, _mm256_cmpeq_epi32(e, _mm256_setzero_si256()));
  return _mm256_blendv_epi8(r, special, _mm256_cmpeq_epi32(e, expm));
}

// 16 fp32 values rounded to bf16 bits, in order.
inline __m256i pack16(const float* s) {
  const __m256i a = _mm256_srli_epi32(round8(_mm256_loadu_si256((const __m256i*)s)), 16);
  const __m256i b = _mm256_srli_epi32(round8(_mm256_loadu_si256((const __m256i*)(s + 8))), 16);
  return _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xd8);  // (packus interleaves 128-bit lanes)
}

// n fp32 values to bf16 bits (GemmKernelInfo::to_bf16): 16 at a time, the tail through a zeroed
// buffer.
void to_bf16_avx2(uint16_t* dst, const float* src, long n) {
  long j = 0;
  for (; j + 16 <= n; j += 16) _mm256_storeu_si256((__m256i*)(dst + j), pack16(src + j));
  if (j < n) {
    alignas(32) float t[16] = {};
    alignas(32) uint16_t o[16];
    for (long i = 0; i < n - j; i++) t[i] = src[j + i];
    _mm256_store_si256((__m256i*)o, pack16(t));
    for (long i = 0; i < n - j; i++) dst[j + i] = o[i];
  }
}

// bf16 bits to fp32 (exact; GemmKernelInfo::from_bf16).
void from_bf16_avx2(float* dst, const uint16_t* src, long n) {
  long j = 0;
  for (; j + 8 <= n; j += 8)
    _mm256_storeu_si256((__m256i*)(dst + j),
                        _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i*)(src + j))), 16));
  for (; j < n; j++) {
    const uint32_t u = (uint32_t)src[j] << 16;
    __builtin_memcpy(dst + j, &u, 4);
  }
}

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

}  // namespace

// round_bf16_inplace (gemm.cpp) on AVX2: it calls this for n >= 8 on AVX2 and up.
void round_bf16_avx2(float* p, long n) {
  long i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_si256((__m256i*)(p + i), round8(_mm256_loadu_si256((const __m256i*)(p + i))));
  if (i < n) {  // the tail through a buffer
    alignas(32) float t[8] = {};
    for (long j = 0; j < n - i; j++) t[j] = p[i + j];
    _mm256_store_si256((__m256i*)t, round8(_mm256_load_si256((const __m256i*)t)));
    for (long j = 0; j < n - i; j++) p[i + j] = t[j];
  }
}

// 8 x 8 blocks through transpose8, the edge rows and columns one float at a time (a plain copy: any
// order gives the same values). Against 16 x 16 blocks of scalar copies: the 512 x 64 C of a weight
// gradient's transposed halves ~4x faster.
void copy_transposed_avx2(float* dst, long ldd, const float* src, long lds, long rows, long cols) {
  const long r8 = rows & ~7L, c8 = cols & ~7L;
  for (long i0 = 0; i0 < r8; i0 += 8)
    for (long j0 = 0; j0 < c8; j0 += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + (i0 + i) * lds + j0);
      transpose8(r);
      for (int j = 0; j < 8; j++) _mm256_storeu_ps(dst + (j0 + j) * ldd + i0, r[j]);
    }
  for (long i = 0; i < rows; i++)
    for (long j = i < r8 ? c8 : 0; j < cols; j++) dst[j * ldd + i] = src[i * lds + j];
}

// r[q] (q < 4): lane i the value at k0 + q of row i, for 8 rows of a row-major A (rows 0-3 in the low
// half, 4-7 in the high), rows at or past m zero; kn < 4: only the first kn k read (masked).
inline void rows8_k4(__m256 r[4], const float* A, long lda, long m, long k0, long kn) {
  const __m128i km = _mm_cmpgt_epi32(_mm_set1_epi32((int)kn), _mm_setr_epi32(0, 1, 2, 3));
  auto row = [&](long i) {
    return i >= m ? _mm_setzero_ps() : kn >= 4 ? _mm_loadu_ps(A + i * lda + k0) : _mm_maskload_ps(A + i * lda + k0, km);
  };
  __m256 x[4];
#pragma GCC unroll 4
  for (int i = 0; i < 4; i++) x[i] = _mm256_set_m128(row(i + 4), row(i));
  const __m256 t0 = _mm256_unpacklo_ps(x[0], x[1]), t1 = _mm256_unpackhi_ps(x[0], x[1]);
  const __m256 t2 = _mm256_unpacklo_ps(x[2], x[3]), t3 = _mm256_unpackhi_ps(x[2], x[3]);
  r[0] = _mm256_shuffle_ps(t0, t2, 0x44);
  r[1] = _mm256_shuffle_ps(t0, t2, 0xee);
  r[2] = _mm256_shuffle_ps(t1, t3, 0x44);
  r[3] = _mm256_shuffle_ps(t1, t3, 0xee);
}

// A narrow panel (n <= 4 columns) of up to 16 rows read in place from a row-major A (A[i * lda + k]):
// per 4 k, the 4 k values of 8 rows are loaded and transposed in registers (two 4 x 4 transposes side
// by side), which puts the rows in the lanes, and each column takes one FMA per k for 8 rows, where
// the tile pads the panel to 16 columns and spends 12 FMAs per k on 6 rows (97 = 6 x 16 + 1: a seventh
// of the token mixer's weight gradients on padding). Lane i runs exactly the tile's chain for its row
// (a_ik * b_kj added in k order from 0, then alpha, then beta * C fused), so the bits are the tile's.
// S vectors of 8 rows side by side. (With 8 x 8 transposes GCC ran out of registers and kept the
// accumulators in memory: every FMA of a chain waited on a store and a reload, and the token mixer's
// gate_up dW spent 7% of its time here for 1% of its FMAs.)
template <int NCOL, int S>
void ukr_cols_a_rows(long kc, const float* __restrict A, long lda, const float* __restrict pb, float* c, long ldc,
                     long m, float alpha, float beta) {
  __m256 acc[S][NCOL];
#pragma GCC unroll 4
  for (int v = 0; v < S; v++)
#pragma GCC unroll 4
    for (int j = 0; j < NCOL; j++) acc[v][j] = _mm256_setzero_ps();
  for (long k0 = 0; k0 < kc; k0 += 4) {
    const long kn = kc - k0 < 4 ? kc - k0 : 4;
#pragma GCC unroll 4
    for (int v = 0; v < S; v++) {
      __m256 r[4];
      rows8_k4(r, A + v * 8 * lda, lda, m - v * 8, k0, kn);
#pragma GCC unroll 4
      for (int q = 0; q < 4; q++)
        if (q < kn)
#pragma GCC unroll 4
          for (int j = 0; j < NCOL; j++)
            acc[v][j] = _mm256_fmadd_ps(r[q], _mm256_broadcast_ss(pb + (k0 + q) * NR + j), acc[v][j]);
    }
  }
  alignas(32) float t[8];
#pragma GCC unroll 4
  for (int v = 0; v < S; v++)
#pragma GCC unroll 4
    for (int j = 0; j < NCOL; j++) {
      _mm256_store_ps(t, _mm256_mul_ps(_mm256_set1_ps(alpha), acc[v][j]));
      for (long i = 0; i < 8 && v * 8 + i < m; i++) {
        float* ci = c + (v * 8 + i) * ldc + j;
        *ci = beta != 0.f ? __builtin_fmaf(beta, *ci, t[i]) : t[i];
      }
    }
}

typedef void (*ColsAKernel)(long, const float*, long, const float*, float*, long, long, float, float);
#define TRM_COLS_A(S) {ukr_cols_a_rows<1, S>, ukr_cols_a_rows<2, S>, ukr_cols_a_rows<3, S>, ukr_cols_a_rows<4, S>}
constexpr ColsAKernel kColsA[2][4] = {TRM_COLS_A(1), TRM_COLS_A(2)};
#undef TRM_COLS_A

// GemmKernelInfo::kernel_cols_a: m <= 16 rows (gemm.cpp's groups of kColsAStrips = 2 strips: 12), n <= 4.
void ukr_cols_a_8(long kc, const float* A, long lda, const float* pb, float* c, long ldc, long m, long n, float alpha,
                  float beta) {
  kColsA[m > 8 ? 1 : 0][(n < 1 ? 1 : n > 4 ? 4 : n) - 1](kc, A, lda, pb, c, ldc, m, alpha, beta);
}

GemmKernelInfo gemm_kernel_avx2() {
  GemmKernelInfo k{ukr_6x16, pack_a_rowmajor_6, pack_b_colmajor_16, pack_a_colmajor_6, pack_b_rowmajor_16, MR, NR,
                   6 * 48, 512, 4096, "avx2 6x16"};
  k.pack_a_colmajor_block = pack_a_colmajor_block_6;
  k.kernel_direct_b = ukr_6x16_direct_b;
  k.kernel_direct_a = ukr_6x16_direct_a;
  k.kernel_direct_a_next = ukr_6x16_direct_a_next;
  k.kernel_copy_b = ukr_copy_6x16;
  k.kernel_cols_a = ukr_cols_a_8;
  k.cols_max = 4;
  k.cols_strips = 2;
  k.tail_strips = true;
  k.to_bf16 = to_bf16_avx2;
  k.from_bf16 = from_bf16_avx2;
  return k;
}

double fma_peak_avx2(double seconds) {
  __m256 x[12];
  for (int i = 0; i < 12; i++) x[i] = _mm256_set1_ps(1.0f + i * 1e-3f);
  const __m256 a = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
  long iters = 0;
  double t0 = now_s(), t;
  do {
    for (int r = 0; r < 4096; r++) {
#pragma GCC unroll 12
      for (int i = 0; i < 12; i++) x[i] = _mm256_fmadd_ps(x[i], a, b);

    }
    iters += 4096;
    t = now_s();
  } while (t - t0 < seconds);
  __m256 s = x[0];
  for (int i = 1; i < 12; i++) s = _mm256_add_ps(s, x[i]);
  __asm__ volatile("" : : "x"(s));
  return iters * 12.0 * 16.0 / (t - t0) * 1e-9;
}

}  // namespace trm
