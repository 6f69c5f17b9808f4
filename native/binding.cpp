// binding.cpp: the addon's entry point. Registers the runtime controls (threads, dispatch path,
// FMA peak) and the GEMM; register_ops (binding_ops.cpp) adds the fused elementwise kernels.
// Kernels run synchronously on the calling JS thread plus the pool, directly on the memory of the
// typed arrays passed in: nothing is copied and no JS buffer is kept past the call.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>
#if defined(__linux__)
#include <dlfcn.h>
#include <sys/mman.h>
#endif

#include "cpu_features.h"
#include "gemm/gemm.h"
#include "napi_util.h"
#include "threadpool.h"
#include "ops/fused.h"

namespace trm {
namespace {

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CpuFeatures& f = cpu_features();
  Napi::Object o = Napi::Object::New(env);
  o.Set("isa", isa_name(active_isa()));
  Isa best = f.AVX512() ? Isa::Avx512 : f.AVX2() ? Isa::Avx2 : Isa::Portable;
  o.Set("bestIsa", isa_name(best));
  GemmKernelInfo k = active_isa() == Isa::Avx512 ? gemm_kernel_avx512()
                     : active_isa() == Isa::Avx2 ? gemm_kernel_avx2() : gemm_kernel_portable();
  o.Set("gemmKernel", k.name);
  o.Set("gemmBf16Kernel", gemm_active_kernel(true).name);
  o.Set("bf16Native", gemm_active_kernel(true).kpack == 2);
  o.Set("gemmStripOuterKib", (double)gemm_strip_outer_kib());
  o.Set("amx", amx_usable());
  o.Set("threads", pool_threads());
  Napi::Object feats = Napi::Object::New(env);
  feats.Set("avx2", f.avx2); feats.Set("fma", f.fma); feats.Set("avx512f", f.avx512f);
  feats.Set("avx512bw", f.avx512bw); feats.Set("avx512dq", f.avx512dq); feats.Set("avx512vl", f.avx512vl);
  feats.Set("avx512bf16", f.avx512bf16); feats.Set("osAvx", f.os_avx); feats.Set("osAvx512", f.os_avx512);
  feats.Set("amxTile", f.amx_tile); feats.Set("amxBf16", f.amx_bf16); feats.Set("osAmx", f.os_amx);
  o.Set("features", feats);
  return o;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Args a{info, "setThreads"};
  a.expect_count(1);
  long n = a.i64s(0);
  if (n < 1 || n > 256) a.fail("thread count must be in 1..256, got " + std::to_string(n));
  pool_set_threads((int)n);
  return Napi::Number::New(info.Env(), pool_threads());
}

Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  Args a{info, "setIsa"};
  a.expect_count(1);
  std::string s = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  Isa isa;
  if (s == "portable") isa = Isa::Portable;
  else if (s == "avx2") isa = Isa::Avx2;
  else if (s == "avx512") isa = Isa::Avx512;
  else a.fail("expected 'portable', 'avx2' or 'avx512', got '" + s + "'");
  return Napi::Boolean::New(info.Env(), set_active_isa(isa));
}

// setAmx(on): use the AMX-BF16 kernel for bf16 products where it can run (the default), or not;
// returns whether it is used now.
Napi::Value SetAmx(const Napi::CallbackInfo& info) {
  Args a{info, "setAmx"};
  a.expect_count(1);
  return Napi::Boolean::New(info.Env(), set_amx_enabled(a.flag(0)));
}

// setGemmFastPaths(on): the fp32 GEMM's fast paths on or off (the same bits either way); returns
// whether they are on now (every fp32 kernel has at least one).
Napi::Value SetGemmFastPaths(const Napi::CallbackInfo& info) {
  Args a{info, "setGemmFastPaths"};
  a.expect_count(1);
  return Napi::Boolean::New(info.Env(), gemm_set_fast_paths(a.flag(0)));
}

