// kernel_avx512_bf16.cpp: the bf16 path of the GEMM on AVX-512 BF16 (VDPBF16PS): operands rounded
// to bfloat16 while they are packed, products summed in fp32. The same 14 x 32 register tile as
// the fp32 kernel (28 zmm accumulators), but each packed element is a PAIR of bf16 values, two
// consecutive k, in one 32-bit slot (low half k even, high half k odd), so one VDPBF16PS does the
// work of two FMAs: acc[i][j] += a(i,k) b(k,j) + a(i,k+1) b(k+1,j).
//
//   packed A strip:  pa[kp*MR + i] = pair(a(i, 2kp), a(i, 2kp+1))   (kp < ceil(kc/2); an odd kc
//   packed B panel:  pb[kp*NR + j] = pair(b(2kp, j), b(2kp+1, j))    pads the last pair with 0)
//
// Rounding is VCVTNE2PS2BF16's: to nearest even, denormals to signed zero, NaN stays NaN (the
// reference in src/kernels/ref/gemm.ts rounds the same way). Compiled with a target pragma like
// kernel_avx512.cpp; selected at run time only when CPUID says AVX512_BF16 (cpu_features).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
// Compilers that know AMX (GCC 11+, clang 12+) also build the AMX-BF16 kernel at the end of this
// file; it runs only where CPUID, XCR0 and Linux's permission say so (cpu_features amx_usable).
#if defined(__clang__) ? (__clang_major__ >= 12) : (__GNUC__ >= 11)
#define TRM_HAVE_AMX 1
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx512bf16,avx2,fma,amx-tile,amx-bf16")
#else
#define TRM_HAVE_AMX 0
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx512bf16,avx2,fma")
#endif
#include <immintrin.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "avx512_shared.h"
#include "gemm.h"
#if defined(TRM_AMX_EMULATE) && TRM_HAVE_AMX
#include "amx_emulate.h"  // test builds: the AMX intrinsics as scalar code (tools/test-amx-emulated.mjs)
#endif

namespace trm {

// ops/swiglu_bf16_avx512.cpp
void swiglu_pair_bf16_to16_avx512(uint16_t* y, const float* g, const float* u, long n);
void swiglu_backward_pair_bf16_16_avx512(void* dg, void* du, const float* dy, const void* g, const void* u, long n,
                                         bool acc, bool g16, bool d16, bool stream);

namespace {

constexpr int MR = 14, NR = 32;

inline __m512 dp(__m512 acc, __m512i a, __m512i b) { return _mm512_dpbf16_ps(acc, (__m512bh)a, (__m512bh)b); }

void ukr_bf16_14x32(long kp, const float* __restrict pa_, const float* __restrict pb_, float* c, long ldc,
                    long m, long n, float alpha, float beta) {
  const uint32_t* pa = reinterpret_cast<const uint32_t*>(pa_);
  const uint32_t* pb = reinterpret_cast<const uint32_t*>(pb_);
  __m512 acc[MR][2];
  for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int i = 0; i < MR; i++) {
    if (i < m) {
      _mm_prefetch((const char*)(c + i * ldc), _MM_HINT_T0);
      _mm_prefetch((const char*)(c + i * ldc + 16), _MM_HINT_T0);
    }
  }
  for (long k = 0; k < kp; k++) {
    _mm_prefetch((const char*)(pb + 8 * NR), _MM_HINT_T0);
    __m512i b0 = _mm512_load_si512(pb), b1 = _mm512_load_si512(pb + 16);
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++) {
      __m512i a = _mm512_set1_epi32((int)pa[i]);
      acc[i][0] = dp(acc[i][0], a, b0);
      acc[i][1] = dp(acc[i][1], a, b1);
    }
    pa += MR;
    pb += NR;
  }
  __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  __mmask16 m0 = n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1);
  __mmask16 m1 = n >= 32 ? (__mmask16)0xffff : n <= 16 ? (__mmask16)0 : (__mmask16)((1u << (n - 16)) - 1);
#pragma GCC unroll 14
  for (int i = 0; i < MR; i++) {
    if (i >= m) break;
    float* ci = c + i * ldc;
    __m512 r0 = _mm512_mul_ps(va, acc[i][0]), r1 = _mm512_mul_ps(va, acc[i][1]);
    if (beta != 0.f) {
      r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, ci), r0);
      r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, ci + 16), r1);
    }
    _mm512_mask_storeu_ps(ci, m0, r0);
    _mm512_mask_storeu_ps(ci + 16, m1, r1);
  }
}

