/**
 * cases.ts: one table of kernel calls covering the whole contract, shared by `trm selfcheck`
 * (native against the reference on the user's machine), the kernel tests (native vs ref, 1 vs 2
 * threads bit for bit, size checks) and the WebGPU tests. Sizes are odd and above the native
 * threading threshold (16384 elements touched), inputs seeded. Each case builds fresh
 * arguments; `out` lists the argument positions whose contents are compared. Device-free.
 */
import { Rng, STREAM } from '../data/rng.js';
import type { KernelBackend } from './backend.js';
import { refBackend } from './ref/index.js';

export type Kernel = Exclude<keyof KernelBackend, 'name'>;
export type Arr = Float32Array | Int32Array | Uint8Array;
export interface KernelCase {
  name: Kernel;
  args: () => unknown[];
  out: number[];
  /** comparison tolerance against the reference (default rtol 1e-5, atol 1e-6) */
  rtol?: number;
  atol?: number;
  /** reduction length behind each output element (scales selfcheck's tolerance) */
  reduce?: number;
  /** a backward kernel called fresh (its gradient output starts from 0 and is never read): the
   *  gradient rule's accumulation does not apply to this call */
  fresh?: boolean;
}

/** n floats uniform in [-scale, scale) from Rng(seed, STREAM.cases). */
export function rand(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n),
    rng = new Rng(seed, STREAM.cases);
  for (let i = 0; i < n; i++) out[i] = (rng.float() * 2 - 1) * scale;
  return out;
}

/** n integers in [0, hi) from Rng(seed, STREAM.cases), with `ignore` at a fraction pIgnore of the
 *  positions (drawn from its sub-stream 1). */
export function ints(n: number, seed: number, hi: number, ignore?: number, pIgnore = 0): Int32Array {
  const rng = new Rng(seed, STREAM.cases),
    mask = rng.substream(1),
    out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = rng.int(hi);
    out[i] = ignore !== undefined && mask.float() < pIgnore ? ignore : v;
  }
  return out;
}

const IGNORE = -100;
const pos = (n: number, seed: number) => rand(n, seed).map(Math.abs);
const flags = (n: number, seed: number) => Uint8Array.from(rand(n, seed), v => (v > 0 ? 1 : 0));
/** Saved activations for a backward come from the reference forward. */
const saved = (fwd: (k: KernelBackend) => void): void => fwd(refBackend);

const n = 100_003,
  N = 301,
  D = 67,
  V = 11,
  B = 3,
  S = 97,
  H = 8;
/** The fused forwards keeping their activations for the backward (keep = true, the last argument). */
const tokenMixerNormForwardKept: KernelCase = {
  // B 5 items of S 13 x D 37, Is 24: per-item GEMMs (K 13, 24), SwiGLU, residual, sequence norm
  name: 'tokenMixerNormForward',
  args: () => [
    new Float32Array(5 * 13 * 37),
    new Float32Array(5 * 37),
    new Float32Array(5 * 48 * 37),
    new Float32Array(5 * 24 * 37),
    new Float32Array(5 * 13 * 37),
    rand(5 * 13 * 37, 41),
    rand(48 * 13, 42, 0.5),
    rand(13 * 24, 43, 0.3),
    5,
    13,
    37,
    24,
    1e-5,
    true,
  ],
  out: [0, 1, 3], // gateUp (2): native leaves it to its backward to recompute at this S
  rtol: 1e-4,
  atol: 1e-5,
  reduce: 24,
};
const mlpNormForwardKept: KernelCase = {
  // N 150 rows of D 37, I 48: chunked rows (the last chunk partial), GEMMs K 37 and 48
  name: 'mlpNormForward',
  args: () => [
    new Float32Array(150 * 37),
    new Float32Array(150),
    new Float32Array(150 * 96),
    new Float32Array(150 * 48),
    new Float32Array(150 * 37),
    rand(150 * 37, 44),
    rand(96 * 37, 45, 0.4),
    rand(37 * 48, 46, 0.3),
    150,
    37,
    48,
    1e-5,
    true,
  ],
  out: [0, 1, 2, 3],
  rtol: 1e-4,
  atol: 1e-5,
  reduce: 48,
};
/** tokenMixerNormBackward over B items of S x D, Is: dinp accumulates; gateUp is the forward's product
 *  of inp (the reference computes it), which an implementation that does not keep it recomputes. */
