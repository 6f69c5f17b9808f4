/**
 * ref/elementwise.ts: reference add, add3, axpby, scale and sum (native/ops/elementwise.cpp).
 * add3 rounds a + b to float32 before adding c, as the native float loop does.
 */
import type { F32 } from '../backend.js';

export function add(out: F32, a: F32, b: F32, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i] + b[i];
}

export function add3(out: F32, a: F32, b: F32, c: F32, n: number): void {
  for (let i = 0; i < n; i++) out[i] = Math.fround(a[i] + b[i]) + c[i];
}

export function axpby(out: F32, a: F32, b: F32, alpha: number, beta: number, n: number): void {
  for (let i = 0; i < n; i++) out[i] = alpha * a[i] + beta * b[i];
}

export function scale(out: F32, inp: F32, alpha: number, n: number): void {
  for (let i = 0; i < n; i++) out[i] = alpha * inp[i];
}

/** Sum in float64, in index order. */
export function sum(inp: F32, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += inp[i];
  return s;
}
