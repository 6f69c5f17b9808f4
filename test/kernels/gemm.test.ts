/**
 * GEMM: every transpose case, odd sizes, leading dimensions, batch strides and beta, against a
 * float64 reference; every native dispatch path this CPU can run; 1 vs 2 threads bit for bit.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { addon, gemm, nativeBackend, refBackend, setThreads, useBackend } from '../../src/kernels/index.js';
import { ShapeError } from '../../src/errors.js';
import { randn } from '../helpers.js';

/** float64 C = alpha*op(A)*op(B) + beta*C0 for one item. */
function ref64(
  ta: boolean,
  tb: boolean,
  M: number,
  N: number,
  K: number,
  alpha: number,
  A: Float32Array,
  lda: number,
  B: Float32Array,
  ldb: number,
  beta: number,
  C0: Float32Array,
  ldc: number,
): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++)
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += (ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
      out[i * N + j] = alpha * s + (beta === 0 ? 0 : beta * C0[i * ldc + j]);
    }
  return out;
}

const paths = addon
  ? (['avx512', 'avx2', 'portable'] as const).filter(p => {
      const ok = addon!.setIsa(p);
      return ok;
    })
  : [];
if (addon) addon.setIsa(addon.info().bestIsa);
const backends = [
  ...paths.map(p => ({
    label: `native ${p}`,
    setup: () => {
      useBackend('native');
      addon!.setIsa(p);
    },
  })),
  { label: 'ref', setup: () => useBackend('ref') },
];
console.log(
  `gemm: native paths on this CPU: ${paths.join(', ') || 'none'}; dispatch chosen at load: ${addon ? addon.info().isa : 'ref'} (${addon?.info().gemmKernel ?? 'typescript'})`,
);

afterAll(() => {
  if (addon) addon.setIsa(addon.info().bestIsa);
  if (nativeBackend) useBackend('native');
});

const shapes: Array<[number, number, number]> = [
  [1, 1, 1],
  [7, 97, 513],
  [97, 7, 1],
  [513, 33, 97],
  [30, 257, 300],
  [14, 32, 256],
];

describe.each(backends)('gemm on $label', ({ label, setup }) => {
  for (const [M, N, K] of label === 'ref' ? shapes.slice(0, 4) : shapes) {
    for (const ta of [false, true])
      for (const tb of [false, true]) {
        it(`${ta ? 'T' : 'N'}${tb ? 'T' : 'N'} M=${M} N=${N} K=${K}`, () => {
          setup();
          const lda = (ta ? M : K) + 3,
            ldb = (tb ? K : N) + 1,
            ldc = N + 2;
          const A = randn((ta ? K : M) * lda, M * 7 + K),
            B = randn((tb ? N : K) * ldb, N * 13 + K);
          const C = randn(M * ldc, 99),
            C0 = C.slice();
          gemm({ transA: ta, transB: tb, M, N, K, alpha: 0.75, beta: -0.5, A, lda, B, ldb, C, ldc });
          const want = ref64(ta, tb, M, N, K, 0.75, A, lda, B, ldb, -0.5, C0, ldc);
          const got = new Float64Array(M * N);
          for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) got[i * N + j] = C[i * ldc + j];
          expect(got).toBeAllclose(want, { rtol: 1e-4, atol: 1e-5 * Math.sqrt(K) });
          // padding columns between rows are never written
          for (let i = 0; i < M; i++) for (let j = N; j < ldc; j++) expect(C[i * ldc + j]).toBe(C0[i * ldc + j]);
        });
      }
  }

  it('beta = 0 ignores NaN in C; K = 0 gives beta*C', () => {
    setup();
    const M = 19,
      N = 45,
      K = 33;
    const A = randn(M * K, 1),
      B = randn(K * N, 2),
      C = new Float32Array(M * N).fill(NaN);
    gemm({ M, N, K, A, B, C });
    expect(C.every(Number.isFinite)).toBe(true);
    const D = randn(M * N, 3),
      D0 = D.slice();
    gemm({ M, N, K: 0, A, B, C: D, beta: 0.5 });
    expect(D).toBeAllclose(
      D0.map(x => x * 0.5),
      { rtol: 0, atol: 0 },
    );
  });

  it('batched with strides, shared A (strideA = 0), and summed items (strideC = 0)', () => {
    setup();
    const M = 29,
      N = 37,
      K = 41,
      batch = 5;
    const A = randn(M * K, 4),
      B = randn(batch * K * N, 5);
    const C = new Float32Array(batch * M * N);
    gemm({ M, N, K, A, B, C, batch, strideA: 0, strideB: K * N, strideC: M * N });
    const S = randn(M * N, 6),
      S0 = S.slice();
    gemm({ M, N, K, A, B, C: S, batch, strideA: 0, strideB: K * N, strideC: 0, beta: 1 });
    const sum = new Float64Array(M * N);
    for (let b = 0; b < batch; b++) {
      const want = ref64(false, false, M, N, K, 1, A, K, B.subarray(b * K * N), N, 0, C, N);
      expect(C.subarray(b * M * N, (b + 1) * M * N)).toBeAllclose(want, { rtol: 1e-4, atol: 1e-4 });
      for (let i = 0; i < M * N; i++) sum[i] += want[i];
    }
    for (let i = 0; i < M * N; i++) sum[i] += S0[i];
    expect(S).toBeAllclose(sum, { rtol: 1e-4, atol: 1e-4 });
  });
});

