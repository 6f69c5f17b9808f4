/**
 * ref/movement.ts: reference data-movement kernels (native/ops/movement.cpp): strided 2-D copy,
 * fill, u8 -> f32 cast, and the carry reset that broadcasts a start vector over a slot's rows.
 */
import type { F32, U8 } from '../backend.js';

export function copy2d(dst: F32, src: F32, rows: number, cols: number, ldDst: number, ldSrc: number): void {
  for (let r = 0; r < rows; r++) dst.set(src.subarray(r * ldSrc, r * ldSrc + cols), r * ldDst);
}

export function transpose(out: F32, inp: F32, R: number, C: number): void {
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) out[c * R + r] = inp[r * C + c];
}

export function fill(dst: F32, value: number, n: number): void {
  dst.fill(value, 0, n);
}

export function castU8F32(out: F32, inp: U8, n: number): void {
  for (let i = 0; i < n; i++) out[i] = inp[i];
}

export function broadcastRows(
  dst: F32,
  src: F32,
  mask: U8,
  B: number,
  per: number,
  D: number,
  srcStride: number,
): void {
  for (let b = 0; b < B; b++) {
    if (!mask[b]) continue;
    const row = src.subarray(b * srcStride, b * srcStride + D);
    for (let o = b * per; o < (b + 1) * per; o += D) dst.set(row, o);
  }
}
