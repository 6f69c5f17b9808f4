// movement.cpp: data-movement kernels, so that no model code touches tensor memory on the host:
// a strided 2-D copy (qkv split/merge, the puzzle prefix), fill, the u8 -> f32 cast of 0/1 flags
// and the carry reset that broadcasts a start vector over the rows of the slots being reset.
#include <cstring>

#include "../gemm/gemm.h"
#include "ops.h"

namespace trm {

// Rows over kCopyPieceFrom floats (1 MiB) in pieces of kCopyPiece (256 KiB), so a copy of one long row (ops.ts
// copy: the carry's 6208 x 512 states of the paper step at B 64 are one row) splits over the threads too: as one
// piece it ran on the caller alone, 1.5 ms of each such call at 16 threads with the other 15 idle. Shorter rows
// stay whole: cpu-sudoku4's one-row carry copies (34816 floats) in 16 Ki-float pieces ran its fp32 step 0.99x on
// two threads (the copy's lines then in the other core's cache) and ~0.85x at 16.
constexpr long kCopyPieceFrom = 1L << 18, kCopyPiece = 1L << 16;
void copy2d(float* dst, const float* src, long rows, long cols, long ld_dst, long ld_src) {
  const long piece = cols > kCopyPieceFrom ? kCopyPiece : cols, pieces = (cols + piece - 1) / piece;
  parallel_for(rows * pieces, rows * cols, [&](long lo, long hi) {
    for (long i = lo; i < hi; i++) {
      const long r = i / pieces, c0 = i % pieces * piece, n = cols - c0 < piece ? cols - c0 : piece;
      std::memcpy(dst + r * ld_dst + c0, src + r * ld_src + c0, n * sizeof(float));
    }
  });
}

// out (C x R) = inp (R x C)^T, 16 columns of inp per work item, through copy_transposed's blocks
// (column by column, every read touched a new line: the token mixer's weight transposes, 512 x 82
// and 82 x 256 per backward call, ran 0.7 ns per element on Zen 2)
void transpose(float* out, const float* inp, long R, long C) {
  constexpr long BS = 16;
  parallel_for((C + BS - 1) / BS, R * C, [&](long lo, long hi) {
    const long c0 = lo * BS, c1 = hi * BS < C ? hi * BS : C;
    copy_transposed(out + c0 * R, R, inp + c0, C, R, c1 - c0);
  });
}

void fill(float* dst, double value, long n) {
  float v = (float)value;
  parallel_for(n, n, [&](long lo, long hi) {
    for (long i = lo; i < hi; i++) dst[i] = v;
  });
}

void cast_u8_f32(float* out, const uint8_t* inp, long n) {
  for (long i = 0; i < n; i++) out[i] = (float)inp[i];
}

void broadcast_rows(float* dst, const float* src, const uint8_t* mask, long B, long per, long D, long src_stride) {
  parallel_for(B, B * per, [&](long lo, long hi) {
    for (long b = lo; b < hi; b++) {
      if (!mask[b]) continue;
      const float* row = src + b * src_stride;
      for (long o = b * per; o < (b + 1) * per; o += D) std::memcpy(dst + o, row, D * sizeof(float));
    }
  });
}

}  // namespace trm