function tokenMixerNormBackwardCase(B: number, S: number, D: number, Is: number, seed: number): KernelCase {
  return {
    name: 'tokenMixerNormBackward',
    args: () => {
      const n = B * S * D,
        out = new Float32Array(n),
        rstd = new Float32Array(B * D),
        gateUp = new Float32Array(B * 2 * Is * D),
        inp = rand(n, seed + 6, 2),
        wGateUp = rand(2 * Is * S, seed + 7, 0.5),
        wGateUpT = new Float32Array(S * 2 * Is);
      saved(k => k.rmsnormSeqForward(out, rstd, rand(n, seed, 2), B, S, D, 1e-5));
      saved(k => k.gemm(false, false, 2 * Is, D, S, 1, wGateUp, S, 0, inp, D, S * D, 0, gateUp, D, 2 * Is * D, B));
      saved(k => k.transpose(wGateUpT, wGateUp, 2 * Is, S));
      return [
        rand(n, seed + 1),
        rand(n, seed + 2),
        rand(B * Is * D, seed + 3),
        rand(B * 2 * Is * D, seed + 4),
        rand(n, seed + 5),
        out,
        rstd,
        gateUp,
        inp,
        wGateUp,
        wGateUpT,
        rand(Is * S, seed + 8, 0.3),
        B,
        S,
        D,
        Is,
        false,
      ];
    },
    out: [0, 1, 3], // dh (2) is scratch
    rtol: 1e-4,
    atol: 1e-5,
    reduce: 2 * Is,
  };
}
/** The same forward with keep = false: the same out and rstd (outputs 0 and 1); gateUp and h are then
 *  scratch whose contents are unspecified, so they are not compared. */
const unkept = (c: KernelCase): KernelCase => ({
  ...c,
  args: () => [...c.args().slice(0, -1), false],
  out: [0, 1],
});

const mlpNormBackwardCase: KernelCase = {
  // N 150 rows of D 37, I 48: the saved norm output from a forward; dinp accumulates
  name: 'mlpNormBackward',
  args: () => {
    const out = new Float32Array(150 * 37),
      rstd = new Float32Array(150);
    saved(k => k.rmsnormForward(out, rstd, rand(150 * 37, 47, 2), 150, 37, 1e-5));
    return [
      rand(150 * 37, 48),
      rand(150 * 37, 49),
      rand(150 * 48, 50),
      rand(150 * 96, 51),
      rand(150 * 37, 52),
      out,
      rstd,
      rand(150 * 96, 53, 3),
      rand(96 * 37, 54, 0.4),
      rand(37 * 48, 55, 0.3),
      150,
      37,
      48,
      false,
    ];
  },
  out: [0, 1, 3], // dh (2) is scratch
  rtol: 1e-4,
  atol: 1e-5,
  reduce: 96,
};
/** The same backward called fresh (its last argument, false in the base case): dinp (argument 0) starts NaN-filled and is
 *  written as if it had been zero-filled, never read. */
const freshDinp = (c: KernelCase): KernelCase => ({
  ...c,
  args: () => {
    const a = c.args();
    (a[0] as Float32Array).fill(Number.NaN);
    return [...a.slice(0, -1), true];
  },
  fresh: true,
});