// A narrow panel (n <= 4 columns) of up to eight consecutive packed strips (m <= 8 * MR rows, strip
// t at pa + t * kp * MR) with the rows in the lanes, as kernel_avx512.cpp's ukr_cols: per k pair and
// strip, one load of the strip's MR pairs and one VDPBF16PS per column (the column's pair
// broadcast), where the tile spends MR of them on 32 columns (the token mixer's weight gradient,
// 97 = 3 x 32 + 1 columns, spent a quarter of its time on the last one). Lane i runs the tile's
// chain for its row: A's pairs as the first operand, B's as the second, in the same k order, then
// alpha times the sum and beta * C fused, as the tile's epilogue: the same bits.
template <int NCOL, int S>
void ukr_cols_bf16(long kp, const float* __restrict pa_, const float* __restrict pb_, float* c, long ldc, long m,
                   float alpha, float beta) {
  const uint32_t* pa = reinterpret_cast<const uint32_t*>(pa_);
  const uint32_t* pb = reinterpret_cast<const uint32_t*>(pb_);
  __mmask16 valid[S];  // the strips' rows below m
  for (int t = 0; t < S; t++) valid[t] = lanes_below(m - t * MR < MR ? m - t * MR : MR);
  __m512 acc[S][NCOL];
  for (int t = 0; t < S; t++)
    for (int j = 0; j < NCOL; j++) acc[t][j] = _mm512_setzero_ps();
  for (long k = 0; k < kp; k++) {
    __m512i b[NCOL];
    for (int j = 0; j < NCOL; j++) b[j] = _mm512_set1_epi32((int)pb[k * NR + j]);
#pragma GCC unroll 8
    for (int t = 0; t < S; t++) {
      const __m512i a = _mm512_maskz_loadu_epi32(valid[t], pa + t * kp * MR + k * MR);
      for (int j = 0; j < NCOL; j++) acc[t][j] = dp(acc[t][j], a, b[j]);
    }
  }
  const __m512i rows = lane_rows(ldc);
  for (int t = 0; t < S; t++)
    for (int j = 0; j < NCOL; j++) store_lanes(c + t * MR * ldc + j, rows, valid[t], acc[t][j], alpha, beta);
}

typedef void (*ColsKernelBf16)(long, const float*, const float*, float*, long, long, float, float);
#define TRM_COLS_BF16(S) {ukr_cols_bf16<1, S>, ukr_cols_bf16<2, S>, ukr_cols_bf16<3, S>, ukr_cols_bf16<4, S>}
constexpr ColsKernelBf16 kColsBf16[8][4] = {TRM_COLS_BF16(1), TRM_COLS_BF16(2), TRM_COLS_BF16(3), TRM_COLS_BF16(4),
                                            TRM_COLS_BF16(5), TRM_COLS_BF16(6), TRM_COLS_BF16(7), TRM_COLS_BF16(8)};

void ukr_cols_bf16_14(long kp, const float* pa, const float* pb, float* c, long ldc, long m, long n, float alpha,
                      float beta) {
  narrow_kernel(kColsBf16, (m + MR - 1) / MR, n)(kp, pa, pb, c, ldc, m, alpha, beta);
}

// 32 consecutive k of one row (rem of them valid) -> 16 pairs (k 2t, 2t+1) in the 32-bit lanes.
inline __m512 pairs_contig(const float* p, long rem) {
  __m512 lo = _mm512_maskz_loadu_ps(lanes_below(rem), p), hi = _mm512_maskz_loadu_ps(lanes_below(rem - 16), p + 16);
  return _mm512_castsi512_ps((__m512i)_mm512_cvtne2ps_pbh(hi, lo));
}

// Two rows of 16 values (k even in x0, k odd in x1) -> lane t = pair(x0[t], x1[t]).
inline __m512i pairs_interleave(__m512 x0, __m512 x1) {
  const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22, 6, 21, 5,
                                       20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  return _mm512_permutexvar_epi16(idx, (__m512i)_mm512_cvtne2ps_pbh(x1, x0));
}

inline __mmask32 mask32(long n) { return n >= 32 ? (__mmask32)0xffffffffu : n <= 0 ? (__mmask32)0 : (__mmask32)((1u << n) - 1); }

// 32 consecutive bf16 k of one row (rem valid; an odd tail's partner is 0) = 16 pairs: an operand
// stored in bf16 (GemmArgs a16 / b16) already holds them in memory.
inline __m512 pairs_contig(const uint16_t* p, long rem) {
  return _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(mask32(rem), p));
}

// A row-major (A[i*lda + k]): per 32 k, each row's 16 pairs, transposed so pairs run over rows.
// T: float (rounded while packing) or uint16_t (stored bf16), through pairs_contig.
template <class T>
void pack_a_rowmajor_bf16(float* dst, const T* A, long lda, long mr, long kc) {
  const __mmask16 keep = (__mmask16)((1u << MR) - 1);
  for (long k0 = 0; k0 < kc; k0 += 32) {
    long rem = kc - k0, np = rem >= 32 ? 16 : (rem + 1) / 2;
    __m512 r[16];
    for (int i = 0; i < 16; i++) r[i] = i < mr ? pairs_contig(A + i * lda + k0, rem) : _mm512_setzero_ps();
    transpose16(r);
    for (long t = 0; t < np; t++) _mm512_mask_storeu_ps(dst + (k0 / 2 + t) * MR, keep, r[t]);
  }
}

// B stored transposed (B[j*ldb + k]): the same per column, two halves of 16 columns.
template <class T>
void pack_b_colmajor_bf16(float* dst, const T* B, long ldb, long nr, long kc) {
  for (long k0 = 0; k0 < kc; k0 += 32) {
    long rem = kc - k0, np = rem >= 32 ? 16 : (rem + 1) / 2;
    for (int h = 0; h < 2; h++) {
      __m512 r[16];
      for (int j = 0; j < 16; j++) {
        long jj = h * 16 + j;
        r[j] = jj < nr ? pairs_contig(B + jj * ldb + k0, rem) : _mm512_setzero_ps();
      }
      transpose16(r);
      for (long t = 0; t < np; t++) _mm512_store_ps(dst + (k0 / 2 + t) * NR + h * 16, r[t]);
    }
  }
}

