/**
 * The fp32 GEMM's fast paths (native/gemm/gemm.cpp): the tile that copies the next B panel under its
 * FMAs (products whose rows form one A block; on AVX2 where the thread's part of B is over 256 KiB),
 * on AVX-512 the strip-outer path that reads A in
 * place (row-major or transposed) and runs narrow last panels with the rows in the lanes, and
 * products and sums with few rows computed as their transpose; on the kernels without those (AVX2,
 * portable) sums whose last panel would be mostly padding computed as their transpose, and on AVX2
 * products of a few strips reading a row-major B in place, the strip-outer path for a row-major A
 * with narrow last panels in the lanes (kernel_cols_a: 8 x 8 transposes), and the big token-mixer
 * weight-gradient sums (1024 x 97 x 512, 97 x 512 x 512) run in place or transposed onto it. On each path a case enters only the fast
 * paths its kernel has (the others run the general loop on both sides). Each must give bitwise the
 * general loop's C (setGemmFastPaths(false)), for 1 and 2 threads, and C within tolerance of a
 * float64 reference. The shapes are chosen to enter each path and its edges: partial strips, narrow
 * panels of 1-4 columns, K past one k block, beta 0 / 1 / other, alpha, a shared A, sums over items.
 * And the bf16 general loop's narrow last panels (rows in the lanes), bit for bit against its tile; and
 * AVX2's tail strips (rows ending in strips of 5, not a short one), each row bit for bit as without them.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { addon, gemm, nativeBackend, type Precision, setThreads, useBackend } from '../../src/kernels/index.js';
import { narrowInto } from '../../src/kernels/ref/bf16.js';
import { randn } from '../helpers.js';

const fast = addon ? addon.setGemmFastPaths(true) : false;
if (!fast) console.log('gemm fast paths: SKIPPED (no native addon)');

afterAll(() => {
  if (addon) addon.setGemmFastPaths(true);
  setThreads(2);
  if (nativeBackend) useBackend('native');
});

interface Case {
  path: string;
  M: number;
  N: number;
  K: number;
  ta?: boolean;
  tb?: boolean;
  batch?: number;
  sharedA?: boolean;
  sum?: boolean;
  beta?: number;
  alpha?: number;
}

const cases: Case[] = [
  // one A block (M <= 336 rows), row-major B, >= 4 strips, and not strip-outer (N > 256 or a
  // transposed A): the next panel copied under the tile
  { path: 'copy-B', M: 97, N: 512, K: 512, batch: 3, sharedA: true },
  { path: 'copy-B', M: 97, N: 300, K: 1100, batch: 2, beta: 0.5, alpha: 0.75 },
  { path: 'copy-B', M: 43, N: 97, K: 97, ta: true, batch: 2, sharedA: true, beta: 1 },
  { path: 'copy-B', M: 336, N: 290, K: 64 },
  // a weight-gradient form with a long k (in two fixed halves): each half's rows one A block, its
  // 656 x 256 B copied under the tiles (also on AVX2: over 256 KiB)
  { path: 'copy-B (halves)', M: 64, N: 256, K: 1312, ta: true, beta: 1 },
  { path: 'copy-B (halves)', M: 40, N: 200, K: 2100, ta: true, alpha: 0.5 },
  { path: 'copy-B (3 strips: packed panels)', M: 41, N: 96, K: 200, ta: true, batch: 2, sum: true },
  // row-major A, N <= 256 (AVX2: N <= 128): strip-outer, direct A, narrow last panels of 1-4 columns
  // (AVX2: partial last panels on the tile)
  { path: 'strip-outer', M: 1024, N: 97, K: 512, tb: true, batch: 2, sum: true, beta: 1 },
  { path: 'strip-outer', M: 100, N: 98, K: 600, tb: true },
  { path: 'strip-outer', M: 129, N: 99, K: 17, beta: 0.5 },
  { path: 'strip-outer', M: 131, N: 100, K: 70, batch: 3, alpha: -1.5 },
  { path: 'strip-outer', M: 13, N: 1, K: 33, tb: true },
  { path: 'strip-outer', M: 29, N: 33, K: 512, batch: 2 },
  { path: 'strip-outer', M: 150, N: 256, K: 64, tb: true, batch: 2, sum: true },
  // a one-column narrow panel inside the last full panel's tile (kernel_direct_col1: 7-row halves,
  // a short last strip of 3 and of 10 rows, alpha, beta)
  { path: 'strip-outer, column in the tile', M: 45, N: 65, K: 37, alpha: 0.75, beta: 0.5 },
  { path: 'strip-outer, column in the tile', M: 52, N: 97, K: 530, tb: true, batch: 2, sum: true, beta: 1 },
  // a last panel of 17-20 columns as a 16-column tile with the rest in the lanes (kernel_direct_col16:
  // 7-row halves, short last strips of 3 and 10 rows, alpha, beta; cpu-sudoku9's 512 x 82 x 64 sum)
  { path: 'strip-outer, 16 + columns', M: 45, N: 49, K: 37, alpha: 0.75, beta: 0.5 },
  { path: 'strip-outer, 16 + columns', M: 512, N: 82, K: 64, tb: true, batch: 4, sum: true, beta: 1 },
  { path: 'strip-outer, 16 + columns', M: 52, N: 83, K: 130, tb: true, batch: 2, alpha: -2 },
  { path: 'strip-outer, 16 + columns', M: 31, N: 84, K: 20, beta: 1 },
  // a transposed A read in place by every full panel (no pack), with and without a narrow panel
  { path: 'strip-outer, transposed A', M: 512, N: 64, K: 544, ta: true, beta: 1 },
  { path: 'strip-outer, transposed A', M: 300, N: 97, K: 100, ta: true, tb: true, alpha: 0.5 },
  // one product (>= 4 MFLOP) with fewer rows than columns (<= 256): C^T = op(B)^T op(A)^T, copied back
  { path: 'single by transpose', M: 64, N: 256, K: 544, ta: true, beta: 1 },
  { path: 'single by transpose', M: 20, N: 97, K: 1100, tb: true },
  { path: 'single by transpose', M: 30, N: 200, K: 400, ta: true, tb: true, beta: 0.5 },
  // sums with few rows and a wide transposed B: C^T accumulated, copied back
  { path: 'sum by transpose', M: 97, N: 512, K: 512, tb: true, batch: 3, sum: true, beta: 1 },
  { path: 'sum by transpose', M: 17, N: 300, K: 64, tb: true, batch: 4, sum: true },
  { path: 'sum by transpose', M: 250, N: 260, K: 100, tb: true, batch: 2, sum: true, beta: 0.5, alpha: 2 },
  // a sum whose rows would pad C^T's last panel (82 = 2 x 32 + 18): in place, not transposed
  { path: 'sum in place', M: 82, N: 256, K: 64, tb: true, batch: 4, sum: true, beta: 1 },
  // AVX2: a few strips of rows (<= 24) read a row-major B's full 16-column panels in place, a partial
  // last one packed, where A is not read in place (a shared, packed A; a transposed A; more than 8
  // panels): the token mixer's S = 17 products, rows of B at every 16-byte offset (N = 140), two k
  // blocks, panels split between threads (batch 1), beta, alpha
  { path: 'direct B (few strips)', M: 17, N: 64, K: 256, batch: 3, sharedA: true },
  { path: 'direct B (few strips)', M: 13, N: 140, K: 600, beta: 0.5, alpha: 0.75 },
  { path: 'direct B (few strips)', M: 24, N: 35, K: 70, ta: true, batch: 2, beta: 1 },
  { path: 'direct B (few strips)', M: 5, N: 200, K: 17 },
  // AVX2 / portable: sums whose last 16-column panel would be mostly padding, as C^T (the 512 x 82
  // x 64 case above too): one in halves (batch >= 4), short strips of C^T, alpha, beta 0 / 1 / other
  { path: 'sum by transpose (narrow last panel)', M: 300, N: 17, K: 64, tb: true, batch: 5, sum: true, beta: 1 },
  { path: 'sum by transpose (narrow last panel)', M: 97, N: 35, K: 40, tb: true, batch: 2, sum: true, alpha: 2 },
  { path: 'sum by transpose (narrow last panel)', M: 64, N: 49, K: 130, tb: true, batch: 3, sum: true, beta: 0.5 },
];

function run(c: Case, A: Float32Array | Uint16Array, B: Float32Array, C0: Float32Array, precision: Precision = 'fp32') {
  const { M, N, K, ta = false, tb = false, batch = 1, sharedA = false, sum = false } = c;
  const lda = ta ? M : K,
    ldb = tb ? K : N;
  const C = C0.slice();
  gemm({
    transA: ta,
    transB: tb,
    M,
    N,
    K,
    alpha: c.alpha ?? 1,
    beta: c.beta ?? 0,
    A,
    lda,
    B,
    ldb,
    C,
    ldc: N,
    batch,
    strideA: sharedA ? 0 : M * K,
    strideB: K * N,
    strideC: sum ? 0 : M * N,
    precision,
  });
  return C;
}

/** float64 reference of item b's product (alpha op(A_b) op(B_b)). */
function product64(c: Case, A: Float32Array, B: Float32Array, b: number): Float64Array {
  const { M, N, K, ta = false, tb = false, sharedA = false } = c;
  const a = sharedA ? A : A.subarray(b * M * K),
    bb = B.subarray(b * K * N),
    out = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (ta ? a[k * M + i] : a[i * K + k]) * (tb ? bb[j * K + k] : bb[k * N + j]);
      out[i * N + j] = (c.alpha ?? 1) * s;
    }
  return out;
}

