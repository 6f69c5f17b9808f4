/**
 * Every non-GEMM kernel against the reference on seeded random shapes (odd, tiny and wider than
 * a workgroup), both embedding-backward variants (small table: one invocation per entry; large:
 * one per column), and inputs at odd offsets inside shared buffers.
 */
import { expect, it } from 'vitest';
import { rand } from '../../src/kernels/cases.js';
import { refBackend } from '../../src/kernels/ref/index.js';
import type { KernelBackend } from '../../src/kernels/backend.js';
import type { Tensor } from '../../src/kernels/device.js';
import type { WebGpuDevice } from '../../src/webgpu/device.js';
import { describeGpu } from './helpers.js';

type Arr = Float32Array | Int32Array | Uint8Array;
interface C {
  kernel: Exclude<keyof KernelBackend, 'name'>;
  args: unknown[];
  outs: number[];
}

const ints = (n: number, seed: number, hi: number) =>
  Int32Array.from(rand(n, seed), v => Math.min(hi - 1, Math.floor(((v + 1) / 2) * hi)));
const flags = (n: number, seed: number) => Uint8Array.from(rand(n, seed), v => (v > 0 ? 1 : 0));
const masked = (a: Int32Array, every: number) => a.map((v, k) => (k % every === 0 ? -100 : v));

/** One case per kernel at the sizes (N rows of D; vocab V; B x S sequences; H heads of Dh). */
function cases(N: number, D: number, V: number, B: number, S: number, H: number, Dh: number, s: number): C[] {
  const f = (n: number, k: number, scale = 1) => rand(n, s * 100 + k, scale);
  return [
    { kernel: 'copy2d', args: [f(N * (D + 2), 1), f(N * 2 * D, 2), N, D, D + 2, 2 * D], outs: [0] },
    { kernel: 'fill', args: [f(N * D, 1), 0.3, N * D], outs: [0] },
    { kernel: 'castU8F32', args: [f(N, 1), flags(N, s), N], outs: [0] },
    { kernel: 'broadcastRows', args: [f(B * S * D, 1), f(B * D, 2), flags(B, s), B, S * D, D, D], outs: [0] },
    { kernel: 'add', args: [f(N * D, 1), f(N * D, 2), f(N * D, 3), N * D], outs: [0] },
    { kernel: 'add3', args: [f(N * D, 1), f(N * D, 2), f(N * D, 3), f(N * D, 4), N * D], outs: [0] },
    { kernel: 'addBias', args: [f(N * D, 1), f(D, 2), N, D], outs: [0] },
    { kernel: 'biasBackward', args: [f(D, 1), f(N * D, 2), N, D], outs: [0] },
    { kernel: 'rmsnormForward', args: [f(N * D, 1), f(N, 2), f(N * D, 3), N, D, 1e-5], outs: [0, 1] },
    { kernel: 'rmsnormBackward', args: [f(N * D, 1), f(N * D, 2), f(N * D, 3), f(N, 4), N, D], outs: [0] },
    { kernel: 'rmsnormSeqForward', args: [f(B * S * D, 1), f(B * D, 2), f(B * S * D, 3), B, S, D, 1e-5], outs: [0, 1] },
    {
      kernel: 'rmsnormSeqBackward',
      args: [f(B * S * D, 1), f(B * S * D, 2), f(B * S * D, 3), f(B * D, 4), B, S, D],
      outs: [0],
    },
    { kernel: 'swigluForward', args: [f(N * D, 1), f(N * 2 * D, 2, 4), N, D], outs: [0] },
    { kernel: 'swigluBackward', args: [f(N * 2 * D, 1), f(N * D, 2), f(N * 2 * D, 3, 4), N, D], outs: [0] },
    { kernel: 'embeddingForward', args: [f(N * D, 1), ints(N, s, V), f(V * D, 2), N, D, V, 1.5], outs: [0] },
    { kernel: 'embeddingBackward', args: [f(V * D, 1), f(N * D, 2), ints(N, s, V), N, D, V, 0.7], outs: [0] },
    { kernel: 'stablemaxCeForward', args: [f(N, 1), f(N * V, 2, 10), masked(ints(N, s, V), 5), N, V, -100], outs: [0] },
    {
      kernel: 'stablemaxCeBackward',
      args: [f(N * V, 1), f(N, 2), f(N * V, 3, 10), masked(ints(N, s, V), 5), N, V, -100],
      outs: [0],
    },
    { kernel: 'bceLogitsForward', args: [f(N, 1), f(N, 2, 8), Float32Array.from(flags(N, s)), N], outs: [0] },
    { kernel: 'bceLogitsBackward', args: [f(N, 1), f(N, 2), f(N, 3, 8), Float32Array.from(flags(N, s)), N], outs: [0] },
    { kernel: 'argmax', args: [new Int32Array(N), Float32Array.from(ints(N * V, s, 4)), N, V], outs: [0] }, // many ties
    {
      kernel: 'matchCounts',
      args: [new Uint8Array(B), new Int32Array(2 * B), ints(B * S, s, 2), masked(ints(B * S, s + 1, 2), 3), B, S, -100],
      outs: [0, 1],
    },
    {
      kernel: 'lossGrad',
      args: [f(B * S, 1), f(B, 2), ints(2 * B, s, S + 1), f(B, 3).map(Math.abs), B, S, 0.3],
      outs: [0, 1],
    },
    { kernel: 'lossGrad', args: [f(0, 1), f(B, 2), ints(2 * B, s, S + 1), null, B, 0, 0.3], outs: [1] },
    { kernel: 'softmaxForward', args: [f(N * V, 1), f(N * V, 2, 10), N, V], outs: [0] },
    { kernel: 'softmaxBackward', args: [f(N * V, 1), f(N * V, 2), f(N * V, 3).map(Math.abs), N, V], outs: [0] },
    {
      kernel: 'ropeForward',
      args: [f(B * S * H * Dh, 1), f(B * S * H * Dh, 2), f(S * Dh, 3), f(S * Dh, 4), B, S, H, Dh],
      outs: [0],
    },
    {
      kernel: 'ropeBackward',
      args: [f(B * S * H * Dh, 1), f(B * S * H * Dh, 2), f(S * Dh, 3), f(S * Dh, 4), B, S, H, Dh],
      outs: [0],
    },
    {
      kernel: 'adamAtan2Step',
      args: [
        f(N * D, 1),
        f(N * D, 2, 0.1),
        f(N * D, 3, 0.01).map(Math.abs),
        f(N * D, 4),
        N * D,
        3e-4,
        0.9,
        0.95,
        0.1,
        1 + s,
      ],
      outs: [0, 1, 2],
    },
    {
      kernel: 'adamwStep',
      args: [
        f(N * D, 1),
        f(N * D, 2, 0.1),
        f(N * D, 3, 0.01).map(Math.abs),
        f(N * D, 4),
        N * D,
        3e-4,
        0.9,
        0.95,
        1e-8,
        0.1,
        1 + s,
      ],
      outs: [0, 1, 2],
    },
    {
      kernel: 'signSgdRows',
      args: [
        f(N * D, 1),
        f(N * D, 2).map((v, k) => (k % 7 === 0 ? 0 : v)),
        Int32Array.of(N - 1, 0).subarray(0, Math.min(2, N)),
        Math.min(2, N),
        D,
        1e-2,
        0.1,
      ],
      outs: [0],
    },
    { kernel: 'emaUpdate', args: [f(N * D, 1), f(N * D, 2), N * D, 0.99], outs: [0] },
  ];
}

