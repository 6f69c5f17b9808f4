// kernel_avx512.cpp: the AVX-512 micro-kernel (14 x 32: 28 zmm accumulators, 2 for B, 1 for the
// broadcast of A) and the register-only FMA peak loop. Compiled for AVX-512 by a target pragma so
// the rest of the addon stays baseline x86-64; only C headers are included after the pragma, so
// no template or inline function compiled here can leak into baseline code through the linker.
// _mm512_reduce_add_ps uses an undefined vector on purpose; GCC 12 warns about it.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
#include <immintrin.h>
#include <time.h>

#include "avx512_shared.h"
#include "copy_gpr.h"
#include "gemm.h"

namespace trm {
namespace {

constexpr int MR = 14, NR = 32;

// The register tile for R <= MR rows and NB zmm columns (NB * 16 <= NR). Every row's
// accumulators run the same FMAs in the same k order whatever R and NB are, so a partial tile gives
// bitwise the full tile's rows: ukr_14x32 only skips the rows and columns it would throw away (a
// 17-row product's second strip has 3 rows: without this it cost as much as 14).
//
// Two variants share the tile (gemm.h GemmKernelInfo::kernel_direct_a / kernel_copy_b), each with
// the same FMAs in the same order, so the same bits:
// - A in place (A_MODE 1, 2): from a row-major op(A) (pa[i*lda + k]) or a transposed one
//   (pa[k*lda + i]) instead of a packed strip,
//   for the first panel of a strip whose rows stream from memory once (the driver packs the strip
//   from L1 after it, for the other panels; storing it from here slowed the tile by a sixth);
// - COPY: while the tile computes, rows of the next (full, 32-column) B panel are copied into its
//   packed slot (dst[r*NR + j] = src[r*ld + j]), spread over the k loop, so the next panel's
//   operand streams in under this tile's FMAs instead of in a pack pass of its own.
// (copy32_gpr: copy_gpr.h)

// A in place, row-major: how far ahead (in k) each row is prefetched into L1 and, earlier, into L2
// (one line of one row per k step each; past kc, the next strip's rows). The two distances took the
// token mixer's weight gradients from 85-87% to 86-89% of peak over one 128 into L1.
constexpr long kAheadA = 32, kAheadA2 = 384;
// A in place, transposed: each k's R values (one line, or two where they straddle one) kAheadAT k ahead
// into L1 and kAheadAT2 ahead into L2. The small models' channel weight gradients read dgate_up^T in
// place, lines 2 KiB apart from L3 once it outgrows L2 (cpu-sudoku9: 2624 x 512); with one line 8 k
// ahead into L1 their tiles waited on memory: TN 512x64x2624 ran 1.34-1.55x faster with both lines
// and the L2 distance (1 and 2 threads; 8/32, 16/32, 16/64, 12/48 alike), 64x256x2624 1.1-1.18x.
constexpr long kAheadAT = 8, kAheadAT2 = 32;
constexpr long kAheadB = 8;    // COPY: rows prefetched ahead of the copy

// One row of a tile's C (NB zmm, lanes m0 and m1): alpha times the sum (skipped for alpha == 1:
// 1 * x is x, and every call the model makes has it), beta * C fused, masked stores.
template <int NB>
inline void store_row(float* ci, __m512 r0, __m512 r1, __mmask16 m0, __mmask16 m1, float alpha, float beta) {
  if (alpha != 1.f) {
    r0 = _mm512_mul_ps(_mm512_set1_ps(alpha), r0);
    if (NB > 1) r1 = _mm512_mul_ps(_mm512_set1_ps(alpha), r1);
  }
  if (beta != 0.f) {
    r0 = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(m0, ci), r0);
    if (NB > 1) r1 = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(m1, ci + 16), r1);
  }
  _mm512_mask_storeu_ps(ci, m0, r0);
  if (NB > 1) _mm512_mask_storeu_ps(ci + 16, m1, r1);
}