describe.runIf(fast)('gemm fp32 fast paths: the general loop bit for bit', () => {
  it.each(cases.map((c, i) => ({ ...c, i })))(
    '$path M=$M N=$N K=$K ta=$ta tb=$tb batch=$batch sum=$sum beta=$beta',
    c => {
      useBackend('native');
      const { M, N, K, batch = 1, sharedA = false, sum = false } = c;
      const A = randn((sharedA ? 1 : batch) * M * K, 100 + c.i),
        B = randn(batch * K * N, 200 + c.i),
        C0 = randn((sum ? 1 : batch) * M * N, 300 + c.i);
      const bits = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);
      // elements whose bits differ (a count, not a diff of megabytes of floats, when it fails)
      const differing = (x: Uint32Array, y: Uint32Array) => x.reduce((n, v, i) => n + (v === y[i] ? 0 : 1), 0);
      let first: Uint32Array | null = null;
      for (const threads of [1, 2]) {
        setThreads(threads);
        addon!.setGemmFastPaths(false);
        const general = run(c, A, B, C0);
        addon!.setGemmFastPaths(true);
        const got = run(c, A, B, C0);
        expect(differing(bits(got), bits(general))).toBe(0);
        if (first) expect(differing(bits(got), first)).toBe(0);
        first = bits(got).slice();
        if (threads > 1) continue;
        // and C against float64: alpha * sum of the items' products + beta * C0
        const beta = c.beta ?? 0,
          want = new Float64Array((sum ? 1 : batch) * M * N);
        for (let b = 0; b < batch; b++) {
          const p = product64(c, A, B, b),
            o = sum ? 0 : b * M * N;
          for (let i = 0; i < M * N; i++) want[o + i] += p[i];
        }
        for (let i = 0; i < want.length; i++) want[i] += beta * C0[i];
        expect(got).toBeAllclose(want, { rtol: 1e-4, atol: 2e-5 * Math.sqrt(K * batch) });
      }
    },
  );
});

