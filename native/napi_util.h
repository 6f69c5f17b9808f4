// napi_util.h: argument readers shared by the binding files. Every kernel entry point reads its
// arguments through these, so a wrong type from JavaScript is a TypeError naming the kernel and
// the argument position, never a crash. Sizes are validated in TypeScript (src/kernels/) before
// the call; the binding re-checks buffer lengths where an overrun would corrupt memory.
#pragma once
#define NAPI_VERSION 8
#include <napi.h>

#include <cstdint>
#include <string>

namespace trm {

struct Args {
  const Napi::CallbackInfo& info;
  const char* kernel;

  [[noreturn]] void fail(const std::string& msg) const {
    throw Napi::TypeError::New(info.Env(), std::string(kernel) + ": " + msg);
  }
  void expect_count(size_t n) const {
    if (info.Length() != n)
      fail("expected " + std::to_string(n) + " arguments, got " + std::to_string(info.Length()));
  }
  // One napi_get_typedarray_info per argument (it fails on anything that is not a typed array): the
  // wrapper's IsTypedArray, TypedArrayType, ElementLength and Data were four engine calls each, and a
  // kernel call comes right after another kernel streamed megabytes through the caches, where every
  // engine call's code and data are cold (a fused kernel takes ~10 arrays).
  bool typed(size_t i, napi_typedarray_type* t, size_t* len, void** data) const {
    size_t n = 0;
    if (napi_get_typedarray_info(info.Env(), info[i], t, &n, data, nullptr, nullptr) != napi_ok) return false;
    if (len) *len = n;
    return true;
  }
  void* typed_as(size_t i, napi_typedarray_type want, size_t* len, const char* what) const {
    napi_typedarray_type t;
    void* data = nullptr;
    if (!typed(i, &t, len, &data) || t != want) fail("argument " + std::to_string(i) + " must be " + what);
    return data;
  }
  float* f32(size_t i, size_t* len = nullptr) const {
    return static_cast<float*>(typed_as(i, napi_float32_array, len, "a Float32Array"));
  }
  // A Float32Array, or a Uint16Array of bfloat16 values (*is16 set): a bf16 run's kept tensors.
  void* f32_or_bf16(size_t i, size_t* len, bool* is16) const {
    napi_typedarray_type t;
    void* data = nullptr;
    if (!typed(i, &t, len, &data) || (t != napi_float32_array && t != napi_uint16_array))
      fail("argument " + std::to_string(i) + " must be a Float32Array or a Uint16Array (bf16)");
    *is16 = t == napi_uint16_array;
    return data;
  }
  int32_t* i32(size_t i, size_t* len = nullptr) const {
    return static_cast<int32_t*>(typed_as(i, napi_int32_array, len, "an Int32Array"));
  }
  uint8_t* u8(size_t i, size_t* len = nullptr) const {
    return static_cast<uint8_t*>(typed_as(i, napi_uint8_array, len, "a Uint8Array"));
  }
  double f64s(size_t i) const {  // a scalar number (napi_get_value_double fails on anything else)
    double v;
    if (napi_get_value_double(info.Env(), info[i], &v) != napi_ok)
      fail("argument " + std::to_string(i) + " must be a number");
    return v;
  }
  long i64s(size_t i) const {  // a non-negative integer size or stride
    const double v = f64s(i);
    if (v < 0 || v != (double)(long)v) fail("argument " + std::to_string(i) + " must be a non-negative integer");
    return (long)v;
  }
  bool flag(size_t i) const {
    if (!info[i].IsBoolean()) fail("argument " + std::to_string(i) + " must be a boolean");
    return info[i].As<Napi::Boolean>().Value();
  }
  void check_len(const char* name, size_t have, size_t need) const {
    if (have < need)
      fail(std::string(name) + " has " + std::to_string(have) + " elements, needs " + std::to_string(need));
  }
};

// Each binding file adds its functions to the module's exports.
void register_gemm(Napi::Env env, Napi::Object exports);
void register_ops(Napi::Env env, Napi::Object exports);
void register_fused(Napi::Env env, Napi::Object exports);

}  // namespace trm