// A_MODE: 0 packed strip (pa[k*MR + i]); 1 row-major A in place (pa[i*lda + k]); 2 transposed A in
// place (pa[k*lda + i]: the strip's 14 values of a k are adjacent).
template <int R, int NB, int A_MODE, bool COPY>
void ukr_gen(long kc, const float* __restrict pa, long lda, const float* __restrict pb, float* c, long ldc, long m,
             long n, float alpha, float beta, const float* __restrict cp_src, long cp_ld, float* __restrict cp_dst,
             long cp_rows, long cp_more) {
  __m512 acc[R][NB];
  for (int i = 0; i < R; i++)
    for (int h = 0; h < NB; h++) acc[i][h] = _mm512_setzero_ps();
  // C is touched only after the k loop: start bringing its lines in now.
  for (int i = 0; i < R; i++) {
    if (i < m) {
      _mm_prefetch((const char*)(c + i * ldc), _MM_HINT_T0);
      if (NB > 1) _mm_prefetch((const char*)(c + i * ldc + 16), _MM_HINT_T0);
    }
  }
  // COPY: a quarter row (32 bytes, through general registers: every zmm holds the tile) every 2^sh
  // k steps, inside the one k loop (a loop nest around the copy, or a zmm for it, made GCC keep
  // accumulators in memory); full 32-column panels, at most kc / 4 rows (the driver's slices).
  long units = 0, sh = 0;
  if (COPY) {
    units = 4 * cp_rows;
    while (units > 0 && (units << (sh + 1)) <= kc) sh++;
    for (long r = 0; r < kAheadB && r < cp_more; r++) {
      _mm_prefetch((const char*)(cp_src + r * cp_ld), _MM_HINT_T0);
      _mm_prefetch((const char*)(cp_src + r * cp_ld + 16), _MM_HINT_T0);
    }
  }
  const long mask = (1L << sh) - 1;
  auto step = [&](long k) __attribute__((always_inline)) {
    const float* b = pb + k * NR;
    _mm_prefetch((const char*)(b + 8 * NR), _MM_HINT_T0);
    if (COPY && (k & mask) == 0 && (k >> sh) < units) {
      const long u = k >> sh, r = u >> 2;
      copy32_gpr(cp_dst + u * 8, cp_src + r * cp_ld + (u & 3) * 8);
      if ((u & 3) == 0 && r + kAheadB < cp_more) {  // (past this slice: the next strip's rows, one stream)
        _mm_prefetch((const char*)(cp_src + (r + kAheadB) * cp_ld), _MM_HINT_T0);
        _mm_prefetch((const char*)(cp_src + (r + kAheadB) * cp_ld + 16), _MM_HINT_T0);
      }
    }
    if (A_MODE == 1) {  // row k % 16's lines kAheadA and kAheadA2 floats on (past kc: the next strip's row)
      const long i = k & 15;
      auto ahead = [&](long ka) { return (const char*)(ka < kc ? pa + i * lda + ka : pa + (i + MR) * lda + (ka - kc)); };
      if (i < R) {
        _mm_prefetch(ahead(k + kAheadA), _MM_HINT_T0);
        _mm_prefetch(ahead(k + kAheadA2), _MM_HINT_T1);
      }
    }
    if (A_MODE == 2) {
      const char* l1 = (const char*)(pa + (k + kAheadAT) * lda);
      const char* l2 = (const char*)(pa + (k + kAheadAT2) * lda);
      _mm_prefetch(l1, _MM_HINT_T0);
      _mm_prefetch(l1 + (R - 1) * 4, _MM_HINT_T0);
      _mm_prefetch(l2, _MM_HINT_T1);
      _mm_prefetch(l2 + (R - 1) * 4, _MM_HINT_T1);
    }
    __m512 b0 = _mm512_load_ps(b), b1 = NB > 1 ? _mm512_load_ps(b + 16) : b0;
#pragma GCC unroll 14
    for (int i = 0; i < R; i++) {
      __m512 a = _mm512_set1_ps(A_MODE == 1 ? pa[i * lda + k] : A_MODE == 2 ? pa[k * lda + i] : pa[k * MR + i]);
      acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
      if (NB > 1) acc[i][NB - 1] = _mm512_fmadd_ps(a, b1, acc[i][NB - 1]);
    }
  };
  long k = 0;
  for (; k < kc; k++) step(k);
  const __mmask16 m0 = lanes_below(n), m1 = lanes_below(n - 16);
#pragma GCC unroll 14
  for (int i = 0; i < R; i++) {
    if (i >= m) break;
    store_row<NB>(c + i * ldc, acc[i][0], acc[i][NB - 1], m0, m1, alpha, beta);
  }
}

