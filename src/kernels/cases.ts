/**
 * cases.ts: one table of kernel cases (odd sizes, seeded inputs), shared by `trm selfcheck`
 * (native against the reference on the user's machine), the kernel parity tests, and the WebGPU
 * tests. Each case builds fresh arguments; `outs` are the positions whose contents are compared.
 * Device-free.
 */
import type { KernelBackend } from './backend.js';

export function rand(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = ((x / 4294967296) * 2 - 1) * scale;
  }
  return out;
}
function ints(n: number, seed: number, hi: number): Int32Array {
  const r = rand(n, seed);
  return Int32Array.from(r, v => Math.min(hi - 1, Math.floor((v + 1) / 2 * hi)));
}

export type Arr = Float32Array | Int32Array | Uint8Array;
/** A case builds fresh arguments; `outs` are the argument positions whose contents are compared. */
export interface Case { kernel: Exclude<keyof KernelBackend, 'name'>; args: () => unknown[]; outs: number[]; tol?: number }

const N = 97, D = 67, V = 11, B = 3, S = 13, H = 5, Dh = 8;
/** One case per kernel (two for gemm), on odd sizes. */
export const kernelCases: Case[] = [
  { kernel: 'gemm', args: () => [false, true, 37, 45, 71, 0.5, rand(37 * 71, 1), 71, 0, rand(45 * 71, 2), 71, 0, 0.25, rand(37 * 45, 3), 45, 0, 1], outs: [13] },
  { kernel: 'gemm', args: () => [true, false, 29, 33, 97, 1, rand(97 * 29, 4), 29, 0, rand(97 * 33, 5), 33, 0, 0, new Float32Array(29 * 33), 33, 0, 1], outs: [13] },
  { kernel: 'add', args: () => [new Float32Array(N * D), rand(N * D, 1), rand(N * D, 2), N * D], outs: [0] },
  { kernel: 'add3', args: () => [new Float32Array(N * D), rand(N * D, 1), rand(N * D, 2), rand(N * D, 3), N * D], outs: [0] },
  { kernel: 'addBias', args: () => [rand(N * D, 1), rand(D, 2), N, D], outs: [0] },
  { kernel: 'biasBackward', args: () => [rand(D, 1), rand(N * D, 2), N, D], outs: [0] },
  { kernel: 'copy2d', args: () => [rand(N * D, 1), rand(N * 3 * D, 2), N, D - 5, D, 3 * D], outs: [0] },
  { kernel: 'fill', args: () => [rand(N * D, 1), -0.75, N * D - 3], outs: [0] },
  { kernel: 'castU8F32', args: () => [new Float32Array(N), Uint8Array.from(ints(N, 3, 2)), N], outs: [0] },
  { kernel: 'broadcastRows', args: () => [rand(B * S * D, 1), rand(B * D, 2), Uint8Array.of(1, 0, 1), B, S * D, D, D], outs: [0] },
  { kernel: 'broadcastRows', args: () => [rand(B * S * D, 1), rand(D, 2), Uint8Array.of(0, 1, 1), B, S * D, D, 0], outs: [0] },
  { kernel: 'rmsnormForward', args: () => [new Float32Array(N * D), new Float32Array(N), rand(N * D, 1), N, D, 1e-5], outs: [0, 1] },
  { kernel: 'rmsnormBackward', args: () => [new Float32Array(N * D), rand(N * D, 2), rand(N * D, 3), rand(N, 4), N, D], outs: [0] },
  { kernel: 'rmsnormSeqForward', args: () => [new Float32Array(B * S * D), new Float32Array(B * D), rand(B * S * D, 1), B, S, D, 1e-5], outs: [0, 1] },
  { kernel: 'rmsnormSeqBackward', args: () => [new Float32Array(B * S * D), rand(B * S * D, 2), rand(B * S * D, 3), rand(B * D, 4), B, S, D], outs: [0] },
  { kernel: 'swigluForward', args: () => [new Float32Array(N * D), rand(N * 2 * D, 1, 3), N, D], outs: [0] },
  { kernel: 'swigluBackward', args: () => [new Float32Array(N * 2 * D), rand(N * D, 2), rand(N * 2 * D, 1, 3), N, D], outs: [0] },
  { kernel: 'embeddingForward', args: () => [new Float32Array(N * D), ints(N, 1, V), rand(V * D, 2), N, D, V, 2.0], outs: [0] },
  { kernel: 'embeddingBackward', args: () => [rand(V * D, 3), rand(N * D, 4), ints(N, 1, V), N, D, V, 0.5], outs: [0] },
  { kernel: 'stablemaxCeForward', args: () => [new Float32Array(N), rand(N * V, 1, 20), ints(N, 2, V).map((v, i) => (i % 7 === 0 ? -100 : v)), N, V, -100], outs: [0] },
  { kernel: 'stablemaxCeBackward', args: () => [new Float32Array(N * V), rand(N, 3), rand(N * V, 1, 20), ints(N, 2, V).map((v, i) => (i % 7 === 0 ? -100 : v)), N, V, -100], outs: [0] },
  { kernel: 'bceLogitsForward', args: () => [new Float32Array(N), rand(N, 1, 30), rand(N, 2).map(v => (v > 0 ? 1 : 0)), N], outs: [0] },
  { kernel: 'bceLogitsBackward', args: () => [new Float32Array(N), rand(N, 3), rand(N, 1, 30), rand(N, 2).map(v => (v > 0 ? 1 : 0)), N], outs: [0] },
  { kernel: 'argmax', args: () => [new Int32Array(N), rand(N * V, 1), N, V], outs: [0] },
  { kernel: 'matchCounts', args: () => [new Uint8Array(B), new Int32Array(2 * B), ints(B * S, 1, 3), ints(B * S, 2, 3).map((v, i) => (i % 5 === 0 ? -100 : v)), B, S, -100], outs: [0, 1] },
  { kernel: 'lossGrad', args: () => [new Float32Array(B * S), new Float32Array(B), Int32Array.of(13, 0, 0, 0, 7, 2), rand(B, 5).map(Math.abs), B, S, 1 / 3], outs: [0, 1] },
  { kernel: 'lossGrad', args: () => [new Float32Array(B * S), new Float32Array(B), Int32Array.of(13, 0, 0, 0, 7, 2), null, B, S, 0.25], outs: [0, 1] },
  { kernel: 'softmaxForward', args: () => [new Float32Array(N * V), rand(N * V, 1, 10), N, V], outs: [0] },
  { kernel: 'softmaxBackward', args: () => [new Float32Array(N * V), rand(N * V, 2), rand(N * V, 3).map(Math.abs), N, V], outs: [0] },
  { kernel: 'ropeForward', args: () => [new Float32Array(B * S * H * Dh), rand(B * S * H * Dh, 1), rand(S * Dh, 2), rand(S * Dh, 3), B, S, H, Dh], outs: [0] },
  { kernel: 'ropeBackward', args: () => [new Float32Array(B * S * H * Dh), rand(B * S * H * Dh, 1), rand(S * Dh, 2), rand(S * Dh, 3), B, S, H, Dh], outs: [0] },
  { kernel: 'adamAtan2Step', args: () => [rand(N * D, 1), rand(N * D, 2, 0.1), rand(N * D, 3, 0.1).map(Math.abs), rand(N * D, 4), N * D, 1e-3, 0.9, 0.95, 0.1, 3], outs: [0, 1, 2] },
  { kernel: 'adamwStep', args: () => [rand(N * D, 1), rand(N * D, 2, 0.1), rand(N * D, 3, 0.1).map(Math.abs), rand(N * D, 4), N * D, 1e-3, 0.9, 0.95, 1e-8, 0.1, 3], outs: [0, 1, 2] },
  { kernel: 'signSgdRows', args: () => [rand(N * D, 1), rand(N * D, 2), Int32Array.of(5, 0, 96, 17), 4, D, 1e-2, 0.1], outs: [0] },
  { kernel: 'emaUpdate', args: () => [rand(N * D, 1), rand(N * D, 2), N * D, 0.999], outs: [0] },
];

