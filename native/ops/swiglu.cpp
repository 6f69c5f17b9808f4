// swiglu.cpp: the gated activation of the SwiGLU MLP (reference/trm-algorithm.md 2.2):
// out = silu(gate) * up, where row r of gateUp (N, 2H) is [gate (H) | up (H)].
// Backward adds into dgateUp: dgate += dout * up * sig * (1 + gate * (1 - sig)), dup += dout * silu(gate).
// exp is fast_exp.h's fast_exp_neg (the AVX-512 and AVX2 paths, swiglu_avx512.cpp and swiglu_avx2.cpp,
// give the same bits). Its FMAs are explicit; no other product and sum may fuse into one (fp-contract=off,
// as in the ISA files: a compiler targeting FMA hardware would otherwise be free to).
// no-trapping-math lets GCC turn fast_exp's clamps into minps/maxps (it changes no result, only whether FP
// exception flags may be raised).
#pragma GCC optimize("no-trapping-math")
#pragma GCC optimize("fp-contract=off")
#include <cstdint>
#include <cstring>

#include "../cpu_features.h"
#include "fast_exp.h"
#include "ops.h"

namespace trm {

void swiglu_forward_rows_avx512(float* out, const float* gate_up, long r0, long r1, long H);
void swiglu_backward_rows_avx512(float* dgate_up, const float* dout, const float* gate_up, long r0, long r1, long H);
void swiglu_forward_rows_avx2(float* out, const float* gate_up, long r0, long r1, long H);
void swiglu_backward_rows_avx2(float* dgate_up, const float* dout, const float* gate_up, long r0, long r1, long H);

void swiglu_pair_avx512(float* y, const float* g, const float* u, long n);
void swiglu_backward_pair_avx512(float* dg, float* du, const float* dy, const float* g, const float* u, long n,
                                 bool acc);
void swiglu_backward_pair_avx2(float* dg, float* du, const float* dy, const float* g, const float* u, long n,
                               bool acc);
void swiglu_pair_avx2(float* y, const float* g, const float* u, long n);
void swiglu_tile_avx2(float* y, long ldy, const float* g, const float* u, long ldt, long mr, long nr);
void swiglu_tile_avx512(float* y, long ldy, const float* g, const float* u, long ldt, long mr, long nr);
void swiglu_backward_tile_avx512(float* dg, float* du, long ldd, const float* dy, long ldy, const float* g,
                                 const float* u, long ldg, long mr, long nr, bool acc);
void swiglu_backward_tile_avx2(float* dg, float* du, long ldd, const float* dy, long ldy, const float* g,
                               const float* u, long ldg, long mr, long nr, bool acc);

void swiglu_panels_avx512(float* yp, long pstride, float* y, const float* g, const float* u, long rows, long D);
void swiglu_panels_avx2(float* yp, long pstride, float* y, const float* g, const float* u, long rows, long D);
void swiglu_panels_kept_avx2(float* yp, long pstride, float* y, const float* g, const float* u, float* gk, float* uk,
                             long rows, long D);

void swiglu_pair_bf16_avx512(float* y, const float* g, const float* u, long n);
void swiglu_backward_pair_bf16_avx512(float* dg, float* du, const float* dy, const float* g, const float* u, long n,
                                      bool acc);

void swiglu_pair_bf16(float* y, const float* g, const float* u, long n) {
#if defined(__x86_64__)
  if (active_isa() == Isa::Avx512) return swiglu_pair_bf16_avx512(y, g, u, n);
#endif
  swiglu_pair(y, g, u, n);
}

void swiglu_backward_pair_bf16(float* dg, float* du, const float* dy, const float* g, const float* u, long n,
                               bool acc) {
#if defined(__x86_64__)
  if (active_isa() == Isa::Avx512) return swiglu_backward_pair_bf16_avx512(dg, du, dy, g, u, n, acc);
#endif
  swiglu_backward_pair(dg, du, dy, g, u, n, acc);
}

void swiglu_pair(float* y, const float* g, const float* u, long n) {
#if defined(__x86_64__)
  if (active_isa() == Isa::Avx512) return swiglu_pair_avx512(y, g, u, n);
  if (active_isa() == Isa::Avx2) return swiglu_pair_avx2(y, g, u, n);
#endif
  for (long h = 0; h < n; h++) y[h] = g[h] / (1.0f + fast_exp_neg(g[h])) * u[h];
}

long swiglu_panels_width() {
#if defined(__x86_64__)
  if (active_isa() == Isa::Avx512) return 32;
  if (active_isa() == Isa::Avx2) return 16;
#endif
  return 0;
}

void swiglu_panels(float* yp, long pstride, float* y, const float* g, const float* u, long rows, long D) {
#if defined(__x86_64__)
  if (active_isa() == Isa::Avx512) return swiglu_panels_avx512(yp, pstride, y, g, u, rows, D);
  if (active_isa() == Isa::Avx2) return swiglu_panels_avx2(yp, pstride, y, g, u, rows, D);
#endif
  (void)yp, (void)pstride, (void)y, (void)g, (void)u, (void)rows, (void)D;  // (swiglu_panels_width() is 0)
}

// AVX2 only: measured on Zen 2 (fused.cpp token_mixer_norm_forward). An AVX-512 twin (the same panel
// loop with 64-byte streamed stores) ran cpu-sudoku9's step even on a 2-vCPU Zen 5 (x1.002, one
// process), so the AVX-512 path keeps its plain stores.
bool swiglu_panels_streams_kept(long D) {
#if defined(__x86_64__)
  if (active_isa() == Isa::Avx2) return D % 64 == 0;
#endif
  (void)D;
  return false;
}

void swiglu_panels_kept(float* yp, long pstride, float* y, const float* g, const float* u, float* gk, float* uk,
                        long rows, long D) {
  const auto aligned = [](const float* p) { return (reinterpret_cast<uintptr_t>(p) & 31) == 0; };
#if defined(__x86_64__)
  if (swiglu_panels_streams_kept(D) && aligned(y) && aligned(gk) && aligned(uk))
    return swiglu_panels_kept_avx2(yp, pstride, y, g, u, gk, uk, rows, D);
#endif
  (void)aligned;
  swiglu_panels(yp, pstride, y, g, u, rows, D);
  std::memcpy(gk, g, rows * D * sizeof(float));
  std::memcpy(uk, u, rows * D * sizeof(float));
}

void swiglu_tile(float* y, long ldy, const float* g, const float* u, long ldt, long mr, long nr) {
#if defined(__x86_64__)
  if (active_isa() == Isa::Avx512) return swiglu_tile_avx512(y, ldy, g, u, ldt, mr, nr);
  if (active_isa() == Isa::Avx2) return swiglu_tile_avx2(y, ldy, g, u, ldt, mr, nr);
#endif
  for (long i = 0; i < mr; i++) swiglu_pair(y + i * ldy, g + i * ldt, u + i * ldt, nr);
}

void swiglu_forward_rows(float* out, const float* gate_up, long r0, long r1, long H) {
#if defined(__x86_64__)
  if (active_isa() == Isa::Avx512) return swiglu_forward_rows_avx512(out, gate_up, r0, r1, H);
  if (active_isa() == Isa::Avx2) return swiglu_forward_rows_avx2(out, gate_up, r0, r1, H);
#endif
  for (long i = r0; i < r1; i++) {
    const float* g = gate_up + i * 2 * H;
    const float* u = g + H;
    float* y = out + i * H;
    for (long h = 0; h < H; h++) y[h] = g[h] / (1.0f + fast_exp_neg(g[h])) * u[h];
  }
}

void swiglu_backward_pair(float* dg, float* du, const float* dy, const float* g, const float* u, long n, bool acc) {
#if defined(__x86_64__)
  if (active_isa() == Isa::Avx512) return swiglu_backward_pair_avx512(dg, du, dy, g, u, n, acc);
  if (active_isa() == Isa::Avx2) return swiglu_backward_pair_avx2(dg, du, dy, g, u, n, acc);
#endif
  for (long h = 0; h < n; h++) {
    float sig = 1.0f / (1.0f + fast_exp_neg(g[h]));
    float gu = g[h], up = u[h], d = dy[h];
    dg[h] = (acc ? dg[h] : 0.0f) + d * up * sig * (1.0f + gu * (1.0f - sig));
    du[h] = (acc ? du[h] : 0.0f) + d * gu * sig;
  }
}

void swiglu_backward_tile(float* dg, float* du, long ldd, const float* dy, long ldy, const float* g, const float* u,
                          long ldg, long mr, long nr, bool acc) {
#if defined(__x86_64__)
  if (active_isa() == Isa::Avx512) return swiglu_backward_tile_avx512(dg, du, ldd, dy, ldy, g, u, ldg, mr, nr, acc);
  if (active_isa() == Isa::Avx2) return swiglu_backward_tile_avx2(dg, du, ldd, dy, ldy, g, u, ldg, mr, nr, acc);
#endif
  for (long i = 0; i < mr; i++)
    swiglu_backward_pair(dg + i * ldd, du + i * ldd, dy + i * ldy, g + i * ldg, u + i * ldg, nr, acc);
}

void swiglu_backward_rows(float* dgate_up, const float* dout, const float* gate_up, long r0, long r1, long H) {
  for (long i = r0; i < r1; i++) {
    const float* g = gate_up + i * 2 * H;
    float* dg = dgate_up + i * 2 * H;
    swiglu_backward_pair(dg, dg + H, dout + i * H, g, g + H, H, true);
  }
}

void swiglu_forward(float* out, const float* gate_up, long N, long H) {
  parallel_for(N, N * H, [&](long lo, long hi) { swiglu_forward_rows(out, gate_up, lo, hi, H); });
}

void swiglu_backward(float* dgate_up, const float* dout, const float* gate_up, long N, long H) {
  parallel_for(N, N * H, [&](long lo, long hi) { swiglu_backward_rows(dgate_up, dout, gate_up, lo, hi, H); });
}

}  // namespace trm