template <int R, int NB>
void ukr_tile(long kc, const float* pa, const float* pb, float* c, long ldc, long m, long n, float alpha, float beta) {
  ukr_gen<R, NB, 0, false>(kc, pa, 0, pb, c, ldc, m, n, alpha, beta, nullptr, 0, nullptr, 0, 0);
}
template <int R, int NB>
void ukr_tile_direct(long kc, const float* A, long lda, const float* pb, float* c, long ldc, long m, long n,
                     float alpha, float beta) {
  ukr_gen<R, NB, 1, false>(kc, A, lda, pb, c, ldc, m, n, alpha, beta, nullptr, 0, nullptr, 0, 0);
}
template <int R, int NB>
void ukr_tile_direct_t(long kc, const float* A, long lda, const float* pb, float* c, long ldc, long m, long n,
                       float alpha, float beta) {
  ukr_gen<R, NB, 2, false>(kc, A, lda, pb, c, ldc, m, n, alpha, beta, nullptr, 0, nullptr, 0, 0);
}
template <int R, int NB>
void ukr_tile_copy(long kc, const float* pa, const float* pb, float* c, long ldc, long m, long n, float alpha,
                   float beta, const float* src, long ld, float* dst, long rows, long more) {
  ukr_gen<R, NB, 0, true>(kc, pa, 0, pb, c, ldc, m, n, alpha, beta, src, ld, dst, rows, more);
}

#define TRM_TILES(NAME, NB) \
  {NAME<1, NB>, NAME<2, NB>, NAME<3, NB>,  NAME<4, NB>,  NAME<5, NB>,  NAME<6, NB>,  NAME<7, NB>, \
   NAME<8, NB>, NAME<9, NB>, NAME<10, NB>, NAME<11, NB>, NAME<12, NB>, NAME<13, NB>, NAME<14, NB>}

constexpr GemmMicroKernel kTiles1[MR] = TRM_TILES(ukr_tile, 1), kTiles2[MR] = TRM_TILES(ukr_tile, 2);
constexpr GemmDirectAKernel kDirect1[MR] = TRM_TILES(ukr_tile_direct, 1), kDirect2[MR] = TRM_TILES(ukr_tile_direct, 2);
constexpr GemmDirectAKernel kDirectT1[MR] = TRM_TILES(ukr_tile_direct_t, 1),
                            kDirectT2[MR] = TRM_TILES(ukr_tile_direct_t, 2);
constexpr GemmCopyBKernel kCopy1[MR] = TRM_TILES(ukr_tile_copy, 1), kCopy2[MR] = TRM_TILES(ukr_tile_copy, 2);

void ukr_14x32(long kc, const float* __restrict pa, const float* __restrict pb, float* c, long ldc, long m, long n,
               float alpha, float beta) {
  if (m >= MR && n > 16) return ukr_tile<MR, 2>(kc, pa, pb, c, ldc, m, n, alpha, beta);
  const int r = m < 1 ? 1 : (int)m;
  (n > 16 ? kTiles2 : kTiles1)[r - 1](kc, pa, pb, c, ldc, m, n, alpha, beta);
}

void ukr_direct_14x32(long kc, const float* A, long lda, const float* pb, float* c, long ldc, long m, long n,
                      float alpha, float beta) {
  const int r = m < 1 ? 1 : m > MR ? MR : (int)m;
  (n > 16 ? kDirect2 : kDirect1)[r - 1](kc, A, lda, pb, c, ldc, m, n, alpha, beta);
}

void ukr_direct_t_14x32(long kc, const float* A, long lda, const float* pb, float* c, long ldc, long m, long n,
                        float alpha, float beta) {
  const int r = m < 1 ? 1 : m > MR ? MR : (int)m;
  (n > 16 ? kDirectT2 : kDirectT1)[r - 1](kc, A, lda, pb, c, ldc, m, n, alpha, beta);
}

void ukr_copy_14x32(long kc, const float* pa, const float* pb, float* c, long ldc, long m, long n, float alpha,
                    float beta, const float* src, long ld, float* dst, long rows, long more) {
  const int r = m < 1 ? 1 : m > MR ? MR : (int)m;
  (n > 16 ? kCopy2 : kCopy1)[r - 1](kc, pa, pb, c, ldc, m, n, alpha, beta, src, ld, dst, rows, more);
}