// Tail strips (GemmKernelInfo::tail_strips, AVX2): rows that would end in a strip of 1 or 2 rows end in
// strips of 5 instead (97 = 12 x 6 + 5 x 5), on the copying tile (a shared A packed once with its tail,
// or packed per call; a transposed A), on the tile reading A in place and in the general loop (one and
// more A blocks, a shared A). Each element's FMA chain is the same in any strip, so every row of C must
// be bitwise the row computed without tails: here by the product of the first 6a rows (no short
// strip) and that of the last 1-5 rows (too few for a tail); rows ending in 3-4 (no tail) as a check.
const tailCases: Case[] = [
  { path: 'tail strips, copying tile', M: 97, N: 512, K: 512, batch: 3, sharedA: true },
  { path: 'tail strips, copying tile', M: 97, N: 300, K: 1100, beta: 0.5, alpha: 0.75 },
  { path: 'tail strips, copying tile', M: 43, N: 97, K: 97, ta: true, batch: 2, sharedA: true, beta: 1 },
  { path: 'tail strips, A in place', M: 98, N: 98, K: 600, tb: true },
  { path: 'tail strips, A in place', M: 1021, N: 97, K: 512, tb: true, batch: 2, sum: true, beta: 1 },
  { path: 'tail strips, A in place', M: 100, N: 98, K: 300, tb: true },
  { path: 'tail strips, general loop', M: 397, N: 700, K: 100, beta: 0.5 },
  { path: 'tail strips, general loop', M: 398, N: 300, K: 64, batch: 3, sharedA: true },
  { path: 'tail strips, general loop', M: 98, N: 200, K: 530, ta: true, alpha: -2 },
  { path: 'tail strips, general loop', M: 99, N: 200, K: 70 },
];

/** Rows [r0, r1) of every item's op(A), laid out as Case c would read them (lda = K, or r1 - r0 rows). */
function rowsOfA(c: Case, A: Float32Array, r0: number, r1: number): Float32Array {
  const { M, K, ta = false, batch = 1, sharedA = false } = c,
    items = sharedA ? 1 : batch,
    m = r1 - r0,
    out = new Float32Array(items * m * K);
  for (let b = 0; b < items; b++)
    for (let i = 0; i < m; i++)
      for (let k = 0; k < K; k++)
        out[b * m * K + (ta ? k * m + i : i * K + k)] = A[b * M * K + (ta ? k * M + r0 + i : (r0 + i) * K + k)];
  return out;
}

