/**
 * ref/embedding.ts: reference scaled embedding lookup and its row-ordered backward
 * (native/ops/embedding.cpp). An id outside [0, V) is a RangeError, as in the addon.
 */
import type { F32, I32 } from '../backend.js';

/** Throws a RangeError naming the kernel, position and value of the first index outside [0, V). */
export function checkIndices(kernel: string, what: string, vals: I32, n: number, V: number, ignore?: number): void {
  for (let i = 0; i < n; i++) {
    const v = vals[i];
    if (v !== ignore && (v < 0 || v >= V)) throw new RangeError(`${kernel}: ${what}[${i}] = ${v} is outside [0, ${V})`);
  }
}

export function embeddingForward(out: F32, ids: I32, table: F32, N: number, D: number, V: number, scale: number): void {
  checkIndices('embeddingForward', 'ids', ids, N, V);
  for (let i = 0; i < N; i++) for (let d = 0; d < D; d++) out[i * D + d] = scale * table[ids[i] * D + d];
}

export function embeddingBackward(
  dtable: F32,
  dout: F32,
  ids: I32,
  N: number,
  D: number,
  V: number,
  scale: number,
): void {
  checkIndices('embeddingBackward', 'ids', ids, N, V);
  for (let i = 0; i < N; i++) for (let d = 0; d < D; d++) dtable[ids[i] * D + d] += scale * dout[i * D + d];
}