describe.runIf(addon)('gemm threads and dispatch', () => {
  it.each(paths)('%s: 1 and 2 threads give bitwise the same C (large, batched, accumulating)', p => {
    useBackend('native');
    addon!.setIsa(p);
    const cases = [
      { M: 1000, N: 300, K: 700, transA: false, transB: true },
      { M: 97, N: 1030, K: 600, transA: true, transB: false },
      { M: 64, N: 96, K: 97, batch: 12, transA: false, transB: false },
      // eight A blocks a thread and more than eight panels: claimed row blocks on two threads (gemm.cpp
      // gemm_claims_row_blocks), fixed rows on one; B (two k blocks) packed once for both (pack_b_shared)
      { M: 5400, N: 290, K: 904, transA: false, transB: false },
      // split by column panels with a large A: A packed once for both threads (gemm.cpp pack_a_shared)
      { M: 112, N: 1030, K: 2400, transA: true, transB: false },
      { M: 126, N: 700, K: 2200, transA: false, transB: true },
      // sums over items (C over gemm_in_halves' 64 Ki floats) split by rows / by panels: each item's B / A
      // packed once for both threads (gemm.cpp pack_items_b / pack_items_a)
      { M: 700, N: 97, K: 500, batch: 6, strideC: 0, transA: false, transB: true },
      { M: 97, N: 700, K: 500, batch: 6, strideC: 0, transA: true, transB: false },
    ];
    for (const c of cases) {
      const batch = c.batch ?? 1;
      const A = randn(batch * c.M * c.K, 7),
        B = randn(batch * c.K * c.N, 8);
      const out: Float32Array[] = [];
      for (const th of [1, 2]) {
        setThreads(th);
        const C = randn(batch * c.M * c.N, 9);
        gemm({ ...c, A, B, C, beta: 0.25, batch });
        out.push(C);
      }
      setThreads(2);
      expect(Buffer.compare(Buffer.from(out[0].buffer), Buffer.from(out[1].buffer))).toBe(0);
    }
    addon!.setIsa(addon!.info().bestIsa);
  });
});