export const kernelCases: KernelCase[] = [
  {
    name: 'gemm',
    args: () => [
      false,
      true,
      37,
      45,
      71,
      0.5,
      rand(37 * 71, 1),
      71,
      0,
      rand(45 * 71, 2),
      71,
      0,
      0.25,
      rand(37 * 45, 3),
      45,
      0,
      1,
    ],
    out: [13],
    reduce: 71,
  },
  {
    name: 'gemm',
    args: () => [
      true,
      false,
      129,
      133,
      97,
      1,
      rand(97 * 129, 4),
      129,
      0,
      rand(97 * 133, 5),
      133,
      0,
      0,
      new Float32Array(129 * 133),
      133,
      0,
      1,
    ],
    out: [13],
    reduce: 97,
  },
  {
    name: 'gemm',
    args: () => [
      false,
      false,
      13,
      17,
      19,
      1,
      rand(5 * 13 * 19, 6),
      19,
      13 * 19,
      rand(19 * 17, 7),
      17,
      0,
      1,
      rand(13 * 17, 8),
      17,
      0,
      5,
    ],
    out: [13],
    reduce: 5 * 19,
  },
  // bf16 operands (the reference rounds them too): a shared A over a batch, and both transposes
  {
    name: 'gemmBf16',
    args: () => [
      false,
      true,
      37,
      45,
      71,
      0.5,
      rand(37 * 71, 9),
      71,
      0,
      rand(4 * 45 * 71, 10),
      71,
      45 * 71,
      0.25,
      rand(4 * 37 * 45, 11),
      45,
      37 * 45,
      4,
    ],
    out: [13],
    reduce: 71,
  },
  {
    name: 'gemmBf16',
    args: () => [
      true,
      false,
      129,
      133,
      97,
      1,
      rand(97 * 129, 12),
      129,
      0,
      rand(97 * 133, 13),
      133,
      0,
      0,
      new Float32Array(129 * 133),
      133,
      0,
      1,
    ],
    out: [13],
    reduce: 97,
  },
  // the fused token-mixer gate_up + SwiGLU: kept pre-activation, several items; and bf16 without it
  {
    name: 'gemmSwiglu',
    args: () => [
      new Float32Array(3 * 37 * 45),
      new Float32Array(3 * 2 * 37 * 45),
      rand(3 * 19 * 45, 14),
      rand(2 * 37 * 19, 15),
      37,
      45,
      19,
      3,
      false,
    ],
    out: [0, 1],
    rtol: 1e-4,
    atol: 1e-5,
    reduce: 19,
  },
  {
    name: 'gemmSwiglu',
    args: () => [new Float32Array(130 * 67), null, rand(97 * 67, 16), rand(2 * 130 * 97, 17), 130, 67, 97, 1, true],
    out: [0],
    rtol: 1e-4,
    atol: 1e-5,
    reduce: 97,
  },
  // the fused channel-MLP gate_up + SwiGLU (row layout): kept pre-activation; bf16 without it
  {
    name: 'linearSwiglu',
    args: () => [
      new Float32Array(45 * 37),
      new Float32Array(45 * 2 * 37),
      rand(45 * 19, 18),
      rand(2 * 37 * 19, 19),
      45,
      19,
      37,
      true,
      false,
    ],
    out: [0, 1],
    rtol: 1e-4,
    atol: 1e-5,
    reduce: 19,
  },
  {
    name: 'linearSwiglu',
    args: () => [
      new Float32Array(67 * 130),
      new Float32Array(67 * 260),
      rand(67 * 97, 20),
      rand(260 * 97, 21),
      67,
      97,
      130,
      false,
      true,
    ],
    out: [0],
    rtol: 1e-4,
    atol: 1e-5,
    reduce: 97,
  },
  // the SwiGLU backwards through the down product: adding into dgateUp, and fresh (never read:
  // NaN-filled to show it)
  {
    // the sum of item products, NT: C (45, 19) += sum over 5 items of A_b (45, 37) B_b (19, 37)^T
    name: 'gemmSumNT',
    args: () => [rand(45 * 19, 33), rand(5 * 45 * 37, 34), rand(5 * 19 * 37, 35), 45, 19, 37, 5, 45 * 37, 19 * 37, 1],
    out: [0],
    rtol: 1e-4,
    atol: 1e-5,
    reduce: 5 * 37,
  },
  {
    // the same sum with bf16 operands (the reference rounds them too): 37 k = 18 pairs and a half pair
    name: 'gemmSumNTBf16',
    args: () => [rand(45 * 19, 36), rand(5 * 45 * 37, 37), rand(5 * 19 * 37, 38), 45, 19, 37, 5, 45 * 37, 19 * 37, 1],
    out: [0],
    rtol: 1e-4,
    atol: 1e-5,
    reduce: 5 * 37,
  },
  {
    name: 'linearSwigluBackward',
    args: () => [
      rand(45 * 2 * 37, 28),
      new Float32Array(45 * 37),
      rand(45 * 19, 22),
      rand(45 * 2 * 37, 23, 3),
      rand(19 * 37, 24),
      45,
      19,
      37,
      false,
      false,
    ],
    out: [0],
    rtol: 1e-4,
    atol: 1e-5,
    reduce: 19,
  },
  {
    name: 'gemmSwigluBackward',
    args: () => [
      rand(3 * 2 * 37 * 45, 32),
      new Float32Array(3 * 37 * 45),
      rand(3 * 19 * 45, 25),
      rand(3 * 2 * 37 * 45, 26, 3),
      rand(37 * 19, 27),
      37,
      45,
      19,
      3,
      true,
      false,
    ],
    out: [0],
    rtol: 1e-4,
    atol: 1e-5,
    reduce: 19,
  },
  {
    name: 'linearSwigluBackward',
    args: () => [
      new Float32Array(30 * 2 * 50).fill(Number.NaN),
      new Float32Array(30 * 50),
      rand(30 * 97, 29),
      rand(30 * 2 * 50, 30, 3),
      rand(97 * 50, 31),
      30,
      97,
      50,
      true,
      true,
    ],
    out: [0],
    rtol: 1e-4,
    atol: 1e-5,
    reduce: 97,
    fresh: true,
  },
  { name: 'copy2d', args: () => [rand(N * D, 1), rand(N * 3 * D, 2), N, D - 5, D, 3 * D], out: [0], rtol: 0, atol: 0 },
  {
    name: 'transpose',
    args: () => [new Float32Array(2 * 257 * 97), rand(2 * 257 * 97, 2), 2 * 257, 97],
    out: [0],
    rtol: 0,
    atol: 0,
  },
  { name: 'fill', args: () => [rand(n, 1), -0.75, n - 3], out: [0], rtol: 0, atol: 0 },
  { name: 'castU8F32', args: () => [new Float32Array(n), flags(n, 3), n], out: [0], rtol: 0, atol: 0 },
  {
    name: 'broadcastRows',
    args: () => [rand(B * S * D, 1), rand(B * D, 2), Uint8Array.of(1, 0, 1), B, S * D, D, D],
    out: [0],
    rtol: 0,
    atol: 0,
  },
  {
    name: 'broadcastRows',
    args: () => [rand(B * S * D, 1), rand(D, 2), Uint8Array.of(0, 1, 1), B, S * D, D, 0],
    out: [0],
    rtol: 0,
    atol: 0,
  },
  { name: 'add', args: () => [new Float32Array(n), rand(n, 1), rand(n, 2), n], out: [0] },
  { name: 'add3', args: () => [new Float32Array(n), rand(n, 1), rand(n, 2), rand(n, 3), n], out: [0] },
  { name: 'addBias', args: () => [rand(N * D, 1), rand(D, 2), N, D], out: [0] },
  { name: 'biasBackward', args: () => [rand(D, 1), rand(N * D, 2), N, D], out: [0], reduce: N },
  {
    name: 'rmsnormForward',
    args: () => [new Float32Array(N * 512), new Float32Array(N), rand(N * 512, 5), N, 512, 1e-5],
    out: [0, 1],
    reduce: 512,
  },
  {
    name: 'rmsnormBackward',
    out: [0],
    reduce: 512,
    args: () => {
      const out = new Float32Array(N * 512),
        rstd = new Float32Array(N);
      saved(k => k.rmsnormForward(out, rstd, rand(N * 512, 5), N, 512, 1e-5));
      return [new Float32Array(N * 512), rand(N * 512, 6), out, rstd, N, 512];
    },
  },
  {
    name: 'rmsnormSeqForward',
    args: () => [new Float32Array(5 * S * 300), new Float32Array(5 * 300), rand(5 * S * 300, 7), 5, S, 300, 1e-5],
    out: [0, 1],
    reduce: S,
  },
  {
    name: 'rmsnormSeqBackward',
    out: [0],
    reduce: S,
    args: () => {
      const out = new Float32Array(5 * S * 300),
        rstd = new Float32Array(5 * 300);
      saved(k => k.rmsnormSeqForward(out, rstd, rand(5 * S * 300, 7), 5, S, 300, 1e-5));
      return [new Float32Array(5 * S * 300), rand(5 * S * 300, 8), out, rstd, 5, S, 300];
    },
  },
  { name: 'swigluForward', args: () => [new Float32Array(200 * N), rand(400 * N, 9, 4), 200, N], out: [0] },
  {
    name: 'swigluBackward',
    args: () => [new Float32Array(400 * N), rand(200 * N, 10), rand(400 * N, 9, 4), 200, N],
    out: [0],
  },
  tokenMixerNormForwardKept,
  mlpNormForwardKept,
  unkept(tokenMixerNormForwardKept),
  unkept(mlpNormForwardKept),
  mlpNormBackwardCase,
  freshDinp(mlpNormBackwardCase),
  // S 13: native recomputes gateUp from inp; S 30: it reads the forward's (native/ops/fused.h)
  tokenMixerNormBackwardCase(5, 13, 37, 24, 56),
  tokenMixerNormBackwardCase(3, 30, 37, 24, 70),
  freshDinp(tokenMixerNormBackwardCase(3, 30, 37, 24, 70)),
  {
    name: 'embeddingForward',
    args: () => [new Float32Array(2000 * 96), ints(2000, 11, 7), rand(7 * 96, 12), 2000, 96, 7, 22.6],
    out: [0],
  },
  {
    name: 'embeddingBackward',
    args: () => [rand(7 * 96, 13), rand(2000 * 96, 14), ints(2000, 11, 7), 2000, 96, 7, 0.5],
    out: [0],
    reduce: 2000,
  },
  {
    name: 'stablemaxCeForward',
    args: () => [new Float32Array(3000), rand(3000 * V, 15, 8), ints(3000, 16, V, IGNORE, 0.2), 3000, V, IGNORE],
    out: [0],
    reduce: V,
  },
  {
    name: 'stablemaxCeBackward',
    args: () => [
      new Float32Array(3000 * V),
      rand(3000, 17),
      rand(3000 * V, 15, 8),
      ints(3000, 16, V, IGNORE, 0.2),
      3000,
      V,
      IGNORE,
    ],
    out: [0],
    reduce: V,
  },
  {
    name: 'bceLogitsForward',
    args: () => [new Float32Array(20011), rand(20011, 18, 20), pos(20011, 19), 20011],
    out: [0],
  },
  {
    name: 'bceLogitsBackward',
    args: () => [new Float32Array(20011), rand(20011, 20), rand(20011, 18, 20), pos(20011, 19), 20011],
    out: [0],
  },
  {
    name: 'argmax',
    args: () => [new Int32Array(3000), rand(3000 * V, 21).map(v => Math.round(v * 3)), 3000, V],
    out: [0],
    rtol: 0,
    atol: 0,
  },
  {
    name: 'matchCounts',
    out: [0, 1],
    rtol: 0,
    atol: 0,
    args: () => [
      new Uint8Array(300),
      new Int32Array(600),
      ints(300 * S, 22, 2),
      ints(300 * S, 23, 2, IGNORE, 0.95),
      300,
      S,
      IGNORE,
    ],
  },
  {
    name: 'lossGrad',
    args: () => [new Float32Array(300 * S), new Float32Array(300), ints(600, 24, S + 1), pos(300, 25), 300, S, 1 / 3],
    out: [0, 1],
  },
  {
    name: 'lossGrad',
    args: () => [new Float32Array(300 * S), new Float32Array(300), ints(600, 26, S + 1), null, 300, S, 0.25],
    out: [0, 1],
  },
  {
    name: 'softmaxForward',
    args: () => [new Float32Array(400 * S), rand(400 * S, 24, 10), 400, S],
    out: [0],
    reduce: S,
  },
  {
    name: 'softmaxBackward',
    out: [0],
    reduce: S,
    args: () => {
      const out = new Float32Array(400 * S);
      saved(k => k.softmaxForward(out, rand(400 * S, 24, 10), 400, S));
      return [new Float32Array(400 * S), rand(400 * S, 25), out, 400, S];
    },
  },
  {
    name: 'ropeForward',
    args: () => [
      new Float32Array(2 * S * H * 64),
      rand(2 * S * H * 64, 26),
      rand(S * 64, 27),
      rand(S * 64, 28),
      2,
      S,
      H,
      64,
    ],
    out: [0],
  },
  {
    name: 'ropeBackward',
    args: () => [
      new Float32Array(2 * S * H * 64),
      rand(2 * S * H * 64, 29),
      rand(S * 64, 27),
      rand(S * 64, 28),
      2,
      S,
      H,
      64,
    ],
    out: [0],
  },
  {
    name: 'adamAtan2Step',
    args: () => [rand(n, 30), rand(n, 31, 0.1), pos(n, 32), rand(n, 33), n, 1e-3, 0.9, 0.95, 1.0, 3],
    out: [0, 1, 2],
  },
  {
    name: 'adamwStep',
    args: () => [rand(n, 30), rand(n, 31, 0.1), pos(n, 32), rand(n, 33), n, 1e-3, 0.9, 0.95, 1e-8, 1.0, 3],
    out: [0, 1, 2],
  },
  {
    name: 'signSgdRows',
    args: () => [
      rand(N * D, 34),
      rand(N * D, 35).map(v => Math.round(v)),
      Int32Array.of(5, 0, 300, 17, 123),
      5,
      D,
      1e-2,
      0.1,
    ],
    out: [0],
  },
  { name: 'emaUpdate', args: () => [rand(n, 36), rand(n, 37), n, 0.999], out: [0] },
];