// A narrow panel (n <= 4 columns) of up to eight consecutive packed strips (m <= 8 * MR rows, strip
// t at pa + t * kc * MR) with the rows in the lanes: per k and strip, one load of the strip's MR
// values and one FMA per column, where the tile spends MR FMAs per k on 16 or 32 columns. Each
// chain advances one FMA per FMA latency, so the strips' independent chains run side by side.
// Lane i runs exactly the tile's chain for its row (a_ik * b_kj added in k order from 0, then alpha,
// then beta * C fused), so the bits are the tile's.
template <int NCOL, int S>
void ukr_cols(long kc, const float* __restrict pa, const float* __restrict pb, float* c, long ldc, long m,
              float alpha, float beta) {
  __mmask16 valid[S];  // the strips' rows below m (a strip's padding rows may be unwritten)
  for (int t = 0; t < S; t++) valid[t] = lanes_below(m - t * MR < MR ? m - t * MR : MR);
  __m512 acc[S][NCOL];
  for (int t = 0; t < S; t++)
    for (int j = 0; j < NCOL; j++) acc[t][j] = _mm512_setzero_ps();
  for (long k = 0; k < kc; k++) {
    __m512 b[NCOL];
    for (int j = 0; j < NCOL; j++) b[j] = _mm512_set1_ps(pb[k * NR + j]);
#pragma GCC unroll 8
    for (int t = 0; t < S; t++) {
      __m512 a = _mm512_maskz_loadu_ps(valid[t], pa + t * kc * MR + k * MR);
      for (int j = 0; j < NCOL; j++) acc[t][j] = _mm512_fmadd_ps(a, b[j], acc[t][j]);
    }
  }
  const __m512i rows = lane_rows(ldc);
  for (int t = 0; t < S; t++)
    for (int j = 0; j < NCOL; j++) store_lanes(c + t * MR * ldc + j, rows, valid[t], acc[t][j], alpha, beta);
}

typedef void (*ColsKernel)(long, const float*, const float*, float*, long, long, float, float);
#define TRM_COLS(S) {ukr_cols<1, S>, ukr_cols<2, S>, ukr_cols<3, S>, ukr_cols<4, S>}
constexpr ColsKernel kCols[8][4] = {TRM_COLS(1), TRM_COLS(2), TRM_COLS(3), TRM_COLS(4),
                                     TRM_COLS(5), TRM_COLS(6), TRM_COLS(7), TRM_COLS(8)};

void ukr_cols_14(long kc, const float* pa, const float* pb, float* c, long ldc, long m, long n, float alpha,
                 float beta) {
  narrow_kernel(kCols, (m + MR - 1) / MR, n)(kc, pa, pb, c, ldc, m, alpha, beta);
}

// The narrow panel of ukr_cols for rows read in place from a row-major A (A[i*lda + k], m <= 16 * S
// rows): per 16 k, the 16 k values of 16 rows are loaded and transposed in registers, which puts the
// rows in the lanes with no packed strip (the strip pack was there only for this panel: the full
// panels read A in place). S vectors of 16 rows keep S * NCOL chains going while the next vector's
// transpose runs. Lane i runs exactly the tile's chain for its row, as in ukr_cols: the same bits.
template <int NCOL, int S>
void ukr_cols_a(long kc, const float* __restrict A, long lda, const float* __restrict pb, float* c, long ldc, long m,
                float alpha, float beta) {
  __m512 acc[S][NCOL];
  for (int v = 0; v < S; v++)
    for (int j = 0; j < NCOL; j++) acc[v][j] = _mm512_setzero_ps();
  for (long k0 = 0; k0 < kc; k0 += 16) {
    const long kn = kc - k0 < 16 ? kc - k0 : 16;
    const __mmask16 km = (__mmask16)((1u << kn) - 1);
#pragma GCC unroll 8
    for (int v = 0; v < S; v++) {
      __m512 r[16];
      for (int i = 0; i < 16; i++) {
        const long row = v * 16 + i;
        r[i] = row < m ? _mm512_maskz_loadu_ps(km, A + row * lda + k0) : _mm512_setzero_ps();
      }
      transpose16(r);
      if (kn == 16) {
#pragma GCC unroll 16
        for (int q = 0; q < 16; q++)
          for (int j = 0; j < NCOL; j++)
            acc[v][j] = _mm512_fmadd_ps(r[q], _mm512_set1_ps(pb[(k0 + q) * NR + j]), acc[v][j]);
      } else {
        for (int q = 0; q < kn; q++)
          for (int j = 0; j < NCOL; j++)
            acc[v][j] = _mm512_fmadd_ps(r[q], _mm512_set1_ps(pb[(k0 + q) * NR + j]), acc[v][j]);
      }
    }
  }
  const __m512i rows = lane_rows(ldc);
  for (int v = 0; v < S && v * 16 < m; v++)
    for (int j = 0; j < NCOL; j++)
      store_lanes(c + v * 16 * ldc + j, rows, lanes_below(m - v * 16), acc[v][j], alpha, beta);
}

