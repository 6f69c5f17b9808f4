// binding_ops.cpp: Node-API entry points of the fused kernels in ops/, one per KernelBackend
// method, same name and argument order as src/kernels/backend.ts. Each reads the sizes first, then
// every buffer with its required length, so a short or mistyped buffer is a TypeError naming the
// kernel and argument, never an overrun. Ids and labels that would index out of bounds are a
// RangeError naming the kernel, the position and the bad value.
#include <initializer_list>
#include <string>

#include "napi_util.h"
#include "ops/ops.h"

namespace trm {
namespace {

using Info = Napi::CallbackInfo;

// Product of sizes, failing instead of wrapping around.
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

int32_t* i32(const Args& a, size_t i, const char* name, size_t need) {
  size_t len;
  int32_t* p = a.i32(i, &len);
  a.check_len(name, len, need);
  return p;
}

uint8_t* u8(const Args& a, size_t i, const char* name, size_t need) {
  size_t len;
  uint8_t* p = a.u8(i, &len);
  a.check_len(name, len, need);
  return p;
}

long signed_int(const Args& a, size_t i) {  // an integer that may be negative (ignoreIndex)
  double v = a.f64s(i);
  if (v != (double)(long)v) a.fail("argument " + std::to_string(i) + " must be an integer");
  return (long)v;
}

void check_index(const Args& a, long bad, const char* what, const int32_t* vals, long V) {
  if (bad < 0) return;
  throw Napi::RangeError::New(a.info.Env(), std::string(a.kernel) + ": " + what + "[" + std::to_string(bad) +
                                                "] = " + std::to_string(vals[bad]) + " is outside [0, " +
                                                std::to_string(V) + ")");
}

Napi::Value done(const Info& info) { return info.Env().Undefined(); }

// ---- elementwise -----------------------------------------------------------------------------

Napi::Value Add(const Info& info) {
  Args a{info, "add"};
  a.expect_count(4);
  long n = a.i64s(3);
  add(f32(a, 0, "out", n), f32(a, 1, "a", n), f32(a, 2, "b", n), n);
  return done(info);
}

Napi::Value Add3(const Info& info) {
  Args a{info, "add3"};
  a.expect_count(5);
  long n = a.i64s(4);
  add3(f32(a, 0, "out", n), f32(a, 1, "a", n), f32(a, 2, "b", n), f32(a, 3, "c", n), n);
  return done(info);
}

Napi::Value AddBias(const Info& info) {
  Args a{info, "addBias"};
  a.expect_count(4);
  long N = a.i64s(2), C = a.i64s(3);
  add_bias(f32(a, 0, "out", prod(a, {N, C})), f32(a, 1, "bias", C), N, C);
  return done(info);
}

Napi::Value BiasBackward(const Info& info) {
  Args a{info, "biasBackward"};
  a.expect_count(4);
  long N = a.i64s(2), C = a.i64s(3);
  bias_backward(f32(a, 0, "dbias", C), f32(a, 1, "dout", prod(a, {N, C})), N, C);
  return done(info);
}

// ---- data movement ---------------------------------------------------------------------------

// Elements a strided (rows, cols) operand spans: (rows - 1) * ld + cols, 0 when empty.
size_t span(const Args& a, long rows, long cols, long ld) {
  return rows > 0 && cols > 0 ? prod(a, {rows - 1, ld}) + (size_t)cols : 0;
}

Napi::Value Copy2d(const Info& info) {
  Args a{info, "copy2d"};
  a.expect_count(6);
  long rows = a.i64s(2), cols = a.i64s(3), ldd = a.i64s(4), lds = a.i64s(5);
  if (rows > 1 && (ldd < cols || lds < cols)) a.fail("leading dimensions must be >= cols");
  copy2d(f32(a, 0, "dst", span(a, rows, cols, ldd)), f32(a, 1, "src", span(a, rows, cols, lds)), rows, cols, ldd, lds);
  return done(info);
}

Napi::Value Transpose(const Info& info) {
  Args a{info, "transpose"};
  a.expect_count(4);
  long R = a.i64s(2), C = a.i64s(3);
  size_t rc = prod(a, {R, C});
  transpose(f32(a, 0, "out", rc), f32(a, 1, "inp", rc), R, C);
  return done(info);
}

Napi::Value Fill(const Info& info) {
  Args a{info, "fill"};
  a.expect_count(3);
  long n = a.i64s(2);
  fill(f32(a, 0, "dst", n), a.f64s(1), n);
  return done(info);
}

Napi::Value CastU8F32(const Info& info) {
  Args a{info, "castU8F32"};
  a.expect_count(3);
  long n = a.i64s(2);
  cast_u8_f32(f32(a, 0, "out", n), u8(a, 1, "inp", n), n);
  return done(info);
}

Napi::Value BroadcastRows(const Info& info) {
  Args a{info, "broadcastRows"};
  a.expect_count(7);
  long B = a.i64s(3), per = a.i64s(4), D = a.i64s(5), stride = a.i64s(6);
  if (D == 0 || per % D != 0) a.fail("per must be a multiple of D > 0");
  broadcast_rows(f32(a, 0, "dst", prod(a, {B, per})), f32(a, 1, "src", B > 0 ? prod(a, {B - 1, stride}) + D : 0),
                 u8(a, 2, "mask", B), B, per, D, stride);
  return done(info);
}

// ---- RMSNorm ---------------------------------------------------------------------------------

Napi::Value RmsnormForward(const Info& info) {
  Args a{info, "rmsnormForward"};
  a.expect_count(6);
  long N = a.i64s(3), D = a.i64s(4);
  size_t nd = prod(a, {N, D});
  rmsnorm_forward(f32(a, 0, "out", nd), f32(a, 1, "rstd", N), f32(a, 2, "inp", nd), N, D, a.f64s(5));
  return done(info);
}

Napi::Value RmsnormBackward(const Info& info) {
  Args a{info, "rmsnormBackward"};
  a.expect_count(6);
  long N = a.i64s(4), D = a.i64s(5);
  size_t nd = prod(a, {N, D});
  rmsnorm_backward(f32(a, 0, "dinp", nd), f32(a, 1, "dout", nd), f32(a, 2, "out", nd), f32(a, 3, "rstd", N), N, D);
  return done(info);
}

Napi::Value RmsnormSeqForward(const Info& info) {
  Args a{info, "rmsnormSeqForward"};
  a.expect_count(7);
  long B = a.i64s(3), S = a.i64s(4), D = a.i64s(5);
  size_t bsd = prod(a, {B, S, D}), bd = prod(a, {B, D});
  rmsnorm_seq_forward(f32(a, 0, "out", bsd), f32(a, 1, "rstd", bd), f32(a, 2, "inp", bsd), B, S, D, a.f64s(6));
  return done(info);
}

Napi::Value RmsnormSeqBackward(const Info& info) {
  Args a{info, "rmsnormSeqBackward"};
  a.expect_count(7);
  long B = a.i64s(4), S = a.i64s(5), D = a.i64s(6);
  size_t bsd = prod(a, {B, S, D}), bd = prod(a, {B, D});
  rmsnorm_seq_backward(f32(a, 0, "dinp", bsd), f32(a, 1, "dout", bsd), f32(a, 2, "out", bsd), f32(a, 3, "rstd", bd),
                       B, S, D);
  return done(info);
}

// ---- SwiGLU ----------------------------------------------------------------------------------

Napi::Value SwigluForward(const Info& info) {
  Args a{info, "swigluForward"};
  a.expect_count(4);
  long N = a.i64s(2), H = a.i64s(3);
  size_t nh = prod(a, {N, H}), n2h = prod(a, {N, 2, H});
  swiglu_forward(f32(a, 0, "out", nh), f32(a, 1, "gateUp", n2h), N, H);
  return done(info);
}

Napi::Value SwigluBackward(const Info& info) {
  Args a{info, "swigluBackward"};
  a.expect_count(5);
  long N = a.i64s(3), H = a.i64s(4);
  size_t nh = prod(a, {N, H}), n2h = prod(a, {N, 2, H});
  swiglu_backward(f32(a, 0, "dgateUp", n2h), f32(a, 1, "dout", nh), f32(a, 2, "gateUp", n2h), N, H);
  return done(info);
}

// ---- embeddings ------------------------------------------------------------------------------

Napi::Value EmbeddingForward(const Info& info) {
  Args a{info, "embeddingForward"};
  a.expect_count(7);
  long N = a.i64s(3), D = a.i64s(4), V = a.i64s(5);
  size_t nd = prod(a, {N, D});
  float* out = f32(a, 0, "out", nd);
  int32_t* ids = i32(a, 1, "ids", N);
  float* table = f32(a, 2, "table", prod(a, {V, D}));
  double sc = a.f64s(6);
  check_index(a, first_bad_id(ids, N, V), "ids", ids, V);
  embedding_forward(out, ids, table, N, D, sc);
  return done(info);
}

Napi::Value EmbeddingBackward(const Info& info) {
  Args a{info, "embeddingBackward"};
  a.expect_count(7);
  long N = a.i64s(3), D = a.i64s(4), V = a.i64s(5);
  size_t nd = prod(a, {N, D});
  float* dtable = f32(a, 0, "dtable", prod(a, {V, D}));
  float* dout = f32(a, 1, "dout", nd);
  int32_t* ids = i32(a, 2, "ids", N);
  double sc = a.f64s(6);
  check_index(a, first_bad_id(ids, N, V), "ids", ids, V);
  embedding_backward(dtable, dout, ids, N, D, sc);
  return done(info);
}

// ---- losses and metrics ----------------------------------------------------------------------

Napi::Value StablemaxCeForward(const Info& info) {
  Args a{info, "stablemaxCeForward"};
  a.expect_count(6);
  long N = a.i64s(3), V = a.i64s(4), ignore = signed_int(a, 5);
  float* loss = f32(a, 0, "loss", N);
  float* logits = f32(a, 1, "logits", prod(a, {N, V}));
  int32_t* labels = i32(a, 2, "labels", N);
  check_index(a, first_bad_label(labels, N, V, ignore), "labels", labels, V);
  stablemax_ce_forward(loss, logits, labels, N, V, ignore);
  return done(info);
}

Napi::Value StablemaxCeBackward(const Info& info) {
  Args a{info, "stablemaxCeBackward"};
  a.expect_count(7);
  long N = a.i64s(4), V = a.i64s(5), ignore = signed_int(a, 6);
  size_t nv = prod(a, {N, V});
  float* dlogits = f32(a, 0, "dlogits", nv);
  float* dloss = f32(a, 1, "dloss", N);
  float* logits = f32(a, 2, "logits", nv);
  int32_t* labels = i32(a, 3, "labels", N);
  check_index(a, first_bad_label(labels, N, V, ignore), "labels", labels, V);
  stablemax_ce_backward(dlogits, dloss, logits, labels, N, V, ignore);
  return done(info);
}

Napi::Value BceLogitsForward(const Info& info) {
  Args a{info, "bceLogitsForward"};
  a.expect_count(4);
  long N = a.i64s(3);
  bce_logits_forward(f32(a, 0, "loss", N), f32(a, 1, "logits", N), f32(a, 2, "targets", N), N);
  return done(info);
}

Napi::Value BceLogitsBackward(const Info& info) {
  Args a{info, "bceLogitsBackward"};
  a.expect_count(5);
  long N = a.i64s(4);
  bce_logits_backward(f32(a, 0, "dlogits", N), f32(a, 1, "dloss", N), f32(a, 2, "logits", N),
                      f32(a, 3, "targets", N), N);
  return done(info);
}

Napi::Value Argmax(const Info& info) {
  Args a{info, "argmax"};
  a.expect_count(4);
  long N = a.i64s(2), V = a.i64s(3);
  if (N > 0 && V < 1) a.fail("V must be at least 1");
  argmax(i32(a, 0, "out", N), f32(a, 1, "logits", prod(a, {N, V})), N, V);
  return done(info);
}

Napi::Value MatchCounts(const Info& info) {
  Args a{info, "matchCounts"};
  a.expect_count(7);
  long B = a.i64s(4), S = a.i64s(5), ignore = signed_int(a, 6);
  size_t bs = prod(a, {B, S});
  match_counts(u8(a, 0, "seqCorrect", B), i32(a, 1, "counts", prod(a, {2, B})), i32(a, 2, "pred", bs),
               i32(a, 3, "labels", bs), B, S, ignore);
  return done(info);
}

Napi::Value LossGrad(const Info& info) {
  Args a{info, "lossGrad"};
  a.expect_count(7);
  long B = a.i64s(4), L = a.i64s(5);
  const float* w = info[3].IsNull() ? nullptr : f32(a, 3, "weights", B);
  loss_grad(f32(a, 0, "dtok", prod(a, {B, L})), f32(a, 1, "dbce", B), i32(a, 2, "counts", prod(a, {2, B})), w, B, L, a.f64s(6));
  return done(info);
}

// ---- attention helpers -----------------------------------------------------------------------

Napi::Value SoftmaxForward(const Info& info) {
  Args a{info, "softmaxForward"};
  a.expect_count(4);
  long N = a.i64s(2), V = a.i64s(3);
  size_t nv = prod(a, {N, V});
  softmax_forward(f32(a, 0, "out", nv), f32(a, 1, "inp", nv), N, V);
  return done(info);
}

Napi::Value SoftmaxBackward(const Info& info) {
  Args a{info, "softmaxBackward"};
  a.expect_count(5);
  long N = a.i64s(3), V = a.i64s(4);
  size_t nv = prod(a, {N, V});
  softmax_backward(f32(a, 0, "dinp", nv), f32(a, 1, "dout", nv), f32(a, 2, "out", nv), N, V);
  return done(info);
}

template <void (*Kernel)(float*, const float*, const float*, const float*, long, long, long, long)>
Napi::Value Rope(const Info& info, const char* name, const char* out_name, const char* inp_name) {
  Args a{info, name};
  a.expect_count(8);
  long B = a.i64s(4), S = a.i64s(5), H = a.i64s(6), Dh = a.i64s(7);
  if (Dh % 2) a.fail("Dh must be even, got " + std::to_string(Dh));
  size_t n = prod(a, {B, S, H, Dh}), sd = prod(a, {S, Dh});
  Kernel(f32(a, 0, out_name, n), f32(a, 1, inp_name, n), f32(a, 2, "cos", sd), f32(a, 3, "sin", sd), B, S, H, Dh);
  return done(info);
}

Napi::Value RopeForward(const Info& info) { return Rope<rope_forward>(info, "ropeForward", "out", "inp"); }
Napi::Value RopeBackward(const Info& info) { return Rope<rope_backward>(info, "ropeBackward", "dinp", "dout"); }

// ---- optimizers ------------------------------------------------------------------------------

long step_arg(const Args& a, size_t i) {
  long t = a.i64s(i);
  if (t < 1) a.fail("step must be at least 1, got " + std::to_string(t));
  return t;
}

Napi::Value AdamAtan2Step(const Info& info) {
  Args a{info, "adamAtan2Step"};
  a.expect_count(10);
  long n = a.i64s(4);
  adam_atan2_step(f32(a, 0, "param", n), f32(a, 1, "m", n), f32(a, 2, "v", n), f32(a, 3, "grad", n), n,
                  a.f64s(5), a.f64s(6), a.f64s(7), a.f64s(8), step_arg(a, 9));
  return done(info);
}

Napi::Value AdamwStep(const Info& info) {
  Args a{info, "adamwStep"};
  a.expect_count(11);
  long n = a.i64s(4);
  adamw_step(f32(a, 0, "param", n), f32(a, 1, "m", n), f32(a, 2, "v", n), f32(a, 3, "grad", n), n,
             a.f64s(5), a.f64s(6), a.f64s(7), a.f64s(8), a.f64s(9), step_arg(a, 10));
  return done(info);
}

Napi::Value SignSgdRows(const Info& info) {
  Args a{info, "signSgdRows"};
  a.expect_count(7);
  long n_rows = a.i64s(3), width = a.i64s(4);
  size_t len_p, len_g;
  float* p = a.f32(0, &len_p);
  float* g = a.f32(1, &len_g);
  a.check_len("param", len_p, width);
  a.check_len("grad", len_g, width);
  int32_t* rows = i32(a, 2, "rows", n_rows);
  size_t table_rows = width > 0 ? (len_p < len_g ? len_p : len_g) / width : 0;
  for (long r = 0; r < n_rows; r++)
    if (rows[r] < 0 || (size_t)rows[r] >= table_rows) check_index(a, r, "rows", rows, (long)table_rows);
  sign_sgd_rows(p, g, rows, n_rows, width, a.f64s(5), a.f64s(6));
  return done(info);
}

Napi::Value EmaUpdate(const Info& info) {
  Args a{info, "emaUpdate"};
  a.expect_count(4);
  long n = a.i64s(2);
  ema_update(f32(a, 0, "shadow", n), f32(a, 1, "param", n), n, a.f64s(3));
  return done(info);
}

}  // namespace

void register_ops(Napi::Env env, Napi::Object exports) {
  const struct { const char* name; Napi::Value (*fn)(const Info&); } table[] = {
    {"add", Add}, {"add3", Add3}, {"addBias", AddBias}, {"biasBackward", BiasBackward},
    {"copy2d", Copy2d}, {"transpose", Transpose}, {"fill", Fill}, {"castU8F32", CastU8F32}, {"broadcastRows", BroadcastRows},
    {"rmsnormForward", RmsnormForward}, {"rmsnormBackward", RmsnormBackward},
    {"rmsnormSeqForward", RmsnormSeqForward}, {"rmsnormSeqBackward", RmsnormSeqBackward},
    {"swigluForward", SwigluForward}, {"swigluBackward", SwigluBackward},
    {"embeddingForward", EmbeddingForward}, {"embeddingBackward", EmbeddingBackward},
    {"stablemaxCeForward", StablemaxCeForward}, {"stablemaxCeBackward", StablemaxCeBackward},
    {"bceLogitsForward", BceLogitsForward}, {"bceLogitsBackward", BceLogitsBackward},
    {"argmax", Argmax}, {"matchCounts", MatchCounts}, {"lossGrad", LossGrad},
    {"softmaxForward", SoftmaxForward}, {"softmaxBackward", SoftmaxBackward},
    {"ropeForward", RopeForward}, {"ropeBackward", RopeBackward},
    {"adamAtan2Step", AdamAtan2Step}, {"adamwStep", AdamwStep},
    {"signSgdRows", SignSgdRows}, {"emaUpdate", EmaUpdate},
  };
  for (const auto& k : table) exports.Set(k.name, Napi::Function::New(env, k.fn, k.name));
}

}  // namespace trm