// A stored transposed (A[k*lda + i]): rows k and k+1 of memory interleaved.
void pack_a_colmajor_bf16(float* dst, const float* A, long lda, long mr, long kc) {
  const __mmask16 m = lanes_below(mr), keep = (__mmask16)((1u << MR) - 1);
  for (long k = 0; k < kc; k += 2) {
    __m512 x0 = _mm512_maskz_loadu_ps(m, A + k * lda);
    __m512 x1 = k + 1 < kc ? _mm512_maskz_loadu_ps(m, A + (k + 1) * lda) : _mm512_setzero_ps();
    _mm512_mask_storeu_epi32(dst + (k / 2) * MR, keep, pairs_interleave(x0, x1));
  }
}

// Plain B (B[k*ldb + j]), panels [p0, p1) of nc columns, two rows of memory at a time.
void pack_b_rowmajor_bf16(float* dst, const float* B, long ldb, long nc, long kc, long p0, long p1) {
  const long kp = (kc + 1) / 2;
  for (long k = 0; k < kc; k += 2) {
    const float* s0 = B + k * ldb;
    const float* s1 = s0 + ldb;
    bool odd = k + 1 < kc;
    for (long p = p0; p < p1; p++) {
      long j0 = p * NR, nr = nc - j0 < NR ? nc - j0 : NR;
      float* d = dst + p * kp * NR + (k / 2) * NR;
      for (int h = 0; h < 2; h++) {
        __mmask16 mk = lanes_below(nr - h * 16);
        __m512 x0 = _mm512_maskz_loadu_ps(mk, s0 + j0 + h * 16);
        __m512 x1 = odd ? _mm512_maskz_loadu_ps(mk, s1 + j0 + h * 16) : _mm512_setzero_ps();
        _mm512_store_si512(d + h * 16, pairs_interleave(x0, x1));
      }
    }
  }
}

// ---- packs from bf16-stored operands (GemmArgs a16 / b16): the pairs are already in memory ----


// 16 bf16 of two rows (k even in p0, k odd in p1, or 0) -> lane t = pair(p0[t], p1[t]).
inline __m512i pairs_interleave16(const uint16_t* p0, const uint16_t* p1, __mmask16 m) {
  __m512i lo = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p0));
  if (!p1) return lo;
  __m512i hi = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p1));
  return _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16));
}

void pack_a_colmajor_bf16_16(float* dst, const uint16_t* A, long lda, long mr, long kc) {
  const __mmask16 m = lanes_below(mr), keep = (__mmask16)((1u << MR) - 1);
  for (long k = 0; k < kc; k += 2) {
    __m512i x = pairs_interleave16(A + k * lda, k + 1 < kc ? A + (k + 1) * lda : nullptr, m);
    _mm512_mask_storeu_epi32(dst + (k / 2) * MR, keep, x);
  }
}

// A panel row of 32 columns from two rows of memory (k even in p0, k odd in p1 or 0): one 64-byte
// load per row and one two-source word permute per 16 columns (VPERMT2W), where widening each half
// took four conversions, two shifts and two ORs: the pack of a bf16 h / dgate_up (the token mixer's
// down and dX products) is on their critical path.
void pack_b_rowmajor_bf16_16(float* dst, const uint16_t* B, long ldb, long nc, long kc, long p0, long p1) {
  const long kp = (kc + 1) / 2;
  // word 2t of the result = word t of row 0, word 2t + 1 = word t of row 1 (index 32 + t)
  const __m512i lo = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8, 39, 7, 38, 6, 37,
                                      5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
  const __m512i hi = _mm512_add_epi16(lo, _mm512_set1_epi16(16));
  for (long k = 0; k < kc; k += 2) {
    const uint16_t* s0 = B + k * ldb;
    const bool odd = k + 1 < kc;
    for (long p = p0; p < p1; p++) {
      long j0 = p * NR, nr = nc - j0 < NR ? nc - j0 : NR;
      float* d = dst + p * kp * NR + (k / 2) * NR;
      const __mmask32 mk = mask32(nr);
      const __m512i r0 = _mm512_maskz_loadu_epi16(mk, s0 + j0);
      const __m512i r1 = odd ? _mm512_maskz_loadu_epi16(mk, s0 + ldb + j0) : _mm512_setzero_si512();
      _mm512_store_si512(d, _mm512_permutex2var_epi16(r0, lo, r1));
      _mm512_store_si512(d + 16, _mm512_permutex2var_epi16(r0, hi, r1));
    }
  }
}

// fp32 -> bf16 by VCVTNEPS2BF16 (the packs' rounding), and back (exact).
void to_bf16_avx512(uint16_t* dst, const float* src, long n) {
  long j = 0;
  // 32 at a time through one VCVTNE2PS2BF16 (it rounds as VCVTNEPS2BF16: the same bits, half the
  // conversions)
  for (; j + 32 <= n; j += 32)
    _mm512_storeu_si512(dst + j, (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + j + 16), _mm512_loadu_ps(src + j)));
  for (; j + 16 <= n; j += 16)
    _mm256_storeu_si256((__m256i*)(dst + j), (__m256i)_mm512_cvtneps_pbh(_mm512_loadu_ps(src + j)));
  if (j < n) {
    __mmask16 m = lanes_below(n - j);
    _mm256_mask_storeu_epi16(dst + j, m, (__m256i)_mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(m, src + j)));
  }
}

// The kept pre-activation's streamed rows: one conversion, one non-temporal 64-byte store (the driver
// streamed a 64-byte buffer in four 16-byte pieces before; the same bits).
void to_bf16_line_nt_avx512(uint16_t* dst, const float* src) {
  _mm512_stream_si512(reinterpret_cast<__m512i*>(dst),
                      (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + 16), _mm512_loadu_ps(src)));
}