// fmaPeak(seconds, threads): register-only FMA loop on `threads` threads at once; total GFLOP/s.
Napi::Value FmaPeak(const Napi::CallbackInfo& info) {
  Args a{info, "fmaPeak"};
  a.expect_count(2);
  double secs = a.f64s(0);
  long threads = a.i64s(1);
  if (threads < 1) threads = 1;
  int saved = pool_threads();
  pool_set_threads((int)threads);
  std::vector<double> per(threads, 0.0);
  Isa isa = active_isa();
  parallel_run_each([&](int ith, int) {
    per[ith] = isa == Isa::Avx512 ? fma_peak_avx512(secs) : isa == Isa::Avx2 ? fma_peak_avx2(secs) : 0.0;
  });
  pool_set_threads(saved);
  double total = 0;
  for (double p : per) total += p;
  return Napi::Number::New(info.Env(), total);
}

// bf16Peak(seconds, threads): the same for the unit the bf16 GEMM uses now: AMX's TDPBF16PS where
// the AMX kernel is active, else VDPBF16PS (0 where the CPU or the path has neither).
Napi::Value Bf16Peak(const Napi::CallbackInfo& info) {
  Args a{info, "bf16Peak"};
  a.expect_count(2);
  double secs = a.f64s(0);
  long threads = a.i64s(1);
  if (threads < 1) threads = 1;
  if (gemm_active_kernel(true).kpack != 2) return Napi::Number::New(info.Env(), 0.0);
  int saved = pool_threads();
  pool_set_threads((int)threads);
  std::vector<double> per(threads, 0.0);
  const bool amx = amx_usable();
  // one part per thread, all at once (as fmaPeak): with claimed parts a late worker's part would run
  // after the caller's on the same thread, and the sum would count one core twice
  parallel_run_each([&](int ith, int) { per[ith] = amx ? bf16_peak_amx(secs) : bf16_peak_avx512(secs); });
  pool_set_threads(saved);
  double total = 0;
  for (double p : per) total += p;
  return Napi::Number::New(info.Env(), total);
}

// addressMod64(typedArray): the byte address of its data modulo 64, so JS can place arrays on
// cache-line boundaries (src/kernels/aligned.ts): a zmm store that straddles two lines costs two.
Napi::Value AddressMod64(const Napi::CallbackInfo& info) {
  Args a{info, "addressMod64"};
  a.expect_count(1);
  if (!info[0].IsTypedArray()) a.fail("argument 0 must be a typed array");
  auto t = info[0].As<Napi::TypedArray>();
  auto base = reinterpret_cast<uintptr_t>(t.ArrayBuffer().Data()) + t.ByteOffset();
  return Napi::Number::New(info.Env(), (double)(base % 64));
}

// adviseHugePages(typedArray): ask Linux for 2 MiB pages (madvise MADV_HUGEPAGE) over the whole
// 2 MiB pages inside the array's data; returns the bytes advised (0 where none fit, where the OS
// has no such advice, or where it refused). Meant for a fresh array, before its first write, so its
// pages fault in huge (fewer TLB misses when the GEMMs stream activations). Transparent huge pages
// set to "madvise" (Debian's default) give them only to advised memory. aligned.ts asks for it only
// with TRM_HUGE_PAGES=1: 0.5-1% faster on one machine, 5-10% slower on another (docs/PERFORMANCE.md).
Napi::Value AdviseHugePages(const Napi::CallbackInfo& info) {
  Args a{info, "adviseHugePages"};
  a.expect_count(1);
  if (!info[0].IsTypedArray()) a.fail("argument 0 must be a typed array");
  double advised = 0;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  auto t = info[0].As<Napi::TypedArray>();
  const uintptr_t huge = 2u << 20;
  const uintptr_t lo = reinterpret_cast<uintptr_t>(t.ArrayBuffer().Data()) + t.ByteOffset();
  const uintptr_t first = (lo + huge - 1) & ~(huge - 1), last = (lo + t.ByteLength()) & ~(huge - 1);
  if (last > first && madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE) == 0)
    advised = (double)(last - first);
#endif
  return Napi::Number::New(info.Env(), advised);
}

size_t extent(bool trans, long rows, long cols, long ld) {  // elements one operand spans
  if (rows == 0 || cols == 0) return 0;
  return trans ? (size_t)(cols - 1) * ld + rows : (size_t)(rows - 1) * ld + cols;
}

