/**
 * aligned.ts: Float32Arrays whose data starts on a 64-byte cache line. Large activations and GEMM
 * outputs should be allocated here: with a misaligned C every 64-byte vector store of the GEMM
 * straddles two cache lines, which measured ~20% slower on output-bound products (the token
 * mixer, docs/PERFORMANCE.md). Without the addon this is a plain Float32Array.
 */
import { addon } from './native.js';

/** With TRM_HUGE_PAGES=1, arrays of at least this many bytes are offered 2 MiB pages (two whole ones
 *  fit at any offset). Off by default: on one Zen 5 machine they made the paper step 0.5-1% faster,
 *  on another (2026-12-01) 5-10% slower (docs/PERFORMANCE.md, "Speed II, sixth and seventh sessions"). */
const HUGE_PAGES_FROM = process.env.TRM_HUGE_PAGES === '1' ? 4 << 20 : Number.POSITIVE_INFINITY;

/** A fresh buffer of at least HUGE_PAGES_FROM bytes: its whole 2 MiB pages advised huge before the
 *  first write, so they fault in as such (the GEMMs stream activations row by row: fewer TLB misses). */
function freshBuffer(bytes: number): ArrayBuffer {
  const buf = new ArrayBuffer(bytes);
  if (bytes >= HUGE_PAGES_FROM) addon?.adviseHugePages(new Uint8Array(buf));
  return buf;
}

/** n floats, zero-filled, data 64-byte aligned when the native addon can tell the address. */
export function alignedF32(n: number): Float32Array {
  if (!addon || n * 4 < 4096) return new Float32Array(n);
  // An explicit ArrayBuffer keeps its backing store off the V8 heap, so the address never moves.
  const buf = freshBuffer(n * 4 + 64);
  const mis = addon.addressMod64(new Uint8Array(buf, 0, 1));
  const offset = mis === 0 ? 0 : 64 - mis;
  return new Float32Array(buf, offset, n);
}

/** n bfloat16 values (a Uint16Array, zero-filled), data 64-byte aligned as alignedF32's. */
export function alignedBf16(n: number): Uint16Array {
  if (!addon || n * 2 < 4096) return new Uint16Array(n);
  const buf = freshBuffer(n * 2 + 64);
  const mis = addon.addressMod64(new Uint8Array(buf, 0, 1));
  const offset = mis === 0 ? 0 : 64 - mis;
  return new Uint16Array(buf, offset, n);
}
