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
  float* f32(size_t i, size_t* len = nullptr) const {
    if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      fail("argument " + std::to_string(i) + " must be a Float32Array");
    auto a = info[i].As<Napi::Float32Array>();
    if (len) *len = a.ElementLength();
    return a.Data();
  }
  // A Float32Array, or a Uint16Array of bfloat16 values (*is16 set): a bf16 run's kept tensors.
  void* f32_or_bf16(size_t i, size_t* len, bool* is16) const {
    if (info[i].IsTypedArray() && info[i].As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array) {
      auto a = info[i].As<Napi::Uint16Array>();
      *len = a.ElementLength();
      *is16 = true;
      return a.Data();
    }
    if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      fail("argument " + std::to_string(i) + " must be a Float32Array or a Uint16Array (bf16)");
    auto a = info[i].As<Napi::Float32Array>();
    *len = a.ElementLength();
    *is16 = false;
    return a.Data();
  }
  int32_t* i32(size_t i, size_t* len = nullptr) const {
    if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      fail("argument " + std::to_string(i) + " must be an Int32Array");
    auto a = info[i].As<Napi::Int32Array>();
    if (len) *len = a.ElementLength();
    return a.Data();
  }
  uint8_t* u8(size_t i, size_t* len = nullptr) const {
    if (!info[i].IsTypedArray() || info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
      fail("argument " + std::to_string(i) + " must be a Uint8Array");
    auto a = info[i].As<Napi::Uint8Array>();
    if (len) *len = a.ElementLength();
    return a.Data();
  }
  double f64s(size_t i) const {  // a scalar number
    if (!info[i].IsNumber()) fail("argument " + std::to_string(i) + " must be a number");
    return info[i].As<Napi::Number>().DoubleValue();
  }
  long i64s(size_t i) const {  // a non-negative integer size or stride
    if (!info[i].IsNumber()) fail("argument " + std::to_string(i) + " must be a number");
    double v = info[i].As<Napi::Number>().DoubleValue();
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