// gemm(transA, transB, M, N, K, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC, batch)
// gemmBf16(the same): operands rounded to bf16, fp32 sums (gemm.h).
Napi::Value GemmImpl(const Napi::CallbackInfo& info, bool bf16) {
  Args a{info, bf16 ? "gemmBf16" : "gemm"};
  a.expect_count(17);
  GemmArgs g;
  g.trans_a = a.flag(0); g.trans_b = a.flag(1);
  g.M = a.i64s(2); g.N = a.i64s(3); g.K = a.i64s(4);
  g.alpha = (float)a.f64s(5);
  size_t la, lb, lc;
  // gemmBf16's A and B may be bf16 tensors (Uint16Array); gemm's are fp32
  if (bf16) {
    g.A = static_cast<const float*>(a.f32_or_bf16(6, &la, &g.a16));
    g.B = static_cast<const float*>(a.f32_or_bf16(9, &lb, &g.b16));
  } else {
    g.A = a.f32(6, &la);
    g.B = a.f32(9, &lb);
  }
  g.lda = a.i64s(7); g.stride_a = a.i64s(8);
  g.ldb = a.i64s(10); g.stride_b = a.i64s(11);
  g.beta = (float)a.f64s(12);
  g.C = a.f32(13, &lc); g.ldc = a.i64s(14); g.stride_c = a.i64s(15);
  g.batch = a.i64s(16);
  if (g.ldc < g.N) a.fail("ldc " + std::to_string(g.ldc) + " < N " + std::to_string(g.N));
  if (g.lda < (g.trans_a ? g.M : g.K)) a.fail("lda too small");
  if (g.ldb < (g.trans_b ? g.K : g.N)) a.fail("ldb too small");
  if (g.batch > 0 && g.M > 0 && g.N > 0) {
    size_t nb = (size_t)(g.batch - 1);
    // op(A) is M x K: stored K x M when transposed.
    size_t ea = g.trans_a ? extent(false, g.K, g.M, g.lda) : extent(false, g.M, g.K, g.lda);
    size_t eb = g.trans_b ? extent(false, g.N, g.K, g.ldb) : extent(false, g.K, g.N, g.ldb);
    if (g.K > 0) {
      a.check_len("A", la, nb * g.stride_a + ea);
      a.check_len("B", lb, nb * g.stride_b + eb);
    }
    a.check_len("C", lc, nb * g.stride_c + extent(false, g.M, g.N, g.ldc));
  }
  g.bf16 = bf16;
  gemm(g);
  return info.Env().Undefined();
}

Napi::Value Gemm(const Napi::CallbackInfo& info) { return GemmImpl(info, false); }

// gemmSwiglu(out, gateUp | null, inp, weight, H, N, K, batch, bf16): gemm.h gemm_swiglu.
Napi::Value GemmSwiglu(const Napi::CallbackInfo& info) {
  Args a{info, "gemmSwiglu"};
  a.expect_count(9);
  long H = a.i64s(4), N = a.i64s(5), K = a.i64s(6), batch = a.i64s(7);
  bool bf16 = a.flag(8);
  size_t lo, lg = 0, lx, lw;
  bool o16 = false, g16 = false;
  void* out = a.f32_or_bf16(0, &lo, &o16);
  void* gu = info[1].IsNull() ? nullptr : a.f32_or_bf16(1, &lg, &g16);
  const float* X = a.f32(2, &lx);
  const float* W = a.f32(3, &lw);
  if (gu && g16 != o16) a.fail("out and gateUp must both be Float32Array or both Uint16Array (bf16)");
  if (o16 && !bf16) a.fail("bf16 tensors (Uint16Array) need bf16 = true");
  a.check_len("out", lo, (size_t)batch * H * N);
  if (gu) a.check_len("gateUp", lg, (size_t)batch * 2 * H * N);
  a.check_len("inp", lx, (size_t)batch * K * N);
  a.check_len("weight", lw, (size_t)2 * H * K);
  gemm_swiglu(out, gu, X, W, H, N, K, batch, bf16, o16);
  return info.Env().Undefined();
}
Napi::Value GemmBf16(const Napi::CallbackInfo& info) { return GemmImpl(info, true); }

