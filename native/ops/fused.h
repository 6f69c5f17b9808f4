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

// Whether token_mixer_norm_backward recomputes gate_up from the block input instead of reading the
// forward's (short sequences, S <= 24: there the product costs less than the memory traffic of a
// kept gate_up, 2Is/S times the input), so the forward does not keep it.
bool token_mixer_recomputes_gate_up(long S);

// Per item b: gate_up_b (2Is, D) = w_gate_up (2Is, S) @ inp_b (S, D); h_b = swiglu(gate_up_b) as one
// row [gate (Is*D) | up (Is*D)]; r_b (S, D) = w_down (S, Is) @ h_b + inp_b; out_b, rstd_b (D) =
// the sequence-axis RMSNorm of r_b. Saves h, rstd and, unless the backward recomputes it
// (token_mixer_recomputes_gate_up), gate_up; r is scratch (B, S, D). A gate_up not kept, and
// everything when keep = false (no backward follows), goes to per-thread scratch that stays in cache:
// the caller's buffers are not written.
void token_mixer_norm_forward(float* out, float* rstd, float* gate_up, float* h, float* r, const float* inp,
                              const float* w_gate_up, const float* w_down, long B, long S, long D, long Is,
                              double eps, bool keep);

// Per row: gate_up (2I) = w_gate_up (2I, D) @ inp (D); h (I) = swiglu(gate_up); r (D) = w_down (D, I)
// @ h + inp; out, rstd = the hidden-axis RMSNorm of r. inp, out, r (N, D); gate_up (N, 2I); h (N, I).
// keep = false: gate_up and h go to per-thread scratch, the caller's are not written.
void mlp_norm_forward(float* out, float* rstd, float* gate_up, float* h, float* r, const float* inp,
                      const float* w_gate_up, const float* w_down, long N, long D, long I, double eps, bool keep);

// Whether the weights the fused kernels get stay the same until the next call (on: a supervision
// step's forward and backward; off: the optimizer may change them): while on, each pool thread keeps
// its packs of them between calls (fused.cpp, frozen_pack).
void set_weights_frozen(bool on);

// The backward of mlp_norm_forward without its weight gradients (the caller's GEMMs over all rows,
// from dr and dgate_up): dr (N, D) = the RMSNorm backward of dout through (out, rstd); dh (N, I) =
// dr @ w_down; dgate_up (N, 2I) = the SwiGLU backward of dh; dinp (N, D) += dr + dgate_up @ w_gate_up.
// dr and dgate_up are written (scratch the caller keeps for the weight gradients); dh is scratch the
// native kernel never writes (dh stays in registers: linear_swiglu_backward's epilogue). fresh: dinp =
// instead of += (bitwise a zero fill of dinp before; dinp is not read).
void mlp_norm_backward(float* dinp, float* dr, float* dh, float* dgate_up, const float* dout, const float* out,
                       const float* rstd, const float* gate_up, const float* w_gate_up, const float* w_down, long N,
                       long D, long I, bool fresh = false);

// The backward of token_mixer_norm_forward without its weight gradients: per item, gate_up_b (2Is, D)
// = the forward's, or, where token_mixer_recomputes_gate_up(S), w_gate_up @ inp_b recomputed (the
// forward's product, so the same bits; in per-thread scratch); dr_b (S, D) = the sequence-axis
// RMSNorm backward; dh_b (Is, D) = w_down_t (Is, S) @ dr_b; dgate_up_b = the SwiGLU backward; dinp_b
// += dr_b + w_gate_up_t (S, 2Is) @ dgate_up_b. w_down_t and w_gate_up_t are the transposed weights
// (the caller's transpose kernel). dr and dgate_up are written; dh is scratch the native kernel
// never writes (gemm_swiglu_backward's epilogue). fresh: as mlp_norm_backward's.
void token_mixer_norm_backward(float* dinp, float* dr, float* dh, float* dgate_up, const float* dout,
                               const float* out, const float* rstd, const float* gate_up, const float* inp,
                               const float* w_gate_up, const float* w_gate_up_t, const float* w_down_t, long B,
                               long S, long D, long Is, bool fresh = false);

}  // namespace trm