describe.runIf(addon)('gemm reductions in two fixed halves', () => {
  // fp32 sums over items (strideC 0, batch >= 4) and A^T B products with k >= 512, C at most 64 Ki
  // floats: half 0 into C with beta, half 1 from zero, then added (native/gemm/gemm.cpp
  // gemm_in_halves). The halves here are below both limits, so each is one plain product (k 544:
  // cpu-sudoku4's channel weight gradients, 32 items of 17 tokens).
  // A tall A^T B (M >= 4N) runs each half as its transpose on AVX2 (the channel gate_up weight
  // gradient's form): against plain halves by hand.
  const cases = [
    { M: 97, N: 60, K: 70, transB: true, batch: 4, strideA: 97 * 70, strideB: 60 * 70, strideC: 0 },
    { M: 50, N: 33, K: 1000, transA: true },
    { M: 134, N: 21, K: 1000, transA: true },
    { M: 64, N: 40, K: 544, transA: true },
  ];
  it.each(paths)('%s: C + scratch of the two halves, bit for bit, at 1, 2 and 3 threads; near float64', p => {
    useBackend('native');
    addon!.setIsa(p);
    for (const c of cases) {
      const batch = c.batch ?? 1,
        items = batch > 1;
      const A = randn(batch * c.M * c.K, 11),
        B = randn(batch * c.K * c.N, 12),
        C0 = randn(c.M * c.N, 13);
      const lda = c.transA ? c.M : c.K,
        ldb = c.transB ? c.K : c.N;
      // the two halves by hand: items [0, 2) and [2, 4), or k [0, K/2) and [K/2, K)
      setThreads(1);
      const want = C0.slice(),
        half = new Float32Array(c.M * c.N);
      const hb = items ? batch / 2 : 1,
        hk = items ? c.K : c.K / 2;
      const part = (h: number) => {
        const offA = items ? h * hb * c.strideA! : c.transA ? h * hk * lda : h * hk,
          offB = items ? h * hb * c.strideB! : c.transB ? h * hk : h * hk * ldb;
        return {
          ...c,
          K: hk,
          batch: hb,
          A: A.subarray(offA),
          B: B.subarray(offB),
          lda,
          ldb,
        };
      };
      gemm({ ...part(0), C: want, beta: 0.5 });
      gemm({ ...part(1), C: half, beta: 0 });
      for (let i = 0; i < want.length; i++) want[i] += half[i];
      for (const th of [1, 2, 3]) {
        setThreads(th);
        const C = C0.slice();
        gemm({ ...c, A, B, C, lda, ldb, beta: 0.5, batch });
        expect(
          Buffer.compare(Buffer.from(C.buffer), Buffer.from(want.buffer)),
          `${JSON.stringify(c)} threads ${th}`,
        ).toBe(0);
      }
      // and it is the product: against float64, summed over the items
      const r = new Float64Array(c.M * c.N);
      for (let b = 0; b < batch; b++) {
        const one = ref64(
          !!c.transA,
          !!c.transB,
          c.M,
          c.N,
          c.K,
          1,
          A.subarray(b * (c.strideA ?? 0)),
          lda,
          B.subarray(b * (c.strideB ?? 0)),
          ldb,
          b === 0 ? 0.5 : 0,
          C0,
          c.N,
        );
        for (let i = 0; i < r.length; i++) r[i] += one[i];
      }
      for (let i = 0; i < r.length; i++) expect(Math.abs(want[i] - r[i])).toBeLessThan(1e-3 * (1 + Math.abs(r[i])));
    }
    setThreads(2);
    addon!.setIsa(addon!.info().bestIsa);
  });
});

describe('gemm shape errors', () => {
  it('names the kernel, the operand and the shapes', () => {
    const A = new Float32Array(10),
      B = new Float32Array(12),
      C = new Float32Array(6);
    expect(() => gemm({ M: 2, N: 3, K: 5, A, B, C })).toThrow(ShapeError);
    expect(() => gemm({ M: 2, N: 3, K: 5, A, B, C })).toThrow(/gemm: B has 12 elements, op\(B\) 5x3/);
    expect(() => gemm({ M: 2, N: 3, K: 4, A, B, C: new Float32Array(5) })).toThrow(/gemm: C has 5 elements/);
    expect(() => gemm({ M: 2, N: 3, K: 4, A, B, C, lda: 2 })).toThrow(/lda 2 < K = 4/);
    expect(() => gemm({ M: 2.5, N: 3, K: 4, A, B, C })).toThrow(/M must be a non-negative integer/);
  });
  it.runIf(nativeBackend)('the addon itself rejects a short buffer with a TypeError, not a crash', () => {
    expect(() =>
      addon!.gemm(
        false,
        false,
        4,
        4,
        4,
        1,
        new Float32Array(3),
        4,
        0,
        new Float32Array(16),
        4,
        0,
        0,
        new Float32Array(16),
        4,
        0,
        1,
      ),
    ).toThrow(/gemm: A has 3 elements, needs 16/);
    expect(() => (addon!.gemm as any)(1, 2)).toThrow(/gemm: expected 17 arguments/);
  });
  it('reference and native agree on the same call', () => {
    if (!nativeBackend) return;
    const M = 33,
      N = 17,
      K = 65,
      A = randn(M * K, 1),
      B = randn(K * N, 2);
    const C1 = new Float32Array(M * N),
      C2 = new Float32Array(M * N);
    refBackend.gemm(false, false, M, N, K, 1, A, K, 0, B, N, 0, 0, C1, N, 0, 1);
    nativeBackend.gemm(false, false, M, N, K, 1, A, K, 0, B, N, 0, 0, C2, N, 0, 1);
    expect(C2).toBeAllclose(C1, { rtol: 1e-5, atol: 1e-5 });
  });
});