// linearSwiglu(out, gateUp, inp, weight, N, D, I, keep, bf16): gemm.h linear_swiglu (gateUp is
// written only when keep).
Napi::Value LinearSwiglu(const Napi::CallbackInfo& info) {
  Args a{info, "linearSwiglu"};
  a.expect_count(9);
  long N = a.i64s(4), D = a.i64s(5), I = a.i64s(6);
  bool keep = a.flag(7), bf16 = a.flag(8);
  size_t lo, lg, lx, lw;
  bool o16 = false, g16 = false;
  void* out = a.f32_or_bf16(0, &lo, &o16);
  void* gu = a.f32_or_bf16(1, &lg, &g16);
  const float* X = a.f32(2, &lx);
  const float* W = a.f32(3, &lw);
  if (g16 != o16) a.fail("out and gateUp must both be Float32Array or both Uint16Array (bf16)");
  if (o16 && !bf16) a.fail("bf16 tensors (Uint16Array) need bf16 = true");
  a.check_len("out", lo, (size_t)N * I);
  a.check_len("gateUp", lg, (size_t)N * 2 * I);
  a.check_len("inp", lx, (size_t)N * D);
  a.check_len("weight", lw, (size_t)2 * I * D);
  linear_swiglu(out, keep ? gu : nullptr, X, W, N, D, I, bf16, o16);
  return info.Env().Undefined();
}

// linearSwigluBackward(dgateUp, dh, dout, gateUp, weight, N, D, I, bf16, fresh): gemm.h
// linear_swiglu_backward (dh is scratch the native kernel never touches).
Napi::Value LinearSwigluBackward(const Napi::CallbackInfo& info) {
  Args a{info, "linearSwigluBackward"};
  a.expect_count(10);
  long N = a.i64s(5), D = a.i64s(6), I = a.i64s(7);
  bool bf16 = a.flag(8), fresh = a.flag(9);
  size_t ld, lh, lo, lg, lw;
  bool d16 = false;
  void* dgu = a.f32_or_bf16(0, &ld, &d16);
  if (d16 && !(bf16 && fresh)) a.fail("a bf16 dgateUp (Uint16Array) needs bf16 = true and fresh = true");
  a.f32(1, &lh);
  const float* dout = a.f32(2, &lo);
  bool g16 = false;
  const void* gu = a.f32_or_bf16(3, &lg, &g16);
  const float* W = a.f32(4, &lw);
  if (g16 && !bf16) a.fail("a bf16 gateUp (Uint16Array) needs bf16 = true");
  a.check_len("dgateUp", ld, (size_t)N * 2 * I);
  a.check_len("dh", lh, (size_t)N * I);
  a.check_len("dout", lo, (size_t)N * D);
  a.check_len("gateUp", lg, (size_t)N * 2 * I);
  a.check_len("weight", lw, (size_t)D * I);
  linear_swiglu_backward(dgu, dout, gu, W, N, D, I, bf16, fresh, g16, d16);
  return info.Env().Undefined();
}

// gemmSwigluBackward(dgateUp, dh, dout, gateUp, weightT, H, N, K, batch, bf16, fresh): gemm.h
// gemm_swiglu_backward (dh is scratch the native kernel never touches).
Napi::Value GemmSwigluBackward(const Napi::CallbackInfo& info) {
  Args a{info, "gemmSwigluBackward"};
  a.expect_count(11);
  long H = a.i64s(5), N = a.i64s(6), K = a.i64s(7), batch = a.i64s(8);
  bool bf16 = a.flag(9), fresh = a.flag(10);
  size_t ld, lh, lo, lg, lw;
  bool d16 = false;
  void* dgu = a.f32_or_bf16(0, &ld, &d16);
  if (d16 && !(bf16 && fresh)) a.fail("a bf16 dgateUp (Uint16Array) needs bf16 = true and fresh = true");
  a.f32(1, &lh);
  const float* dout = a.f32(2, &lo);
  bool g16 = false;
  const void* gu = a.f32_or_bf16(3, &lg, &g16);
  const float* WT = a.f32(4, &lw);
  if (g16 && !bf16) a.fail("a bf16 gateUp (Uint16Array) needs bf16 = true");
  a.check_len("dgateUp", ld, (size_t)batch * 2 * H * N);
  a.check_len("dh", lh, (size_t)batch * H * N);
  a.check_len("dout", lo, (size_t)batch * K * N);
  a.check_len("gateUp", lg, (size_t)batch * 2 * H * N);
  a.check_len("weightT", lw, (size_t)H * K);
  gemm_swiglu_backward(dgu, dout, gu, WT, H, N, K, batch, bf16, fresh, g16, d16);
  return info.Env().Undefined();
}