void from_bf16_avx512(float* dst, const uint16_t* src, long n) {
  for (long j = 0; j < n; j += 16) {
    __mmask16 m = lanes_below(n - j);
    __m512i x = _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, src + j)), 16);
    _mm512_mask_storeu_ps(dst + j, m, _mm512_castsi512_ps(x));
  }
}

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

}  // namespace

GemmKernelInfo gemm_kernel_avx512_bf16() {
  GemmKernelInfo k{ukr_bf16_14x32, pack_a_rowmajor_bf16<float>, pack_b_colmajor_bf16<float>, pack_a_colmajor_bf16,
                   pack_b_rowmajor_bf16, MR, NR, 14 * 24, 1024, 4096, "avx512_bf16 14x32 (vdpbf16ps)"};
  k.kpack = 2;
  k.pack_a_rowmajor16 = pack_a_rowmajor_bf16<uint16_t>;
  k.pack_b_colmajor16 = pack_b_colmajor_bf16<uint16_t>;
  k.pack_a_colmajor16 = pack_a_colmajor_bf16_16;
  k.pack_b_rowmajor16 = pack_b_rowmajor_bf16_16;
  k.to_bf16 = to_bf16_avx512;
  k.to_bf16_line_nt = to_bf16_line_nt_avx512;
  k.from_bf16 = from_bf16_avx512;
  k.swiglu_to16 = swiglu_pair_bf16_to16_avx512;
  k.swiglu_backward16 = swiglu_backward_pair_bf16_16_avx512;
  k.kernel_cols = ukr_cols_bf16_14;
  k.cols_max = 4;
  k.cols_strips = 8;
  return k;
}

double bf16_peak_avx512(double seconds) {
  // 16 independent VDPBF16PS chains; each instruction is 16 lanes x 2 products x 2 flops.
  __m512 x[16];
  for (int i = 0; i < 16; i++) x[i] = _mm512_set1_ps(1.0f + i * 1e-3f);
  const __m512i a = (__m512i)_mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(1e-3f));
  const __m512i b = (__m512i)_mm512_cvtne2ps_pbh(_mm512_set1_ps(-1e-3f), _mm512_set1_ps(1e-3f));
  long iters = 0;
  double t0 = now_s(), t;
  do {
    for (int r = 0; r < 4096; r++) {
#pragma GCC unroll 16
      for (int i = 0; i < 16; i++) x[i] = dp(x[i], a, b);
    }
    iters += 4096;
    t = now_s();
  } while (t - t0 < seconds);
  float sink = 0;
  for (int i = 0; i < 16; i++) sink += _mm512_reduce_add_ps(x[i]);
  __asm__ volatile("" : : "x"(sink));
  return iters * 16.0 * 64.0 / (t - t0) * 1e-9;
}


// ---- AMX-BF16 (Intel Sapphire Rapids and later) ---------------------------------------------------
// The same bf16 pairs, summed by the tile unit: TDPBF16PS multiplies a 16 x 32 bf16 tile of A by a
// 32 x 16 tile of B (16 rows of 16 pairs) into a 16 x 16 fp32 tile, 8192 multiply-adds per
// instruction. Register tile 32 x 32 = four C tiles (2 x 2); per 16 k pairs two A tiles and two B
// tiles (ukr_amx_32x32). B is packed exactly as for VDPBF16PS above (a panel row per k pair, 32
// columns = two tiles of 64 bytes side by side). A differs: a tile row is one row of A, so the
// strip (32 rows, kcp = ceil(kc/2) pairs) is packed tile by tile: for each 16 pairs, rows 0-15 then
// rows 16-31, 64 bytes a row, so that every A tile is 1 KB of consecutive memory (amx_a_at); the
// pairs past the last whole 16 follow row by row (kcp mod 16 a row). Packed row by row (a tile's
// rows kcp * 4 bytes apart, 1 KB for kc 512: 16 lines in 4 L1 sets, 32 streams) the kernel alone
// ran 1.16x slower on a channel product's layout, the products 1.00-1.09x.
// A block whose k pairs are not a multiple of 16 (the token mixer's K = 97) runs the remainder
// through tiles shaped to it (ukr_amx_rem). Tile registers are not renamed and the configuration
// (shapes) is per thread, loaded only when the remainder changes. Every C element is summed by one
// thread in a fixed order: bits do not depend on the thread count, but differ from the VDPBF16PS
// kernel's (another order of the k-sum).
#if TRM_HAVE_AMX
namespace {

constexpr int AMX_MR = 32;

struct TileConfig {
  uint8_t palette, start_row, reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

// The kernel's per-thread state, in one thread_local: in a shared object each thread_local costs a
// __tls_get_addr call where it is read, and the kernel reads this once per call.
// tile_rem: the loaded configuration: 0 = eight full tiles (16 rows of 64 bytes; the 32 x 32 tile),
// rem > 0 = the 16 x 32 tile's layout with tiles 5-7 shaped to a remainder of rem k pairs, -1: none
// loaded. hook, hook_ctx: the step hook (GemmKernelInfo::set_step_hook).
struct AmxThreadState {
  int tile_rem = -1;
  void (*hook)(void*) = nullptr;
  void* hook_ctx = nullptr;
};
thread_local AmxThreadState tl_amx;

void amx_set_step_hook(void (*fn)(void*), void* ctx) {
  AmxThreadState& st = tl_amx;
  st.hook = fn;
  st.hook_ctx = ctx;
}

void tile_configure(int rem) {
  TileConfig c;
  memset(&c, 0, sizeof c);
  c.palette = 1;
  for (int t = 0; t < 8; t++) c.rows[t] = 16, c.colsb[t] = 64;
  if (rem) {
    c.rows[5] = 16, c.colsb[5] = (uint16_t)(rem * 4);  // A: 16 rows of rem pairs
    c.rows[6] = c.rows[7] = (uint8_t)rem, c.colsb[6] = c.colsb[7] = 64;  // B: rem pair rows
  }
  _tile_loadconfig(&c);
  tl_amx.tile_rem = rem;
}

// C[0:m, 0:n] = alpha * sum + beta * C from the fp32 tile t (row stride NR), the rows below m.
inline void amx_epilogue(const float* t, float* c, long ldc, long m, long n, float alpha, float beta) {
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const __mmask16 m0 = lanes_below(n), m1 = lanes_below(n - 16);
  for (long i = 0; i < m; i++) {
    float* ci = c + i * ldc;
    __m512 r0 = _mm512_mul_ps(va, _mm512_load_ps(t + i * NR)), r1 = _mm512_mul_ps(va, _mm512_load_ps(t + i * NR + 16));
    if (beta != 0.f) {
      r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, ci), r0);
      r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, ci + 16), r1);
    }
    _mm512_mask_storeu_ps(ci, m0, r0);
    _mm512_mask_storeu_ps(ci + 16, m1, r1);
  }
}