describe.runIf(fast)('gemm fp32 tail strips: each row bitwise as without them', () => {
  it.each(tailCases.map((c, i) => ({ ...c, i })))('$path M=$M N=$N K=$K ta=$ta tb=$tb batch=$batch', c => {
    useBackend('native');
    const { M, N, K, batch = 1, sharedA = false, sum = false } = c;
    const A = randn((sharedA ? 1 : batch) * M * K, 500 + c.i),
      B = randn(batch * K * N, 600 + c.i),
      C0 = randn((sum ? 1 : batch) * M * N, 700 + c.i);
    const top = M - (M % 6),
      items = sum ? 1 : batch;
    // C0's rows [r0, r1) of every item
    const rowsOfC = (C: Float32Array, r0: number, r1: number) => {
      const out = new Float32Array(items * (r1 - r0) * N);
      for (let b = 0; b < items; b++) out.set(C.subarray(b * M * N + r0 * N, b * M * N + r1 * N), b * (r1 - r0) * N);
      return out;
    };
    for (const threads of [1, 2]) {
      setThreads(threads);
      const got = run(c, A, B, C0);
      for (const [r0, r1] of [
        [0, top],
        [top, M],
      ]) {
        const part = run({ ...c, M: r1 - r0 }, rowsOfA(c, A, r0, r1), B, rowsOfC(C0, r0, r1));
        const want = new Uint32Array(part.buffer),
          have = new Uint32Array(rowsOfC(got, r0, r1).buffer);
        expect(have.reduce((n, v, i) => n + (v === want[i] ? 0 : 1), 0)).toBe(0);
      }
    }
  });
});

// bf16 products run the general loop; a narrow last panel (1-4 columns) there runs with the rows in
// the lanes (kernel_cols: VDPBF16PS on AVX512_BF16, the fp32 one on rounded panels where bf16 is
// emulated), 8 strips per call. It must give the tile's bits: the token mixer's weight gradient
// (1024 x 97 x 512, bf16 dG_b summed), partial strips and groups, every width 1-4 and one past it,
// odd K (a half pair), K past a bf16 k block (1024), alpha, beta 0 / 1 / other, 1 and 2 threads.
const bf16Cases: Case[] = [
  { path: 'bf16 narrow panel', M: 1024, N: 97, K: 512, tb: true, batch: 2, sum: true, beta: 1 },
  { path: 'bf16 narrow panel', M: 150, N: 33, K: 33, batch: 2, beta: 0.5, alpha: -1.5 },
  { path: 'bf16 narrow panel', M: 29, N: 66, K: 1100, ta: true, beta: 1 },
  { path: 'bf16 narrow panel', M: 350, N: 99, K: 77, tb: true, batch: 2, sum: true, alpha: 2 },
  { path: 'bf16 narrow panel', M: 13, N: 4, K: 40, ta: true, tb: true },
  { path: 'bf16 narrow panel (5 columns: the tile)', M: 200, N: 37, K: 64, beta: 1 },
];

describe.runIf(fast)('gemm bf16 narrow panels: the general loop bit for bit', () => {
  const bf16Of = (x: Float32Array) => {
    const o = new Uint16Array(x.length);
    narrowInto(o, x);
    return o;
  };
  it.each(bf16Cases.map((c, i) => ({ ...c, i })))(
    '$path M=$M N=$N K=$K ta=$ta tb=$tb batch=$batch sum=$sum beta=$beta',
    c => {
      useBackend('native');
      const { M, N, K, batch = 1, sum = false } = c;
      const A = randn(batch * M * K, 400 + c.i),
        B = randn(batch * K * N, 500 + c.i),
        C0 = randn((sum ? 1 : batch) * M * N, 600 + c.i);
      const run16 = (a: Float32Array | Uint16Array) => {
        const C = run(c, a, B, C0, 'bf16');
        return new Uint32Array(C.buffer, C.byteOffset, C.length);
      };
      const differing = (x: Uint32Array, y: Uint32Array) => x.reduce((n, v, i) => n + (v === y[i] ? 0 : 1), 0);
      for (const threads of [1, 2]) {
        setThreads(threads);
        addon!.setGemmFastPaths(false);
        const general = run16(A);
        addon!.setGemmFastPaths(true);
        expect(differing(run16(A), general)).toBe(0);
        expect(differing(run16(bf16Of(A)), general)).toBe(0); // a bf16-stored A (the token mixer's dG_b)
      }
    },
  );
});
