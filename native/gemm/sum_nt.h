// sum_nt.h: a sum of small NT products over a batch, for weight gradients whose items are short in
// k (the small-model token mixer's: per item 17 x 256 and 512 x 17 with k = D = 64):
//
//   C (M, N) = beta * C + sum over b < batch of A_b (M, K) @ B_b (N, K)^T,
//   A_b at A + b * stride_a, B_b at B + b * stride_b, both row-major with k contiguous (lda = ldb = K),
//   C row-major (ldc = N); beta == 0 never reads C.
//
// gemm (stride_c = 0) sums such a batch item by item, each item a short-k product whose C tile is
// loaded and stored per item, with both operands transposed into packs. Here each element of C is
// one accumulator over all items and k at once: 16 partial sums (lane l takes k = l mod 16 of each
// item, items in order, FMA on AVX-512), reduced by a fixed tree (sum_nt_reduce's order), then
// added to beta * C. From 4 items, the items in two fixed halves ([0, ceil(batch / 2)) and the rest), each
// summed so, and C = beta * C + (first + second) (sum_nt.cpp sum_nt_parts: why). So the bits differ
// from gemm's batch-order sum (within fp32 rounding) but do not depend on the thread count or the
// tiling: a tile is a group of independent accumulators.
#pragma once
#include <cstdint>

namespace trm {

void gemm_sum_nt(float* C, const float* A, const float* B, long M, long N, long K, long batch, long stride_a,
                 long stride_b, float beta);

// The same sum with bf16 operands (a bf16 run's token mixer weight gradients: one of the two is a kept
// bf16 tensor, dgate_up or h): every value of A and B rounded to bfloat16 as GemmArgs::bf16 rounds them
// (a16 / b16: A / B hold bfloat16 values, uint16_t, with the layout and strides above in elements), the
// products summed in fp32. On AVX512_BF16 without the AMX kernel active: an fp32 operand is rounded into
// a scratch copy first, then each element of C is 16 partial sums as gemm_sum_nt's (lane l: k = 2l and
// 2l + 1 mod 32, by VDPBF16PS), reduced by the same tree; the same bits for any thread count. Elsewhere
// (no VDPBF16PS, or AMX tiles active): gemm's bf16 batch sum (trans_b, stride_c = 0), item by item.
void gemm_sum_nt_bf16(float* C, const void* A, bool a16, const void* B, bool b16, long M, long N, long K, long batch,
                      long stride_a, long stride_b, float beta);

// Tile shapes: up to kSumNtP rows of the longer operand against kSumNtQ rows of the shorter.
constexpr int kSumNtP = 4, kSumNtQ = 6;

// The Q rows split into `tiles` tiles as evenly as whole rows allow (the first Q % tiles ones a row
// longer): tile u starts at sum_nt_q_start(u, Q / tiles, Q % tiles), tile `tiles` at Q. No division per
// tile call (two 64-bit divisions per call were a third of a call's overhead on Zen 2 at cpu-sudoku4's
// shapes: 3 items x 4 k vectors per call). The tiling never changes the bits (above).
inline long sum_nt_q_start(long u, long base, long extra) { return u * base + (u < extra ? u : extra); }

// The AVX-512 tiles' driver (sum_nt_avx512.cpp: fp32, sum_nt_bf16_avx512.cpp: bf16 values): items in
// blocks whose Q rows (Q x K values of T per item) stay in L1 while every P tile of rows [0, np) streams
// past them once; the 16 lane partials of each element wait in part (L2) between blocks, fresh at the
// first. tiles[P - 1][Q' - 1] runs a tile of P x Q' elements; the first Q tile of each P tile prefetches
// the next P tile's rows. ISA-neutral: the files instantiate it with their own tiles.
template <class T, class TileFn>
void sum_nt_item_blocks(float* part, long np, long Q, const T* Pp, long sp, const T* Qp, long sq, long K, long batch,
                        const TileFn* const* tiles) {
  const long kbytes = 32768, per_item = Q * K * (long)sizeof(T);
  const long kb = kbytes / per_item < 1 ? 1 : kbytes / per_item;
  const long qtiles = (Q + kSumNtQ - 1) / kSumNtQ;
  const long qbase = Q / qtiles, qextra = Q % qtiles;
  for (long b0 = 0; b0 < batch; b0 += kb) {
    const long b1 = batch - b0 < kb ? batch : b0 + kb;
    for (long p0 = 0; p0 < np; p0 += kSumNtP) {
      const int P = (int)(np - p0 < kSumNtP ? np - p0 : kSumNtP);
      for (long u = 0; u < qtiles; u++) {
        const long q0 = sum_nt_q_start(u, qbase, qextra), q1 = sum_nt_q_start(u + 1, qbase, qextra);
        const long pf = u == 0 ? (np - p0 - P < kSumNtP ? np - p0 - P : kSumNtP) : 0;
        tiles[P - 1][q1 - q0 - 1](part + (p0 * Q + q0) * 16, Q, Pp + p0 * K, sp, Qp + q0 * K, sq, K, b0, b1, b0 == 0,
                                  pf);
      }
    }
  }
}

// AVX-512 (sum_nt_avx512.cpp): red[p * Q + q] = the reduced sum of row p < np of Pp (Pp + p*K per
// item, items sp apart) against row q < Q of Qp (items sq apart); part: np * Q * 16 floats of
// scratch, 64-byte aligned (the lane partials).
void sum_nt_rows_avx512(float* red, float* part, long np, long Q, const float* Pp, long sp, const float* Qp, long sq,
                        long K, long batch);
// AVX-512 BF16 (sum_nt_bf16_avx512.cpp): the same contract over bf16 values (32 k per vector as 16
// pairs, VDPBF16PS), for gemm_sum_nt_bf16.
void sum_nt_rows_bf16_avx512(float* red, float* part, long np, long Q, const uint16_t* Pp, long sp, const uint16_t* Qp,
                             long sq, long K, long batch);
// AVX2+FMA (sum_nt_avx2.cpp): the same contract and the same bits as sum_nt_rows_avx512 (16 lanes
// as two ymm halves, FMA, the same reduction tree).
void sum_nt_rows_avx2(float* red, float* part, long np, long Q, const float* Pp, long sp, const float* Qp, long sq,
                      long K, long batch);

}  // namespace trm