// k steps [0, steps) of a 16 x 32 tile: C tiles c0, c1 += A tile a (16 rows from pa, row stride sa
// bytes, the next 16 pairs ka bytes on) times B tiles b0, b1 (the panel's two 16-column halves).
// A macro: GCC's tile intrinsics paste the tile number into their assembly, so it must be a literal.
#define AMX_STEPS_16X32(c0, c1, a, b0, b1, pa, sa, ka, pb, steps)  \
  for (long s_ = 0; s_ < (steps); s_++) {                         \
    _tile_loadd(a, (pa) + s_ * (ka), (sa));                       \
    _tile_loadd(b0, (pb) + s_ * 16 * 128, 128);                   \
    _tile_loadd(b1, (pb) + s_ * 16 * 128 + 64, 128);              \
    _tile_dpbf16ps(c0, a, b0);                                    \
    _tile_dpbf16ps(c1, a, b1);                                    \
  }

// Bytes in the packed strip (32 rows of kp pairs, the layout above): the 16 x 16-pair tile of rows
// h..h+15 at 16-pair step s (h 0 or 16), and the remainder (kp mod 16 pairs a row) after the whole steps.
constexpr long AMX_A_STEP = AMX_MR * 64, AMX_A_HALF = 16 * 64;
inline long amx_a_at(long s, long h) { return s * AMX_A_STEP + (h ? AMX_A_HALF : 0); }
inline long amx_a_rem(long kp) { return kp / 16 * AMX_A_STEP; }

// A k-pair count with a remainder (kp mod 16 != 0; the token mixer's K = 97): each 16-row half of
// the strip as a 16 x 32 tile, two C tiles (tmm0, tmm1), one A tile (tmm2) and two B tiles (tmm3,
// tmm4) per 16 pairs, the last rem pairs through tiles 5-7 shaped to them.
void ukr_amx_rem(long kp, const char* pa, const char* pb, float* c, long ldc, long m, long n, float alpha,
                 float beta) {
  const long full = kp / 16, rem = kp % 16;
  alignas(64) float t[AMX_MR * NR];
  for (long h = 0; h < m; h += 16) {
    _tile_zero(0);
    _tile_zero(1);
    AMX_STEPS_16X32(0, 1, 2, 3, 4, pa + amx_a_at(0, h), 64, AMX_A_STEP, pb, full);
    AMX_STEPS_16X32(0, 1, 5, 6, 7, pa + amx_a_rem(kp) + h * rem * 4, rem * 4, 0, pb + full * 16 * 128,
                    1);  // the remainder's tiles
    _tile_stored(0, t + h * NR, NR * 4);
    _tile_stored(1, t + h * NR + 16, NR * 4);
  }
  amx_epilogue(t, c, ldc, m, n, alpha, beta);
}

