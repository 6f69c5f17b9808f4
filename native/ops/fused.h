// fused.h: the small-model kernels: one post-norm half-block of TRM in one call, one parallel region
// (src/kernels/backend.ts: tokenMixerNormForward, mlpNormForward). Each part of the region runs the
// whole chain (GEMM, SwiGLU, GEMM, residual add, RMSNorm) on its own batch items or rows, with the
// intermediates still in cache and no hand-off between the ops; the ops inside run single-threaded
// (nested regions run inline). Every element is computed by exactly the arithmetic of the unfused
// kernels (the GEMM's k order does not depend on how rows or items are split), so the results are
// bitwise those of the op-by-op sequence, for any thread count.
#pragma once

namespace trm {

// Rows [r0, r1) of swiglu_forward / swiglu_backward (swiglu.cpp), on the calling thread.
void swiglu_forward_rows(float* out, const float* gate_up, long r0, long r1, long H);
void swiglu_backward_rows(float* dgate_up, const float* dout, const float* gate_up, long r0, long r1, long H);

// Per item b: gate_up_b (2Is, D) = w_gate_up (2Is, S) @ inp_b (S, D); h_b = swiglu(gate_up_b) as one
// row [gate (Is*D) | up (Is*D)]; r_b (S, D) = w_down (S, Is) @ h_b + inp_b; out_b, rstd_b (D) =
// the sequence-axis RMSNorm of r_b. Saves gate_up, h, rstd; r is scratch (B, S, D).
void token_mixer_norm_forward(float* out, float* rstd, float* gate_up, float* h, float* r, const float* inp,
                              const float* w_gate_up, const float* w_down, long B, long S, long D, long Is,
                              double eps);

// Per row: gate_up (2I) = w_gate_up (2I, D) @ inp (D); h (I) = swiglu(gate_up); r (D) = w_down (D, I)
// @ h + inp; out, rstd = the hidden-axis RMSNorm of r. inp, out, r (N, D); gate_up (N, 2I); h (N, I).
void mlp_norm_forward(float* out, float* rstd, float* gate_up, float* h, float* r, const float* inp,
                      const float* w_gate_up, const float* w_down, long N, long D, long I, double eps);

}  // namespace trm
