{
  "targets": [
    {
      "target_name": "trm_native",
      "sources": [
        "native/binding.cpp",
        "native/binding_ops.cpp",
        "native/binding_fused.cpp",
        "native/threadpool.cpp",
        "native/cpu_features.cpp",
        "native/gemm/gemm.cpp",
        "native/gemm/kernel_avx512.cpp",
        "native/gemm/kernel_avx512_bf16.cpp",
        "native/gemm/kernel_avx2.cpp",
        "native/gemm/kernel_portable.cpp",
        "native/gemm/sum_nt.cpp",
        "native/gemm/sum_nt_avx512.cpp",
        "native/gemm/sum_nt_bf16_avx512.cpp",
        "native/gemm/sum_nt_avx2.cpp",
        "native/ops/attention.cpp",
        "native/ops/elementwise.cpp",
        "native/ops/fused.cpp",
        "native/ops/embedding.cpp",
        "native/ops/losses.cpp",
        "native/ops/movement.cpp",
        "native/ops/optim.cpp",
        "native/ops/optim_avx2.cpp",
        "native/ops/rmsnorm.cpp",
        "native/ops/rmsnorm_avx512.cpp",
        "native/ops/rmsnorm_avx2.cpp",
        "native/ops/swiglu.cpp",
        "native/ops/swiglu_avx512.cpp",
        "native/ops/swiglu_bf16_avx512.cpp",
        "native/ops/swiglu_avx2.cpp"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags": ["-O3", "-fno-math-errno"],
      "cflags_cc": ["-O3", "-std=c++17", "-fexceptions", "-fno-math-errno", "-Wall", "-Wno-unused-function"],
      "ldflags": ["-pthread"],
      "conditions": [
        ["target_arch!='x64' and target_arch!='ia32'", {
          "sources!": ["native/gemm/kernel_avx512.cpp", "native/gemm/sum_nt_avx512.cpp", "native/gemm/sum_nt_bf16_avx512.cpp", "native/gemm/sum_nt_avx2.cpp", "native/gemm/kernel_avx512_bf16.cpp", "native/gemm/kernel_avx2.cpp", "native/ops/swiglu_avx512.cpp", "native/ops/swiglu_bf16_avx512.cpp", "native/ops/swiglu_avx2.cpp", "native/ops/rmsnorm_avx512.cpp", "native/ops/rmsnorm_avx2.cpp", "native/ops/optim_avx2.cpp"],
          "sources": ["native/gemm/kernel_x86_absent.cpp"]
        }]
      ]
    }
  ]
}