// The k pair left after whole 16-pair steps (kp mod 16 == 1: the token mixer's K = 97, 48 pairs and one),
// summed into the m x n fp32 sums at t (rows ldt apart) by FMAs, after the tiles: t(i, j) += a(i) b(j)
// for the pair's even k, then for its odd k (each bf16 widened exactly, so each FMA rounds once). An odd
// K's last pair has a zero partner: the same bits as the remainder tile gave (the training step's
// hashes are unchanged); an even K's may differ in the last bit. pa: the strip's first row at that
// pair, rows sa bytes apart (4: the remainder rows of the packed strip); pb: the panel's row for it
// (32 lane pairs). 128 FMAs for a 32 x 32 tile,
// where the remainder layout (ukr_amx_rem) ran each 16-row half with extra tile loads and switched the
// tile configuration (the token mixer's gate_up, K 97, B 64: 1.3-1.45x on 1 thread, 1.16-1.22x on 2).
inline void amx_last_pair(float* t, long ldt, const char* pa, long sa, const char* pb, long m, long n) {
  const __m512i hi = _mm512_set1_epi32((int)0xffff0000u);
  const __m512i b0 = _mm512_loadu_si512(pb), b1 = _mm512_loadu_si512(pb + 64);
  const __m512 be0 = _mm512_castsi512_ps(_mm512_slli_epi32(b0, 16));
  const __m512 bo0 = _mm512_castsi512_ps(_mm512_and_si512(b0, hi));
  const __m512 be1 = _mm512_castsi512_ps(_mm512_slli_epi32(b1, 16));
  const __m512 bo1 = _mm512_castsi512_ps(_mm512_and_si512(b1, hi));
  const __mmask16 m0 = lanes_below(n), m1 = lanes_below(n - 16);
  for (long i = 0; i < m; i++) {
    uint32_t pair;
    memcpy(&pair, pa + i * sa, 4);
    const uint32_t even = pair << 16, odd = pair & 0xffff0000u;
    float ae, ao;
    memcpy(&ae, &even, 4);
    memcpy(&ao, &odd, 4);
    const __m512 va = _mm512_set1_ps(ae), vo = _mm512_set1_ps(ao);
    float* ti = t + i * ldt;
    __m512 r0 = _mm512_maskz_loadu_ps(m0, ti), r1 = _mm512_maskz_loadu_ps(m1, ti + 16);
    r0 = _mm512_fmadd_ps(vo, bo0, _mm512_fmadd_ps(va, be0, r0));
    r1 = _mm512_fmadd_ps(vo, bo1, _mm512_fmadd_ps(va, be1, r1));
    _mm512_mask_storeu_ps(ti, m0, r0);
    _mm512_mask_storeu_ps(ti + 16, m1, r1);
  }
}

// A read prefetch into L1 that the compiler cannot drop: a volatile asm is never deleted, where a
// loop of nothing but _mm_prefetch may be (see ukr_amx_32x32's prefetch_c_below).
inline void prefetch_t0_kept(const void* p) { __asm__ volatile("prefetcht0 %0" : : "m"(*static_cast<const char*>(p))); }

// The register tile: 32 x 32 = four C tiles (tmm0-3, 2 x 2), per 16 k pairs two A tiles (tmm4, 5:
// rows 0-15 and 16-31 of the strip) and two B tiles (tmm6, 7: the panel's columns 0-15, 16-31),
// four TDPBF16PS for four tile loads (the 16 x 32 tile needed three loads for two). A strip of at
// most 16 rows (the token mixer's 97 = 3 x 32 + 1) runs the top half only. A full tile with alpha
// 1 and beta 0 or 1 sums in C itself: the tiles start from C (beta 1: loaded; 0: zero) and are stored
// straight back, so the epilogue pass through an L1 buffer is gone; other tiles go through it.
void ukr_amx_32x32(long kp, const float* __restrict pa_, const float* __restrict pb_, float* c, long ldc, long m,
                   long n, float alpha, float beta) {
  const int rem = (int)(kp % 16);
  const bool last_pair = rem == 1 && kp > 16;  // the whole steps as 2 x 2 tiles, then amx_last_pair
  const int shape = last_pair ? 0 : rem;
  const AmxThreadState st = tl_amx;  // (one thread-local read per call)
  if (st.tile_rem != shape) tile_configure(shape);
  const char* pa = reinterpret_cast<const char*>(pa_);
  const char* pb = reinterpret_cast<const char*>(pb_);
  if (shape) {
    ukr_amx_rem(kp, pa, pb, c, ldc, m, n, alpha, beta);
    return;
  }
  const long full = kp / 16;
  const bool two = m > 16;
  const bool direct = alpha == 1.f && (beta == 0.f || beta == 1.f) && n == NR && (m == 16 || m == 32);
  const long sc = ldc * 4;
  if (direct && beta == 1.f) {
    _tile_loadd(0, c, sc);
    _tile_loadd(1, c + 16, sc);
    if (two) {
      _tile_loadd(2, c + 16 * ldc, sc);
      _tile_loadd(3, c + 16 * ldc + 16, sc);
    }
  } else {
    _tile_zero(0);
    _tile_zero(1);
    if (two) {
      _tile_zero(2);
      _tile_zero(3);
    }
  }
  // The C tile below this one (the driver's next call: the next strip of the same panel), fetched
  // while this one computes: a tile store to cold C lines, 32 rows a page apart, waited for every
  // miss (the channel products' C, 12-25 MB, ran 30% slower without it). (PREFETCHW, for writing,
  // ran the kernel alone 1.19-1.31x faster on a channel product's C, whose rows 12 KB apart share
  // L1 sets, but the products only 1.00-1.02x, and the fused token mixer, whose C is an L1 buffer,
  // 0.91-0.95x: not kept.)
  const long rows_per = (AMX_MR + full - 1) / (full > 0 ? full : 1);
  const float* cn = c + AMX_MR * ldc;
  if (two) {
    // Software-pipelined: each operand tile of step s + 1 is loaded right after the last product of
    // step s that reads it (A top after the first two, B left after the third, the rest after the
    // fourth), so the tile unit, which takes them in program order, finds them loaded when step s + 1
    // starts (loading all four at the top of each step made its first product wait for two loads:
    // 1.06-1.17x on the standalone loop). The products and their order per C tile are unchanged.
    // (PREFETCHT0 as volatile asm: GCC 12 -O3 compiled this loop of _mm_prefetch to nothing once it
    // moved into this lambda with the pipelining, 5aa702b; objdump counted no prefetch in the kernel)
    auto prefetch_c_below = [&](long s) {
      for (long r = s * rows_per; r < (s + 1) * rows_per && r < AMX_MR; r++) {
        prefetch_t0_kept(cn + r * ldc);
        prefetch_t0_kept(cn + r * ldc + 16);
      }
    };
    void (*const hook)(void*) = st.hook;
    void* const hook_ctx = st.hook_ctx;
    _tile_loadd(4, pa + amx_a_at(0, 0), 64);
    _tile_loadd(6, pb, 128);
    _tile_loadd(7, pb + 64, 128);
    _tile_loadd(5, pa + amx_a_at(0, 16), 64);
    for (long s = 0; s + 1 < full; s++) {
      prefetch_c_below(s);
      const long n = s + 1;
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
      _tile_loadd(4, pa + amx_a_at(n, 0), 64);
      _tile_dpbf16ps(2, 5, 6);
      _tile_loadd(6, pb + n * 16 * 128, 128);
      _tile_dpbf16ps(3, 5, 7);
      _tile_loadd(7, pb + n * 16 * 128 + 64, 128);
      _tile_loadd(5, pa + amx_a_at(n, 16), 64);
      if (hook) hook(hook_ctx);
    }
    prefetch_c_below(full - 1);
    _tile_dpbf16ps(0, 4, 6);
    _tile_dpbf16ps(1, 4, 7);
    _tile_dpbf16ps(2, 5, 6);
    _tile_dpbf16ps(3, 5, 7);
  } else {
    AMX_STEPS_16X32(0, 1, 4, 6, 7, pa + amx_a_at(0, 0), 64, AMX_A_STEP, pb, full);
  }
  if (direct) {
    _tile_stored(0, c, sc);
    _tile_stored(1, c + 16, sc);
    if (two) {
      _tile_stored(2, c + 16 * ldc, sc);
      _tile_stored(3, c + 16 * ldc + 16, sc);
    }
    if (last_pair) amx_last_pair(c, ldc, pa + amx_a_rem(kp), 4, pb + full * 16 * 128, m, n);
    return;
  }
  alignas(64) float t[AMX_MR * NR];
  _tile_stored(0, t, NR * 4);
  _tile_stored(1, t + 16, NR * 4);
  if (two) {
    _tile_stored(2, t + 16 * NR, NR * 4);
    _tile_stored(3, t + 16 * NR + 16, NR * 4);
  }
  if (last_pair) amx_last_pair(t, NR, pa + amx_a_rem(kp), 4, pb + full * 16 * 128, m, n);
  amx_epilogue(t, c, ldc, m, n, alpha, beta);
}