/** Uploads each array into its own view at an odd offset of one shared buffer per dtype. */
function place(d: WebGpuDevice, args: unknown[]): unknown[] {
  return args.map((a, k) => {
    if (!(a instanceof Float32Array || a instanceof Int32Array || a instanceof Uint8Array)) return a;
    const pad = 2 * k + 1,
      n = a.length;
    const whole: Tensor =
      a instanceof Float32Array ? d.f32(n + pad + 3) : a instanceof Int32Array ? d.i32(n + pad + 3) : d.u8(n + pad + 3);
    const v = d.view(whole, pad, n);
    d.write(v, a as Arr);
    return v;
  });
}

const shapes: [number, number, number, number, number, number, number][] = [
  // N, D, V, B, S, H, Dh
  [1, 1, 1, 1, 1, 1, 2],
  [33, 513, 11, 5, 17, 3, 6],
  [130, 97, 70, 2, 81, 4, 16],
  [7, 260, 129, 3, 9, 2, 64],
];

await describeGpu('webgpu kernels vs reference on random shapes', dev => {
  shapes.forEach((sh, s) => {
    for (const c of cases(...sh, s + 1)) {
      it(`${c.kernel} N=${sh[0]} D=${sh[1]} V=${sh[2]} B=${sh[3]} S=${sh[4]} H=${sh[5]} Dh=${sh[6]}`, async () => {
        const d = dev();
        const want = c.args.map(a =>
          a instanceof Float32Array || a instanceof Int32Array || a instanceof Uint8Array ? a.slice() : a,
        );
        (refBackend as unknown as Record<string, (...a: unknown[]) => void>)[c.kernel](...want);
        const args = place(d, c.args);
        (d as unknown as Record<string, (...a: unknown[]) => void>)[c.kernel](...args);
        for (const o of c.outs) {
          const got = await d.read(args[o] as Tensor);
          expect(got, `${c.kernel} output ${o}`).toBeAllclose(want[o] as Arr, { rtol: 2e-5, atol: 2e-6 });
        }
      });
    }
  });
});