// poolProfile(on): start the pool's region profile (threadpool.h), or stop it and return its records,
// one per call site: { site (the return address into the calling kernel, as an offset into this
// module's file for addr2line), calls, entered, regionNs, callerWaitNs, workerIdleNs, workerLateNs,
// lateRegions }.
Napi::Value PoolProfile(const Napi::CallbackInfo& info) {
  Args a{info, "poolProfile"};
  a.expect_count(1);
  Napi::Env env = info.Env();
  if (a.flag(0)) {
    pool_profile_start();
    return env.Undefined();
  }
  const std::vector<RegionStat> stats = pool_profile_stop();
  Napi::Array out = Napi::Array::New(env, stats.size());
  for (size_t i = 0; i < stats.size(); i++) {
    const RegionStat& r = stats[i];
    uintptr_t off = (uintptr_t)r.site;
#if defined(__linux__)
    Dl_info dl;
    if (dladdr(r.site, &dl) && dl.dli_fbase) off -= (uintptr_t)dl.dli_fbase;
#endif
    char hex[32];
    snprintf(hex, sizeof hex, "0x%llx", (unsigned long long)off);
    Napi::Object o = Napi::Object::New(env);
    o.Set("site", hex);
    o.Set("calls", (double)r.calls);
    o.Set("entered", (double)r.entered);
    o.Set("regionNs", r.region_ns);
    o.Set("callerWaitNs", r.caller_wait_ns);
    o.Set("workerIdleNs", r.worker_idle_ns);
    o.Set("workerLateNs", r.worker_late_ns);
    o.Set("lateRegions", (double)r.late_regions);
    out.Set((uint32_t)i, o);
  }
  return out;
}

Napi::Value SetWeightsFrozen(const Napi::CallbackInfo& info) {
  Args a{info, "setWeightsFrozen"};
  a.expect_count(1);
  set_weights_frozen(a.flag(0));
  return info.Env().Undefined();
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("setWeightsFrozen", Napi::Function::New(env, SetWeightsFrozen, "setWeightsFrozen"));
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("poolProfile", Napi::Function::New(env, PoolProfile, "poolProfile"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  exports.Set("setIsa", Napi::Function::New(env, SetIsa, "setIsa"));
  exports.Set("setAmx", Napi::Function::New(env, SetAmx, "setAmx"));
  exports.Set("setGemmFastPaths", Napi::Function::New(env, SetGemmFastPaths, "setGemmFastPaths"));
  exports.Set("fmaPeak", Napi::Function::New(env, FmaPeak, "fmaPeak"));
  exports.Set("gemm", Napi::Function::New(env, Gemm, "gemm"));
  exports.Set("gemmBf16", Napi::Function::New(env, GemmBf16, "gemmBf16"));
  exports.Set("gemmSwiglu", Napi::Function::New(env, GemmSwiglu, "gemmSwiglu"));
  exports.Set("linearSwiglu", Napi::Function::New(env, LinearSwiglu, "linearSwiglu"));
  exports.Set("linearSwigluBackward", Napi::Function::New(env, LinearSwigluBackward, "linearSwigluBackward"));
  exports.Set("gemmSwigluBackward", Napi::Function::New(env, GemmSwigluBackward, "gemmSwigluBackward"));
  exports.Set("bf16Peak", Napi::Function::New(env, Bf16Peak, "bf16Peak"));
  exports.Set("addressMod64", Napi::Function::New(env, AddressMod64, "addressMod64"));
  exports.Set("adviseHugePages", Napi::Function::New(env, AdviseHugePages, "adviseHugePages"));
  register_ops(env, exports);
  register_fused(env, exports);
  return exports;
}

}  // namespace trm

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return trm::Init(env, exports); }
NODE_API_MODULE(trm_native, InitModule)
