// amx_emulate.h: scalar stand-ins for the AMX intrinsics of kernel_avx512_bf16.cpp, for builds with
// TRM_AMX_EMULATE only (tools/test-amx-emulated.mjs). They let the AMX kernel's packs, tile shapes
// and remainder handling run, slowly, on a CPU without AMX, so the whole test suite can exercise
// the AMX path (the driver, the fused epilogues, training) where no AMX machine is at hand. The
// arithmetic follows the SDM's TDPBF16PS pseudo-code: per C element, per k pair, the even product
// then the odd one added in fp32. Never part of a normal build.
#pragma once
#include <stdint.h>
#include <string.h>

namespace trm_amx_emulate {

struct Config {
  uint8_t palette, start_row, reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};
inline thread_local Config cfg;
inline thread_local uint8_t tiles[8][16 * 64];

inline float bf16_to_f32(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}
inline void loadconfig(const void* c) {
  memcpy(&cfg, c, sizeof cfg);
  memset(tiles, 0, sizeof tiles);
}
inline void loadd(int t, const void* base, long stride) {
  memset(tiles[t], 0, sizeof tiles[t]);
  for (int r = 0; r < cfg.rows[t]; r++) memcpy(tiles[t] + r * 64, (const char*)base + r * stride, cfg.colsb[t]);
}
inline void stored(int t, void* base, long stride) {
  for (int r = 0; r < cfg.rows[t]; r++) memcpy((char*)base + r * stride, tiles[t] + r * 64, cfg.colsb[t]);
}
inline void zero(int t) { memset(tiles[t], 0, sizeof tiles[t]); }
inline void dpbf16ps(int c, int a, int b) {
  const int M = cfg.rows[c], N = cfg.colsb[c] / 4, K = cfg.colsb[a] / 4;
  for (int m = 0; m < M; m++)
    for (int n = 0; n < N; n++) {
      float acc;
      memcpy(&acc, tiles[c] + m * 64 + n * 4, 4);
      for (int k = 0; k < K; k++) {
        uint16_t a0, a1, b0, b1;
        memcpy(&a0, tiles[a] + m * 64 + k * 4, 2);
        memcpy(&a1, tiles[a] + m * 64 + k * 4 + 2, 2);
        memcpy(&b0, tiles[b] + k * 64 + n * 4, 2);
        memcpy(&b1, tiles[b] + k * 64 + n * 4 + 2, 2);
        acc += bf16_to_f32(a0) * bf16_to_f32(b0);
        acc += bf16_to_f32(a1) * bf16_to_f32(b1);
      }
      memcpy(tiles[c] + m * 64 + n * 4, &acc, 4);
    }
}

}  // namespace trm_amx_emulate

#undef _tile_loadd
#undef _tile_stored
#undef _tile_zero
#undef _tile_dpbf16ps
#define _tile_loadconfig(c) trm_amx_emulate::loadconfig(c)
#define _tile_loadd(t, base, stride) trm_amx_emulate::loadd(t, base, stride)
#define _tile_stored(t, base, stride) trm_amx_emulate::stored(t, base, stride)
#define _tile_zero(t) trm_amx_emulate::zero(t)
#define _tile_dpbf16ps(c, a, b) trm_amx_emulate::dpbf16ps(c, a, b)
#define _tile_release() ((void)0)
