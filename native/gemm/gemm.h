// gemm.h: single-precision matrix multiply, C = alpha * op(A) * op(B) + beta * C, row-major.
//
// op(A) is M x K: A[i*lda + k] (trans_a = false) or A[k*lda + i] (trans_a = true).
// op(B) is K x N: B[k*ldb + j] (trans_b = false) or B[j*ldb + k] (trans_b = true).
// C is M x N: C[i*ldc + j]. beta == 0 overwrites C without reading it (NaN in C is ignored).
// Batched form: item b uses A + b*stride_a, B + b*stride_b, C + b*stride_c. stride_c == 0 means
// every item accumulates into the same C (a sum of products, in batch order; with a small C and at
// least 4 items, fp32 or bf16: two fixed halves of the items, the second added at the end, gemm.cpp
// gemm_in_halves; so too the k range of an A^T B product with a small C and k >= 512).
//
// Result bits depend only on the inputs and the dispatch path, not on the thread count: every
// element of C (of each half) is produced by one thread, summing over k in a fixed blocked order.
#pragma once

#include <cstddef>
#include <cstdint>

namespace trm {

struct GemmArgs {
  bool trans_a = false, trans_b = false;
  long M = 0, N = 0, K = 0;
  float alpha = 1.f, beta = 0.f;
  const float* A = nullptr; long lda = 0, stride_a = 0;
  const float* B = nullptr; long ldb = 0, stride_b = 0;
  float* C = nullptr;       long ldc = 0, stride_c = 0;
  long batch = 1;
  // bf16 operands: op(A) and op(B) rounded to bfloat16 (nearest even, denormals to zero) before
  // the products, which are summed in fp32 (AVX512_BF16's VDPBF16PS where the CPU has it, else
  // the fp32 kernel on rounded panels). C, alpha and beta stay fp32.
  bool bf16 = false;
  // bf16-stored operands (bf16 only): A (or B) points to bfloat16 values (uint16_t, the high half of
  // an fp32), lda / stride_a (ldb / stride_b) count those elements. They are packed as read: the
  // result is bitwise the product of the same values held as fp32 (rounding a bf16 value is exact).
  bool a16 = false, b16 = false;
  // op(A) already packed by gemm_pack_a for these M, K, trans_a and bf16 (A, lda, a16 are then not
  // read; stride_a must be 0): a weight that many calls share is packed once, not once per call.
  const float* packed_a = nullptr;
  // op(B) already packed by gemm_pack_b for these N, K, trans_b (fp32; stride_b must be 0): a weight
  // that many calls share is packed once. B must still be given: the paths that read B in place, or
  // that pack it in more than one block, use B and leave packed_b unread (the same values: the same bits).
  const float* packed_b = nullptr;
};

void gemm(const GemmArgs& g);

// The packed op(A) of g (A, lda, trans_a, M, K, bf16, a16) for GemmArgs::packed_a, in the active
// kernel's layout: gemm_packed_a_floats(g) floats at dst (64-byte aligned). Valid while the active
// kernel stays the same (setAmx, setIsa change it).
size_t gemm_packed_a_floats(const GemmArgs& g);
void gemm_pack_a(float* dst, const GemmArgs& g);

// The packed op(B) of g (B, ldb, trans_b, N, K; fp32) for GemmArgs::packed_b: the active kernel's
// NR-column panels of one block, gemm_packed_b_floats(g) floats at dst (64-byte aligned). 0 floats
// where the active kernel would not pack op(B) in one block (K > kc or N > nc, bf16 panels): then
// leave packed_b null. Valid while the active kernel stays the same.
size_t gemm_packed_b_floats(const GemmArgs& g);
void gemm_pack_b(float* dst, const GemmArgs& g);

// dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols, block by block (gemm's transposed
// products; ops' transpose).
void copy_transposed(float* dst, long ldd, const float* src, long lds, long rows, long cols);

// The token mixer's gate_up product with SwiGLU in its epilogue: for each item b < batch,
//   G = W[0:H] X_b, U = W[H:2H] X_b  (W (2H, K) row-major, shared; X_b (K, N) at X + b*K*N),
//   out_b (H, N) at out + b*H*N = silu(G) * U, and, when gate_up is not null, gate_up_b (2H, N) at
//   gate_up + b*2H*N = [G; U] (the pre-activation the backward reads).
// G and U of one register tile go through a small L1 buffer, never through memory: without
// gate_up the product writes half the bytes of gemm + swiglu_forward and reads nothing back.
// gate_up is bitwise gemm's (same k blocks, same micro-kernel), for any thread count; out is
// swiglu_forward's expression on it, with a vectorised exp on the AVX-512 paths (within 2 ulp of
// std::exp, so out may differ from swiglu_forward in the last bits there; the scalar paths are
// bitwise the same). bf16: operands rounded to bf16 as in gemm.
// kept16 (bf16 only): out and gate_up are bfloat16 tensors (uint16_t): each value is rounded to bf16
// (nearest even, denormals to zero, as the bf16 packs round) as it is stored, so a product reading
// it later gets the bits it would have got from the fp32 value.
void gemm_swiglu(void* out, void* gate_up, const float* X, const float* W, long H, long N, long K, long batch,
                 bool bf16, bool kept16 = false);

// The channel MLP's gate_up product with SwiGLU in its epilogue (row layout, the transpose of
// gemm_swiglu's): with G = X W[0:I]^T and U = X W[I:2I]^T (X (N, D) row-major, W (2I, D) row-major),
//   out (N, I) = silu(G) * U, and, when gate_up is not null, gate_up (N, 2I) = [G | U] per row.
// Each register tile of G and the tile of U at the same rows and columns (gate column j, up column
// I + j) go through an L1 buffer, as in gemm_swiglu. gate_up is bitwise gemm's (X, W^T) (same k
// blocks, same micro-kernel), out bitwise swiglu_forward's on it, for any thread count.
void linear_swiglu(void* out, void* gate_up, const float* X, const float* W, long N, long D, long I, bool bf16,
                   bool kept16 = false);

// The backwards of the two: the product dh = op(A) op(B) with SwiGLU's backward in its epilogue,
// dh never written. Row layout (the channel MLP): dh (N, I) = dout (N, D) @ W (D, I) (W row-major:
// the down weight), and per row dgate_up (N, 2I) [dg | du] = 0 + SwiGLU's gradients from dh and
// gate_up (N, 2I). Item layout (the token mixer): per item b, dh_b (H, N) = WT (H, K) @ dout_b (K, N)
// (WT shared, dout_b at dout + b*K*N), gate rows [0, H) and up rows [H, 2H) of gate_up_b and
// dgate_up_b (2H, N) at b*2H*N. dgate_up += the gradients (bitwise swiglu_backward on
// the dh that gemm gives, for any thread count); fresh: dgate_up = 0 + them, never read (bitwise a
// zeroed dgate_up accumulated into). kept16 (bf16 only): gate_up is a bfloat16 tensor (uint16_t),
// widened exactly to fp32 before the epilogue reads it. d16 (bf16 and fresh only): dgate_up is a
// bfloat16 tensor, the gradients rounded as they are stored (what the bf16 products that read it
// next would round them to).
void linear_swiglu_backward(void* dgate_up, const float* dout, const void* gate_up, const float* W, long N, long D,
                            long I, bool bf16, bool fresh, bool kept16 = false, bool d16 = false);
// packed_wt (optional): WT already packed by gemm_pack_a (M = H, K, A = WT, lda = K, bf16), as a caller
// running many batch-1 calls with one WT passes it; the same packed values, so the same bits.
// next, next_bytes (optional): memory the caller reads next (its next item's kept gate_up), prefetched
// into L2 a share per register tile while this call computes.
// recompute_x (optional; fp32 only, with both packs): gate_up (null) is not read but made again tile by tile beside
// each dh tile, [G; U]_b = W_gu @ recompute_x_b (recompute_x_b (K, N) at b*K*N, W_gu (2H, K)), from
// packed_wg and packed_wu, W_gu's gate and up rows packed by gemm_pack_a as two (H, K) operands: each
// element the same k-ordered sum as the product made whole (gemm), so the same bits.
void gemm_swiglu_backward(void* dgate_up, const float* dout, const void* gate_up, const float* WT, long H, long N,
                          long K, long batch, bool bf16, bool fresh, bool kept16 = false, bool d16 = false,
                          const float* packed_wt = nullptr, const void* next = nullptr, long next_bytes = 0,
                          const float* recompute_x = nullptr, const float* packed_wg = nullptr,
                          const float* packed_wu = nullptr);

// Micro-kernel: C[0:m, 0:n] (ldc) = alpha * Apanel * Bpanel + beta * C, where Apanel is kc x MR
// (k-major, pa[k*MR + i]) and Bpanel kc x NR (pb[k*NR + j]); m <= MR, n <= NR. beta == 0 never
// reads C.
typedef void (*GemmMicroKernel)(long kc, const float* pa, const float* pb, float* c, long ldc,
                                long m, long n, float alpha, float beta);

// Packs one MR-row strip of a row-major A (A[i*lda + k], rows 0..mr-1, the rest zero) into
// k-major order dst[k*MR + i], for k in [0, kc). Optional per path; the driver has a generic one.
typedef void (*GemmPackStrip)(float* dst, const float* A, long lda, long mr, long kc);
// The same packs from bf16-stored operands (GemmArgs a16 / b16; ld in bf16 elements).
typedef void (*GemmPackStrip16)(float* dst, const uint16_t* A, long lda, long mr, long kc);

// Optional fp32 variants of the micro-kernel (same FMAs in the same order, so the same bits; see
// kernel_avx512.cpp): op(A)'s strip read in place from a row-major A (A[i*lda + k]); the tile
// copying rows of the next B panel as it computes (dst[r*NR + j] = src[r*ld + j] for r < rows <=
// kc / 4, j < NR: full panels; rows up to `more` follow at the same stride and are prefetched); a narrow
// panel (n <= cols_max columns; kernel_cols) of up to cols_strips consecutive packed strips (m rows
// in all, strip t at pa + t * kc * MR) with the rows in the lanes. kernel_cols also exists for the
// VDPBF16PS kernel (kc then counts k pairs, as the tile's), where the general loop runs the narrow
// last panel of every bf16 product on it.
typedef void (*GemmDirectAKernel)(long kc, const float* A, long lda, const float* pb, float* c, long ldc, long m,
                                  long n, float alpha, float beta);
// The last full panel of a strip read in place from a row-major A (as kernel_direct_a, m <= MR, n
// <= NR) together with a one-column narrow panel after it: pbn[k * NR] is that column's packed B,
// cn its C (cn[i * ldc]); the same bits as kernel_direct_a followed by kernel_cols_a.
typedef void (*GemmDirectCol1Kernel)(long kc, const float* A, long lda, const float* pb, float* c, long ldc, long m,
                                     long n, float alpha, float beta, const float* pbn, float* cn);
// The tile on a full NR-column panel of a row-major B read in place (B[k * ldb + j], j < NR; n == NR),
// A packed as for the micro-kernel: the same bits as the micro-kernel on the packed panel.
typedef void (*GemmDirectBKernel)(long kc, const float* pa, const float* B, long ldb, float* c, long ldc, long m,
                                  long n, float alpha, float beta);
typedef void (*GemmCopyBKernel)(long kc, const float* pa, const float* pb, float* c, long ldc, long m, long n,
                                float alpha, float beta, const float* src, long ld, float* dst, long rows, long more);
// kernel_direct_a asking, under its FMAs, for `lines` lines of each of `rows` rows (ld floats apart)
// from `next` on: the next strip's rows, which the A-in-place path would otherwise meet cold.
typedef void (*GemmDirectANextKernel)(long kc, const float* A, long lda, const float* pb, float* c, long ldc, long m,
                                      long n, float alpha, float beta, const float* next, long ld, long rows,
                                      long lines);

// n floats rounded to bf16 values in place (gemm.cpp round_bf16_inplace's rule) on AVX2
// (kernel_avx2.cpp): the emulated bf16 products' packs, on CPUs without VDPBF16PS.
void round_bf16_avx2(float* p, long n);

// copy_transposed's 8 x 8 blocks in registers on AVX2 (kernel_avx2.cpp; gemm.cpp calls it on AVX2, and the
// AVX-512 copy for its edges): dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols.
void copy_transposed_avx2(float* dst, long ldd, const float* src, long lds, long rows, long cols);
// ... and in 16 x 16 blocks on AVX-512 (kernel_avx512.cpp), its edges through copy_transposed_avx2.
void copy_transposed_avx512(float* dst, long ldd, const float* src, long lds, long rows, long cols);

struct GemmKernelInfo {
  GemmMicroKernel kernel;
  GemmPackStrip pack_a_rowmajor;  // may be null
  GemmPackStrip pack_b_colmajor;  // the same for an NR-column panel of a transposed B; may be null
  GemmPackStrip pack_a_colmajor;  // strip of a transposed A (A[k*lda + i]); may be null
  // Panels [p0, p1) of a plain B (B[k*ldb + j], nc columns from B): dst + p*kc*NR, reading B row
  // by row (k outer) so the hardware prefetcher sees one sequential stream; may be null.
  void (*pack_b_rowmajor)(float* dst, const float* B, long ldb, long nc, long kc, long p0, long p1);
  int mr, nr;          // register tile
  int mc, kc, nc;      // cache blocking: A block mc x kc (L2), B block kc x nc (L3)
  const char* name;
  // k values per packed 32-bit slot: 1 (fp32), 2 (bf16 pairs: the packs write ceil(kc/2) slots per
  // row or column and the micro-kernel gets the slot count as kc).
  int kpack = 1;
  // Emulated bf16: the driver rounds every packed panel to bf16 values (kept as fp32) in place.
  bool round_bf16 = false;
  // The tile prefetches the C tile below its own (the AMX kernel): the general loop keeps its
  // panel-outer order for it, where that tile is the next call's (gemm.cpp, strip_outer_fits).
  bool prefetches_c_below = false;
  // Sets (fn non-null) or clears a call the kernel makes on this thread after each k step's products
  // are issued, for vector work that overlaps the tile unit's (the fused kernels' epilogue of the tile
  // before); the call must not touch tile registers. Null: a kernel without such a hook (not AMX).
  void (*set_step_hook)(void (*fn)(void*), void* ctx) = nullptr;
  // Packs from bf16-stored operands (null: the driver's generic ones).
  GemmPackStrip16 pack_a_rowmajor16 = nullptr, pack_b_colmajor16 = nullptr, pack_a_colmajor16 = nullptr;
  void (*pack_b_rowmajor16)(float* dst, const uint16_t* B, long ldb, long nc, long kc, long p0, long p1) = nullptr;
  // A whole A block (mc rows; strip s at dst + s * kcp * MR) of a transposed A (A[k*lda + i]), the same
  // layout as pack_a_colmajor(16) strip by strip, read in an order that suits the source; may be null.
  void (*pack_a_colmajor_block)(float* dst, const float* A, long lda, long mc, long kc) = nullptr;
  void (*pack_a_colmajor_block16)(float* dst, const uint16_t* A, long lda, long mc, long kc) = nullptr;
  // n fp32 values to bf16 (rounded as the packs round) and back (exact); null: the driver's scalar ones.
  void (*to_bf16)(uint16_t* dst, const float* src, long n) = nullptr;
  // 32 fp32 values rounded as to_bf16 rounds and stored past the caches as one whole 64-byte line
  // (dst 64-byte aligned; the caller fences); null: the driver streams to_bf16's output in pieces.
  void (*to_bf16_line_nt)(uint16_t* dst, const float* src) = nullptr;
  void (*from_bf16)(float* dst, const uint16_t* src, long n) = nullptr;
  // The bf16 SwiGLU epilogue rows (ops.h swiglu_pair_bf16 / swiglu_backward_pair_bf16) with bf16
  // storage fused in (bitwise the same as those followed by to_bf16 / preceded by from_bf16); null:
  // the driver composes them. g16: g, u are bf16; d16: dg, du are bf16 (written fresh; with stream, a
  // 32-wide row whose dg and du are whole 64-byte lines is stored non-temporally: the caller fences).
  void (*swiglu_to16)(uint16_t* y, const float* g, const float* u, long n) = nullptr;
  void (*swiglu_backward16)(void* dg, void* du, const float* dy, const void* g, const void* u, long n, bool acc,
                            bool g16, bool d16, bool stream) = nullptr;
  GemmDirectAKernel kernel_direct_a = nullptr;
  GemmDirectAKernel kernel_direct_at = nullptr;  // the same for a transposed A (A[k*lda + i])
  GemmDirectANextKernel kernel_direct_a_next = nullptr;  // (AVX2: gemm.cpp's A-in-place path)
  GemmCopyBKernel kernel_copy_b = nullptr;
  GemmDirectBKernel kernel_direct_b = nullptr;  // (AVX2: products of few strips, gemm.cpp kDirectBStrips)
  GemmMicroKernel kernel_cols = nullptr;
  // The narrow panel of up to cols_strips * MR rows (<= 128) read in place from a row-major A
  // (A[i*lda + k]) instead of from packed strips; same bits as kernel_cols.
  GemmDirectAKernel kernel_cols_a = nullptr;
  GemmDirectCol1Kernel kernel_direct_col1 = nullptr;
  // A last panel of 16 < n <= 16 + cols_max columns read in place from a row-major A (as
  // kernel_direct_a, m <= MR): its first 16 columns as a one-vector tile, the rest with the rows in the
  // lanes; the same bits as kernel_direct_a on the whole panel. Null: kernel_direct_a runs it.
  GemmDirectAKernel kernel_direct_col16 = nullptr;
  int cols_max = 0, cols_strips = 0;
  // Rows that would end in a strip of 1 or 2 rows end instead in strips of MR - 1 rows (gemm.cpp
  // tail_start): a short strip's few accumulator chains wait on the FMA latency.
  bool tail_strips = false;
};

GemmKernelInfo gemm_kernel_avx512();
GemmKernelInfo gemm_kernel_avx2();
GemmKernelInfo gemm_kernel_portable();
GemmKernelInfo gemm_kernel_avx512_bf16();  // AVX512_BF16: bf16 pairs, VDPBF16PS
GemmKernelInfo gemm_kernel_amx_bf16();     // AMX-BF16 tiles (TDPBF16PS), the same B panels

// The kernel gemm() uses now for fp32 (bf16 = false) or bf16 operands, for the active path.
GemmKernelInfo gemm_active_kernel(bool bf16);

// The largest packed B block (KiB) whose tiles run strip-outer (each A strip across all its panels)
// instead of panel-outer: 512, or TRM_GEMM_STRIP_OUTER_KIB read once. Either order, the same bits.
long gemm_strip_outer_kib();

// The fast paths (GemmKernelInfo's kernel_direct_a / kernel_copy_b / kernel_cols, and sums
// computed as their transpose, the one fast path of kernels without the others; bf16: kernel_cols)
// on (default; TRM_GEMM_FAST=0 starts with them off) or off. Either way the same bits. Returns
// whether they are on now (every fp32 kernel has at least the sums by transpose).
bool gemm_set_fast_paths(bool on);

// Peak single-precision FMA throughput of one thread on the given path, in GFLOP/s, measured by a
// loop of independent register-only FMAs running for about `seconds`.
double fma_peak_avx512(double seconds);
double fma_peak_avx2(double seconds);
// The same for VDPBF16PS (64 flops per zmm instruction): the bf16 peak.
double bf16_peak_avx512(double seconds);
// The same for AMX's TDPBF16PS (16 x 16 x 32 multiply-adds per instruction); 0 where not built.
double bf16_peak_amx(double seconds);

// The calling thread's tile configuration may have been changed by code outside this library (another
// native module of the process, or another copy of this one, on the JavaScript thread between two
// calls): the AMX kernel, which loads its configuration only when it differs from the one it last
// loaded on this thread, loads it again at its next call. The thread pool calls this on entering a
// top-level region (threadpool.cpp); its own workers run nothing else, so they keep theirs.
void amx_config_unknown();

}  // namespace trm