typedef void (*ColsAKernel)(long, const float*, long, const float*, float*, long, long, float, float);
#define TRM_COLS_A(S) {ukr_cols_a<1, S>, ukr_cols_a<2, S>, ukr_cols_a<3, S>, ukr_cols_a<4, S>}
constexpr ColsAKernel kColsA[8][4] = {TRM_COLS_A(1), TRM_COLS_A(2), TRM_COLS_A(3), TRM_COLS_A(4),
                                       TRM_COLS_A(5), TRM_COLS_A(6), TRM_COLS_A(7), TRM_COLS_A(8)};

void ukr_cols_a_16(long kc, const float* A, long lda, const float* pb, float* c, long ldc, long m, long n, float alpha,
                   float beta) {
  narrow_kernel(kColsA, (m + 15) / 16, n)(kc, A, lda, pb, c, ldc, m, alpha, beta);
}

// A narrow column's first R <= 8 rows (lanes) at cn, rows ldc apart: store_lanes' epilogue on 8 lanes
// (alpha times the sum, then beta * C fused), as the tile's rows end.
inline void store_col8(float* cn, long ldc, int R, __m256 acc, float alpha, float beta) {
  const __m256i rows = _mm256_mullo_epi32(_mm256_set_epi32(7, 6, 5, 4, 3, 2, 1, 0), _mm256_set1_epi32((int)ldc));
  const __mmask8 valid = (__mmask8)((1u << R) - 1);
  __m256 r = _mm256_mul_ps(_mm256_set1_ps(alpha), acc);
  if (beta != 0.f)
    r = _mm256_fmadd_ps(_mm256_set1_ps(beta), _mm256_mmask_i32gather_ps(_mm256_setzero_ps(), valid, rows, cn, 4), r);
  _mm256_mask_i32scatter_ps(cn, valid, rows, r, 4);
}

// The last full panel of a strip over a row-major A in place (as ukr_gen<R, 2, 1>), with a narrow
// one-column panel after it (the token mixer's 97 = 3 x 32 + 1) computed in the same k loop: each
// row's broadcast of A[i][k], already in a register for the tile's two FMAs, is blended into lane
// i of a column vector (an in-lane op: on Zen 5 it issues beside the FMAs for free, where the
// narrow panel on its own needed 16 x 16 transposes of lane-crossing shuffles that take FMA slots),
// and one more FMA per k advances the column's chains. 7 rows per call: the 14 x 32 tile holds 31
// zmm, and VEX vblendps (an immediate, no mask register) reaches only ymm0-15. The accumulators are
// named variables, not an array: with an array GCC kept a copy in memory, stored every k (a third
// of the speed). Lane i runs the chain of kernel_cols_a's lane (a_ik * b_k from k = 0, alpha, then
// beta * C fused), and the tile's rows run ukr_gen's: the same bits.
#define TRM_C1_ACC(I) __m512 c##I##0 = _mm512_setzero_ps(), c##I##1 = _mm512_setzero_ps();
#define TRM_C1_ROW(I)                                                                                      \
  if constexpr (I < R) {                                                                                  \
    const __m512 a = _mm512_set1_ps(A[I * lda + k]);                                                      \
    c##I##0 = _mm512_fmadd_ps(a, b0, c##I##0);                                                            \
    c##I##1 = _mm512_fmadd_ps(a, b1, c##I##1);                                                            \
    col = I == 0 ? _mm512_castps512_ps256(a) : _mm256_blend_ps(col, _mm512_castps512_ps256(a), 1 << I); \
  }
