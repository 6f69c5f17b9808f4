/**
 * ref/elementwise.ts: reference add, add3 and the bias add / its backward (native/ops/elementwise.cpp).
 * add3 rounds a + b to float32 before adding c, as the native float loop does.
 */
import type { F32 } from '../backend.js';

export function add(out: F32, a: F32, b: F32, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
}

export function add3(out: F32, a: F32, b: F32, c: F32, n: number): void {
  for (let i = 0; i < n; i++) out[i] = Math.fround(a[i] + b[i]) + c[i];
}

export function addBias(out: F32, bias: F32, N: number, C: number): void {
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) out[n * C + c] += bias[c];
}

/** Column sums in float64, rows in order, added once into dbias. */
export function biasBackward(dbias: F32, dout: F32, N: number, C: number): void {
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) s += dout[n * C + c];
    dbias[c] += s;
  }
}