// Where row i's pairs t0..t0+15 go in the packed strip (t0 a multiple of 16; the layout above).
inline float* amx_a_row(float* dst, long kcp, long i, long t0) {
  const long full = kcp / 16;
  return t0 < full * 16 ? dst + (amx_a_at(t0 / 16, i & 16) + (i & 15) * 64) / 4 : dst + amx_a_rem(kcp) / 4 + i * (kcp % 16);
}

// A row-major (A[i*lda + k]): each row's k pairs where the row's tile row reads them. T: float
// (rounded while packing) or uint16_t (a bf16-stored A, GemmArgs a16: the pairs already in memory).
template <class T>
void pack_a_rowmajor_amx(float* dst, const T* A, long lda, long mr, long kc) {
  const long kcp = (kc + 1) / 2;
  for (long i = 0; i < AMX_MR; i++) {
    const T* src = A + i * lda;
    for (long k0 = 0; k0 < kc; k0 += 32) {
      const long rem = kc - k0, np = rem >= 32 ? 16 : (rem + 1) / 2;
      const __m512 v = i < mr ? pairs_contig(src + k0, rem) : _mm512_setzero_ps();
      _mm512_mask_storeu_ps(amx_a_row(dst, kcp, i, k0 / 2), lanes_below(np), v);
    }
  }
}

// Lane i = pair(x0[i], x1[i]) of two k rows of 16 values (masked by m; no x1: the odd k past the
// end, a zero partner). fp32 rows are rounded to bf16; bf16 rows are already the pair's halves.
inline __m512 pair_rows(const float* x0, const float* x1, __mmask16 m) {
  return _mm512_castsi512_ps(
      pairs_interleave(_mm512_maskz_loadu_ps(m, x0), x1 ? _mm512_maskz_loadu_ps(m, x1) : _mm512_setzero_ps()));
}
inline __m512 pair_rows(const uint16_t* x0, const uint16_t* x1, __mmask16 m) {
  return _mm512_castsi512_ps(pairs_interleave16(x0, x1, m));
}