#define TRM_C1_STORE(I) \
  if constexpr (I < R) store_row<2>(c + I * ldc, c##I##0, c##I##1, m0, m1, alpha, beta);

template <int R>
void ukr_half_col1(long kc, const float* __restrict A, long lda, const float* __restrict pb, float* c, long ldc,
                   long n, float alpha, float beta, const float* __restrict pbn, float* cn) {
  TRM_C1_ACC(0) TRM_C1_ACC(1) TRM_C1_ACC(2) TRM_C1_ACC(3) TRM_C1_ACC(4) TRM_C1_ACC(5) TRM_C1_ACC(6)
  __m256 col = _mm256_setzero_ps(), acc_n = _mm256_setzero_ps();
  for (long k = 0; k < kc; k++) {
    const float* b = pb + k * NR;
    _mm_prefetch((const char*)(b + 8 * NR), _MM_HINT_T0);
    _mm_prefetch((const char*)(pbn + (k + 8) * NR), _MM_HINT_T0);
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
    TRM_C1_ROW(0) TRM_C1_ROW(1) TRM_C1_ROW(2) TRM_C1_ROW(3) TRM_C1_ROW(4) TRM_C1_ROW(5) TRM_C1_ROW(6)
    acc_n = _mm256_fmadd_ps(col, _mm256_set1_ps(pbn[k * NR]), acc_n);
  }
  const __mmask16 m0 = lanes_below(n), m1 = lanes_below(n - 16);
  TRM_C1_STORE(0) TRM_C1_STORE(1) TRM_C1_STORE(2) TRM_C1_STORE(3) TRM_C1_STORE(4) TRM_C1_STORE(5) TRM_C1_STORE(6)
  store_col8(cn, ldc, R, acc_n, alpha, beta);
}
#undef TRM_C1_ACC
#undef TRM_C1_ROW
#undef TRM_C1_STORE

typedef void (*HalfCol1Kernel)(long, const float*, long, const float*, float*, long, long, float, float, const float*,
                               float*);
constexpr HalfCol1Kernel kHalfCol1[7] = {ukr_half_col1<1>, ukr_half_col1<2>, ukr_half_col1<3>, ukr_half_col1<4>,
                                         ukr_half_col1<5>, ukr_half_col1<6>, ukr_half_col1<7>};

void ukr_direct_col1_14x32(long kc, const float* A, long lda, const float* pb, float* c, long ldc, long m, long n,
                           float alpha, float beta, const float* pbn, float* cn) {
  const long top = m < 7 ? m : 7;
  if (top <= 0) return;
  kHalfCol1[top - 1](kc, A, lda, pb, c, ldc, n, alpha, beta, pbn, cn);
  if (m > 7) kHalfCol1[(m > MR ? MR : m) - 8](kc, A + 7 * lda, lda, pb, c + 7 * ldc, ldc, n, alpha, beta, pbn, cn + 7 * ldc);
}

// A last panel of 17 to 16 + cols_max columns over a row-major A in place (S = 82 = 2 x 32 + 18: the
// token mixer's gate_up weight gradient at cpu-sudoku9's size): its first 16 columns as a one-vector
// tile (ukr_gen<R, 1, 1>'s rows) and the NCOL after them with the rows in the lanes, as ukr_half_col1
// does for one column: each row's broadcast of A[i][k], in a register for the tile's FMA, blended into
// lane i of a column vector, one more FMA per k and column. The 32-column tile spent 14 FMAs per k on
// the NCOL columns' second vector; this spends NCOL ymm FMAs and 7 in-lane blends (2-vCPU Zen 5: the
// S = 82 weight gradient 73 -> 79% of the one-thread peak; docs/PERFORMANCE.md). pb is the panel (pb[k*NR + j]:
// column 16 + j of the panel is pb[k*NR + 16 + j]), c its C. Lane i runs the tile's chain for its
// element (a_ik * b_kj from k = 0, alpha, then beta * C fused): the same bits as the 32-column tile.
#define TRM_C16_ACC(I) __m512 c##I = _mm512_setzero_ps();
#define TRM_C16_ROW(I)                                                                                   \
  if constexpr (I < R) {                                                                                \
    const __m512 a = _mm512_set1_ps(A[I * lda + k]);                                                    \
    c##I = _mm512_fmadd_ps(a, b0, c##I);                                                                \
    col = I == 0 ? _mm512_castps512_ps256(a) : _mm256_blend_ps(col, _mm512_castps512_ps256(a), 1 << I); \
  }
#define TRM_C16_STORE(I) \
  if constexpr (I < R) store_row<1>(c + I * ldc, c##I, c##I, all, all, alpha, beta);

template <int R, int NCOL>
void ukr_half_col16(long kc, const float* __restrict A, long lda, const float* __restrict pb, float* c, long ldc,
                    float alpha, float beta) {
  TRM_C16_ACC(0) TRM_C16_ACC(1) TRM_C16_ACC(2) TRM_C16_ACC(3) TRM_C16_ACC(4) TRM_C16_ACC(5) TRM_C16_ACC(6)
  __m256 col = _mm256_setzero_ps(), acc_n[NCOL];
  for (int j = 0; j < NCOL; j++) acc_n[j] = _mm256_setzero_ps();
  for (long k = 0; k < kc; k++) {
    const float* b = pb + k * NR;
    _mm_prefetch((const char*)(b + 8 * NR), _MM_HINT_T0);
    const __m512 b0 = _mm512_load_ps(b);
    TRM_C16_ROW(0) TRM_C16_ROW(1) TRM_C16_ROW(2) TRM_C16_ROW(3) TRM_C16_ROW(4) TRM_C16_ROW(5) TRM_C16_ROW(6)
    for (int j = 0; j < NCOL; j++) acc_n[j] = _mm256_fmadd_ps(col, _mm256_set1_ps(b[16 + j]), acc_n[j]);
  }
  const __mmask16 all = (__mmask16)0xffff;
  TRM_C16_STORE(0) TRM_C16_STORE(1) TRM_C16_STORE(2) TRM_C16_STORE(3) TRM_C16_STORE(4) TRM_C16_STORE(5) TRM_C16_STORE(6)
  for (int j = 0; j < NCOL; j++) store_col8(c + 16 + j, ldc, R, acc_n[j], alpha, beta);
}
#undef TRM_C16_ACC
#undef TRM_C16_ROW
#undef TRM_C16_STORE

typedef void (*HalfCol16Kernel)(long, const float*, long, const float*, float*, long, float, float);
#define TRM_C16(R) {ukr_half_col16<R, 1>, ukr_half_col16<R, 2>, ukr_half_col16<R, 3>, ukr_half_col16<R, 4>}
constexpr HalfCol16Kernel kHalfCol16[7][4] = {TRM_C16(1), TRM_C16(2), TRM_C16(3), TRM_C16(4),
                                              TRM_C16(5), TRM_C16(6), TRM_C16(7)};
#undef TRM_C16

// m <= MR rows, 16 < n <= 16 + cols_max columns: seven rows per call (as ukr_direct_col1_14x32).
void ukr_direct_col16_14(long kc, const float* A, long lda, const float* pb, float* c, long ldc, long m, long n,
                         float alpha, float beta) {
  const int ncol = (int)(n - 16);
  for (long i0 = 0; i0 < m; i0 += 7) {
    const long rows = m - i0 < 7 ? m - i0 : 7;
    kHalfCol16[rows - 1][ncol - 1](kc, A + i0 * lda, lda, pb, c + i0 * ldc, ldc, alpha, beta);
  }
}

// Pack a row-major strip by 16 x 16 transposes (rows past mr are zero); the k tail is scalar.
void pack_a_rowmajor_14(float* dst, const float* A, long lda, long mr, long kc) {
  const __mmask16 keep = (__mmask16)((1u << MR) - 1);
  long k0 = 0;
  for (; k0 + 16 <= kc; k0 += 16) {
    __m512 r[16];
    for (int i = 0; i < 16; i++) r[i] = i < mr ? _mm512_loadu_ps(A + i * lda + k0) : _mm512_setzero_ps();
    transpose16(r);
    for (int j = 0; j < 16; j++) _mm512_mask_storeu_ps(dst + (k0 + j) * MR, keep, r[j]);
  }
  for (long k = k0; k < kc; k++)
    for (int i = 0; i < MR; i++) dst[k * MR + i] = i < mr ? A[i * lda + k] : 0.f;
}

// Pack an NR-column panel of op(B) where B is stored transposed (B[j*ldb + k]): dst[k*NR + j].
// A narrow panel (the token mixer's 97 = 3 x 32 + 1 columns) is copied column by column over zeros:
// its two 16 x 16 transposes per 16 k moved 32 floats to use one, a quarter of the weight
// gradients' B pack. A half with no columns is zeros alone.
void pack_b_colmajor_32(float* dst, const float* B, long ldb, long nr, long kc) {
  const __m512 zero = _mm512_setzero_ps();
  if (nr <= 4) {
    for (long k = 0; k < kc; k++) {
      _mm512_store_ps(dst + k * NR, zero);
      _mm512_store_ps(dst + k * NR + 16, zero);
      for (long j = 0; j < nr; j++) dst[k * NR + j] = B[j * ldb + k];
    }
    return;
  }
  long k0 = 0;
  for (; k0 + 16 <= kc; k0 += 16) {
    for (int h = 0; h < 2; h++) {
      if (h * 16 >= nr) {
        for (int k = 0; k < 16; k++) _mm512_store_ps(dst + (k0 + k) * NR + h * 16, zero);
        continue;
      }
      __m512 r[16];
      for (int j = 0; j < 16; j++) {
        long jj = h * 16 + j;
        r[j] = jj < nr ? _mm512_loadu_ps(B + jj * ldb + k0) : _mm512_setzero_ps();
      }
      transpose16(r);
      for (int k = 0; k < 16; k++) _mm512_store_ps(dst + (k0 + k) * NR + h * 16, r[k]);
    }
  }
  for (long k = k0; k < kc; k++)
    for (int j = 0; j < NR; j++) dst[k * NR + j] = j < nr ? B[j * ldb + k] : 0.f;
}

// The two packs that are plain copies: MR (or NR) consecutive floats per k, masked at the edge.
void pack_a_colmajor_14(float* dst, const float* A, long lda, long mr, long kc) {
  const __mmask16 m = (__mmask16)((1u << mr) - 1);
  const __mmask16 keep = (__mmask16)((1u << MR) - 1);
  for (long k = 0; k < kc; k++) _mm512_mask_storeu_ps(dst + k * MR, keep, _mm512_maskz_loadu_ps(m, A + k * lda));
}

void pack_b_rowmajor_32(float* dst, const float* B, long ldb, long nc, long kc, long p0, long p1) {
  for (long k = 0; k < kc; k++) {
    const float* src = B + k * ldb;
    for (long p = p0; p < p1; p++) {
      long j0 = p * NR, nr = nc - j0 < NR ? nc - j0 : NR;
      float* d = dst + p * kc * NR + k * NR;
      if (nr == NR) {
        _mm512_store_ps(d, _mm512_loadu_ps(src + j0));
        _mm512_store_ps(d + 16, _mm512_loadu_ps(src + j0 + 16));
      } else {
        __mmask16 m0 = nr >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nr) - 1);
        __mmask16 m1 = nr <= 16 ? (__mmask16)0 : (__mmask16)((1u << (nr - 16)) - 1);
        _mm512_store_ps(d, _mm512_maskz_loadu_ps(m0, src + j0));
        _mm512_store_ps(d + 16, _mm512_maskz_loadu_ps(m1, src + j0 + 16));
      }
    }
  }
}

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

}  // namespace

