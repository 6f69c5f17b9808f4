// binding_fused.cpp: Node-API entry points of the fused small-model kernels (ops/fused.h), same
// names and argument order as src/kernels/backend.ts; every buffer's length is checked first.
#include <initializer_list>

#include "napi_util.h"
#include "gemm/sum_nt.h"
#include "ops/fused.h"

namespace trm {
namespace {

using Info = Napi::CallbackInfo;

size_t prod(const Args& a, std::initializer_list<long> dims) {
  size_t p = 1;
  for (long d : dims)
    if (__builtin_mul_overflow(p, (size_t)d, &p)) a.fail("sizes overflow");
  return p;
}

float* f32(const Args& a, size_t i, const char* name, size_t need) {
  size_t len;
  float* p = a.f32(i, &len);
  a.check_len(name, len, need);
  return p;
}

// tokenMixerNormForward(out, rstd, gateUp, h, r, inp, wGateUp, wDown, B, S, D, Is, eps, keep)
Napi::Value TokenMixerNormForward(const Info& info) {
  Args a{info, "tokenMixerNormForward"};
  a.expect_count(14);
  long B = a.i64s(8), S = a.i64s(9), D = a.i64s(10), Is = a.i64s(11);
  size_t bsd = prod(a, {B, S, D});
  token_mixer_norm_forward(f32(a, 0, "out", bsd), f32(a, 1, "rstd", prod(a, {B, D})),
                           f32(a, 2, "gateUp", prod(a, {B, 2, Is, D})), f32(a, 3, "h", prod(a, {B, Is, D})),
                           f32(a, 4, "r", bsd), f32(a, 5, "inp", bsd), f32(a, 6, "wGateUp", prod(a, {2, Is, S})),
                           f32(a, 7, "wDown", prod(a, {S, Is})), B, S, D, Is, a.f64s(12), a.flag(13));
  return info.Env().Undefined();
}

// mlpNormForward(out, rstd, gateUp, h, r, inp, wGateUp, wDown, N, D, I, eps, keep)
Napi::Value MlpNormForward(const Info& info) {
  Args a{info, "mlpNormForward"};
  a.expect_count(13);
  long N = a.i64s(8), D = a.i64s(9), I = a.i64s(10);
  size_t nd = prod(a, {N, D});
  mlp_norm_forward(f32(a, 0, "out", nd), f32(a, 1, "rstd", N), f32(a, 2, "gateUp", prod(a, {N, 2, I})),
                   f32(a, 3, "h", prod(a, {N, I})), f32(a, 4, "r", nd), f32(a, 5, "inp", nd),
                   f32(a, 6, "wGateUp", prod(a, {2, I, D})), f32(a, 7, "wDown", prod(a, {D, I})), N, D, I,
                   a.f64s(11), a.flag(12));
  return info.Env().Undefined();
}

// mlpNormBackward(dinp, dr, dh, dgateUp, dout, out, rstd, gateUp, wGateUp, wDown, N, D, I, fresh)
Napi::Value MlpNormBackward(const Info& info) {
  Args a{info, "mlpNormBackward"};
  a.expect_count(14);
  long N = a.i64s(10), D = a.i64s(11), I = a.i64s(12);
  size_t nd = prod(a, {N, D}), n2i = prod(a, {N, 2, I});
  mlp_norm_backward(f32(a, 0, "dinp", nd), f32(a, 1, "dr", nd), f32(a, 2, "dh", prod(a, {N, I})),
                    f32(a, 3, "dgateUp", n2i), f32(a, 4, "dout", nd), f32(a, 5, "out", nd), f32(a, 6, "rstd", N),
                    f32(a, 7, "gateUp", n2i), f32(a, 8, "wGateUp", prod(a, {2, I, D})),
                    f32(a, 9, "wDown", prod(a, {D, I})), N, D, I, a.flag(13));
  return info.Env().Undefined();
}

// tokenMixerNormBackward(dinp, dr, dh, dgateUp, dout, out, rstd, gateUp, inp, wGateUp, wGateUpT, wDownT, B, S, D,
// Is, fresh): gateUp is the forward's, unless the kernel recomputes it (token_mixer_recomputes_gate_up)
Napi::Value TokenMixerNormBackward(const Info& info) {
  Args a{info, "tokenMixerNormBackward"};
  a.expect_count(17);
  long B = a.i64s(12), S = a.i64s(13), D = a.i64s(14), Is = a.i64s(15);
  size_t bsd = prod(a, {B, S, D}), gu = prod(a, {B, 2, Is, D});
  token_mixer_norm_backward(f32(a, 0, "dinp", bsd), f32(a, 1, "dr", bsd), f32(a, 2, "dh", prod(a, {B, Is, D})),
                            f32(a, 3, "dgateUp", gu), f32(a, 4, "dout", bsd), f32(a, 5, "out", bsd),
                            f32(a, 6, "rstd", prod(a, {B, D})), f32(a, 7, "gateUp", gu), f32(a, 8, "inp", bsd),
                            f32(a, 9, "wGateUp", prod(a, {2, Is, S})), f32(a, 10, "wGateUpT", prod(a, {S, 2, Is})),
                            f32(a, 11, "wDownT", prod(a, {Is, S})), B, S, D, Is,
                            a.flag(16));
  return info.Env().Undefined();
}

// The elements the item sums' operands span: (batch - 1) strides plus one item; nothing is read when
// an extent is empty.
void sum_nt_extents(const Args& a, long M, long N, long K, long batch, long sa, long sb, size_t* ea, size_t* eb) {
  const bool used = batch > 0 && M > 0 && N > 0 && K > 0;
  *ea = used ? prod(a, {batch - 1, sa}) + prod(a, {M, K}) : 0;
  *eb = used ? prod(a, {batch - 1, sb}) + prod(a, {N, K}) : 0;
}

// gemmSumNT(C, A, B, M, N, K, batch, strideA, strideB, beta): gemm/sum_nt.h gemm_sum_nt.
Napi::Value GemmSumNT(const Info& info) {
  Args a{info, "gemmSumNT"};
  a.expect_count(10);
  long M = a.i64s(3), N = a.i64s(4), K = a.i64s(5), batch = a.i64s(6), sa = a.i64s(7), sb = a.i64s(8);
  size_t ea, eb;
  sum_nt_extents(a, M, N, K, batch, sa, sb, &ea, &eb);
  gemm_sum_nt(f32(a, 0, "C", prod(a, {M, N})), f32(a, 1, "A", ea), f32(a, 2, "B", eb), M, N, K, batch, sa, sb,
              (float)a.f64s(9));
  return info.Env().Undefined();
}

// gemmSumNTBf16(C, A, B, M, N, K, batch, strideA, strideB, beta): gemm/sum_nt.h gemm_sum_nt_bf16; A and B
// each a Float32Array or a Uint16Array of bfloat16 values (lengths and strides in elements).
Napi::Value GemmSumNTBf16(const Info& info) {
  Args a{info, "gemmSumNTBf16"};
  a.expect_count(10);
  long M = a.i64s(3), N = a.i64s(4), K = a.i64s(5), batch = a.i64s(6), sa = a.i64s(7), sb = a.i64s(8);
  size_t ea, eb, la, lb;
  sum_nt_extents(a, M, N, K, batch, sa, sb, &ea, &eb);
  bool a16, b16;
  void* A = a.f32_or_bf16(1, &la, &a16);
  void* B = a.f32_or_bf16(2, &lb, &b16);
  a.check_len("A", la, ea);
  a.check_len("B", lb, eb);
  gemm_sum_nt_bf16(f32(a, 0, "C", prod(a, {M, N})), A, a16, B, b16, M, N, K, batch, sa, sb, (float)a.f64s(9));
  return info.Env().Undefined();
}

}  // namespace

void register_fused(Napi::Env env, Napi::Object exports) {
  exports.Set("tokenMixerNormForward", Napi::Function::New(env, TokenMixerNormForward, "tokenMixerNormForward"));
  exports.Set("mlpNormForward", Napi::Function::New(env, MlpNormForward, "mlpNormForward"));
  exports.Set("mlpNormBackward", Napi::Function::New(env, MlpNormBackward, "mlpNormBackward"));
  exports.Set("tokenMixerNormBackward", Napi::Function::New(env, TokenMixerNormBackward, "tokenMixerNormBackward"));
  exports.Set("gemmSumNT", Napi::Function::New(env, GemmSumNT, "gemmSumNT"));
  exports.Set("gemmSumNTBf16", Napi::Function::New(env, GemmSumNTBf16, "gemmSumNTBf16"));
}

}  // namespace trm