// A stored transposed (A[k*lda + i]), one strip's pairs t0..t0+15 (t0 a multiple of 16): per 16
// rows, the 16 k pairs interleaved over the rows, then transposed so that each row's pairs are
// contiguous. T: float (rounded while packing) or uint16_t (a bf16-stored A: no widening to fp32 first).
template <class T>
inline void pack_a_colmajor_amx_group(float* dst, const T* A, long lda, long mr, long kc, long t0) {
  const long kcp = (kc + 1) / 2, np = kcp - t0 < 16 ? kcp - t0 : 16;
  for (long h = 0; h < AMX_MR; h += 16) {
    const long mh = mr - h < 0 ? 0 : mr - h < 16 ? mr - h : 16;
    const __mmask16 m = lanes_below(mh);
    __m512 r[16];
    for (long t = 0; t < 16; t++) {
      const long k = 2 * (t0 + t);
      r[t] = t < np && mh > 0 ? pair_rows(A + k * lda + h, k + 1 < kc ? A + (k + 1) * lda + h : nullptr, m)
                              : _mm512_setzero_ps();
    }
    transpose16(r);
    for (int i = 0; i < 16; i++) _mm512_mask_storeu_ps(amx_a_row(dst, kcp, h + i, t0), lanes_below(np), r[i]);
  }
}
template <class T>
void pack_a_colmajor_amx(float* dst, const T* A, long lda, long mr, long kc) {
  for (long t0 = 0; t0 < (kc + 1) / 2; t0 += 16) pack_a_colmajor_amx_group(dst, A, lda, mr, kc, t0);
}
// A whole A block (mc rows: its strips at dst + s * kcp * 32) of a transposed A, 16 pairs (32 source
// rows) at a time across every strip: each source row is read along the block's mc values, and the
// lines of the next 32 rows are asked for meanwhile, a strip's share per strip. Strip by strip, each
// strip read one line from each of kc rows lda apart, lines no prefetcher followed (the bf16 channel
// weight gradients, dgate_up^T and dY^T: the pack waited on most of its loads, a fifth of the product).
template <class T>
void pack_a_colmajor_amx_block(float* dst, const T* A, long lda, long mc, long kc) {
  const long kcp = (kc + 1) / 2, row_bytes = AMX_MR * (long)sizeof(T);
  for (long t0 = 0; t0 < kcp; t0 += 16) {
    const long k1 = 2 * (t0 + 16), k2 = k1 + 32 < kc ? k1 + 32 : kc;  // the next group's source rows
    for (long i0 = 0, s = 0; i0 < mc; i0 += AMX_MR, s++) {
      const long mr = mc - i0 < AMX_MR ? mc - i0 : AMX_MR;
      for (long k = k1; k < k2; k++) {
        const char* p = reinterpret_cast<const char*>(A + k * lda + i0);
        __builtin_prefetch(p, 0, 3);
        if ((reinterpret_cast<uintptr_t>(p) & 63) + row_bytes > 64) __builtin_prefetch(p + row_bytes - 1, 0, 3);
      }
      pack_a_colmajor_amx_group(dst + s * kcp * AMX_MR, A + i0, lda, mr, kc, t0);
    }
  }
}

#undef AMX_STEPS_16X32

}  // namespace

GemmKernelInfo gemm_kernel_amx_bf16() {
  GemmKernelInfo k = gemm_kernel_avx512_bf16();  // its B packs: the same panels
  k.kernel = ukr_amx_32x32;
  k.kernel_cols = nullptr;  // (strips laid out for VDPBF16PS: this A is packed row by row)
  k.pack_a_rowmajor = pack_a_rowmajor_amx<float>;
  k.pack_a_colmajor = pack_a_colmajor_amx<float>;
  k.pack_a_rowmajor16 = pack_a_rowmajor_amx<uint16_t>;  // (its A layout differs from VDPBF16PS's: not inherited)
  k.pack_a_colmajor16 = pack_a_colmajor_amx<uint16_t>;
  k.pack_a_colmajor_block = pack_a_colmajor_amx_block<float>;
  k.pack_a_colmajor_block16 = pack_a_colmajor_amx_block<uint16_t>;
  k.mr = AMX_MR;
  k.mc = AMX_MR * 8;
  k.name = "amx_bf16 32x32 (tdpbf16ps)";
  k.prefetches_c_below = true;
  k.set_step_hook = amx_set_step_hook;
  return k;
}

double bf16_peak_amx(double seconds) {
  // Four independent accumulators (tmm0-3) fed by two A and two B tiles, as a 32 x 32 register
  // tile would: 4 x 16 x 16 x 32 multiply-adds per round. The configuration is this loop's own, so
  // the GEMM kernel reloads its own on the next call.
  TileConfig c;
  memset(&c, 0, sizeof c);
  c.palette = 1;
  for (int t = 0; t < 8; t++) c.rows[t] = 16, c.colsb[t] = 64;
  _tile_loadconfig(&c);
  tl_amx.tile_rem = -1;
  alignas(64) uint16_t a[16 * 32], b[16 * 32];
  for (int i = 0; i < 16 * 32; i++) a[i] = 0x3a83, b[i] = (uint16_t)(i & 1 ? 0xba83 : 0x3a83);  // +-1e-3
  _tile_loadd(4, a, 64);
  _tile_loadd(5, a, 64);
  _tile_loadd(6, b, 64);
  _tile_loadd(7, b, 64);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  long iters = 0;
  double t0 = now_s(), t;
  do {
    for (int r = 0; r < 1024; r++) {
      _tile_dpbf16ps(0, 4, 6);
      _tile_dpbf16ps(1, 4, 7);
      _tile_dpbf16ps(2, 5, 6);
      _tile_dpbf16ps(3, 5, 7);
    }
    iters += 1024;
    t = now_s();
  } while (t - t0 < seconds);
  alignas(64) float sink[16 * 16];
  _tile_stored(0, sink, 64);
  _tile_release();
  __asm__ volatile("" : : "r"(sink) : "memory");
  return iters * 4.0 * 16 * 16 * 32 * 2 / (t - t0) * 1e-9;
}

void amx_config_unknown() { tl_amx.tile_rem = -1; }
#else
GemmKernelInfo gemm_kernel_amx_bf16() { return gemm_kernel_avx512_bf16(); }
double bf16_peak_amx(double) { return 0.0; }
void amx_config_unknown() {}
#endif

}  // namespace trm