GemmKernelInfo gemm_kernel_avx512() {
  GemmKernelInfo k{ukr_14x32, pack_a_rowmajor_14, pack_b_colmajor_32, pack_a_colmajor_14, pack_b_rowmajor_32, MR, NR, 14 * 24, 512, 4096, "avx512 14x32"};
  k.kernel_direct_a = ukr_direct_14x32;
  k.kernel_direct_at = ukr_direct_t_14x32;
  k.kernel_copy_b = ukr_copy_14x32;
  k.kernel_cols = ukr_cols_14;
  k.kernel_cols_a = ukr_cols_a_16;
  k.kernel_direct_col1 = ukr_direct_col1_14x32;
  k.kernel_direct_col16 = ukr_direct_col16_14;
  k.cols_max = 4;
  k.cols_strips = 8;
  return k;
}

double fma_peak_avx512(double seconds) {
  // 16 independent chains hide the 4-cycle FMA latency on two FMA ports with room to spare.
  __m512 x[16];
  for (int i = 0; i < 16; i++) x[i] = _mm512_set1_ps(1.0f + i * 1e-3f);
  const __m512 a = _mm512_set1_ps(0.999999f), b = _mm512_set1_ps(1e-7f);
  long iters = 0;
  double t0 = now_s(), t;
  do {
    for (int r = 0; r < 4096; r++) {
#pragma GCC unroll 16
      for (int i = 0; i < 16; i++) x[i] = _mm512_fmadd_ps(x[i], a, b);

    }
    iters += 4096;
    t = now_s();
  } while (t - t0 < seconds);
  float sink = 0;
  for (int i = 0; i < 16; i++) sink += _mm512_reduce_add_ps(x[i]);
  __asm__ volatile("" : : "x"(sink));
  return iters * 16.0 * 32.0 / (t - t0) * 1e-9;
}

// copy_transposed on AVX-512: 16 x 16 blocks through transpose16, the edges (the last rows and columns
// short of 16) through the AVX2 copy's 8 x 8 blocks and scalars. A plain copy: the same values in any order.
void copy_transposed_avx512(float* dst, long ldd, const float* src, long lds, long rows, long cols) {
  const long r16 = rows & ~15L, c16 = cols & ~15L;
  for (long i0 = 0; i0 < r16; i0 += 16)
    for (long j0 = 0; j0 < c16; j0 += 16) {
      __m512 r[16];
      for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + (i0 + i) * lds + j0);
      transpose16(r);
      for (int j = 0; j < 16; j++) _mm512_storeu_ps(dst + (j0 + j) * ldd + i0, r[j]);
    }
  if (c16 < cols) copy_transposed_avx2(dst + c16 * ldd, ldd, src + c16, lds, rows, cols - c16);
  if (r16 < rows) copy_transposed_avx2(dst + r16, ldd, src + r16 * lds, lds, rows - r16, c16);
}

}  // namespace trm
