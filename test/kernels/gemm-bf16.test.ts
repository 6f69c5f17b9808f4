/**
 * bf16 GEMM (gemmBf16, precision 'bf16'): against a float64 reference on operands rounded to
 * bfloat16 (nearest even), every transpose, odd K (a half-filled last k pair), shared-A batches,
 * summed items, beta; on every native dispatch path this CPU runs (AMX tiles where the CPU and
 * Linux allow them, AVX512_BF16's VDPBF16PS where present, the emulated rounding on the fp32 kernels
 * elsewhere) and the TypeScript reference; 1 vs 2 threads bit for bit; AMX against VDPBF16PS; and
 * the fp32 path left alone by the precision switch. `tools/test-amx-emulated.mjs` reruns this file
 * on the AMX kernel with scalar tiles where the CPU has AVX-512 BF16 but no AMX.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { NativeAddon } from '../../src/kernels/native.js';
import {
  addon,
  addonPath,
  gemm,
  gemmPrecision,
  nativeBackend,
  setGemmPrecision,
  setThreads,
  useBackend,
  withGemmPrecision,
} from '../../src/kernels/index.js';
import { gemmBf16Float64, roundBf16 } from '../../src/kernels/ref/gemm.js';
import { randn } from '../helpers.js';
import { nativePaths, pathBackends } from './ops-helpers.js';

const refBf16 = gemmBf16Float64;

const paths = nativePaths;
const kernelOf = (p: string) => {
  addon!.setIsa(p as 'avx512');
  const k = addon!.info().gemmBf16Kernel;
  addon!.setIsa(addon!.info().bestIsa);
  return k;
};
console.log(`gemmBf16 kernels on this CPU: ${paths.map(p => `${p}: ${kernelOf(p)}`).join('; ') || 'none (ref only)'}`);

afterAll(() => {
  if (addon) addon.setIsa(addon.info().bestIsa);
  if (nativeBackend) useBackend('native');
  setGemmPrecision('fp32');
});

const backends = pathBackends;

// (M, N, K): odd K leaves the last bf16 pair half empty; K > 1024 spans two bf16 k blocks.
const shapes: Array<[number, number, number]> = [
  [1, 1, 1],
  [7, 97, 513],
  [37, 45, 71],
  [30, 257, 1100],
  [14, 32, 2],
];

describe.each(backends)('gemmBf16 on $label', ({ label, setup }) => {
  for (const [M, N, K] of label === 'ref' ? shapes.slice(0, 3) : shapes)
    for (const ta of [false, true])
      for (const tb of [false, true])
        it(`${ta ? 'T' : 'N'}${tb ? 'T' : 'N'} M=${M} N=${N} K=${K}`, () => {
          setup();
          const lda = (ta ? M : K) + 3,
            ldb = (tb ? K : N) + 1,
            ldc = N + 2;
          const A = randn((ta ? K : M) * lda, M * 7 + K),
            B = randn((tb ? N : K) * ldb, N * 13 + K);
          const C = randn(M * ldc, 99),
            C0 = C.slice();
          gemm({ transA: ta, transB: tb, M, N, K, alpha: 0.75, beta: -0.5, A, lda, B, ldb, C, ldc, precision: 'bf16' });
          const want = refBf16(ta, tb, M, N, K, 0.75, A, lda, B, ldb, -0.5, C0, ldc);
          const got = new Float64Array(M * N);
          for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) got[i * N + j] = C[i * ldc + j];
          // fp32 sums of exact bf16 products (unit-normal operands): the sum's rounding stays far
          // below this; skipping the bf16 rounding would miss it by ~2^-9 sqrt(K) (>= 1e-2 here)
          expect(got).toBeAllclose(want, { rtol: 1e-5, atol: 1e-6 + 2e-6 * K });
          for (let i = 0; i < M; i++) for (let j = N; j < ldc; j++) expect(C[i * ldc + j]).toBe(C0[i * ldc + j]);
        });

  // 16q + 1 k pairs (K = 33, 34, 97, 98: the token mixer's K = 97 is 3 x 16 + 1): the AMX kernel runs the
  // whole 16-pair steps as tiles and the last pair by FMAs (both of its k with an even K), into C itself
  // (alpha 1, beta 0 or 1: 32 x 32 tiles) or through its buffer (partial tiles, other alpha and beta).
  it('a k pair count of 16q + 1, into C and through the tile buffer', () => {
    setup();
    for (const [M, N, K] of [
      [64, 64, 34],
      [97, 96, 98],
      [40, 33, 97],
      [32, 32, 33],
    ])
      for (const [alpha, beta] of [
        [1, 0],
        [1, 1],
        [0.75, -0.5],
      ]) {
        const A = randn(M * K, M + K),
          B = randn(K * N, N * 3 + K);
        const C = randn(M * N, 7),
          C0 = C.slice();
        gemm({ M, N, K, alpha, beta, A, B, C, precision: 'bf16' });
        const want = refBf16(false, false, M, N, K, alpha, A, K, B, N, beta, C0, N);
        expect(C, `${M}x${N}x${K} alpha ${alpha} beta ${beta}`).toBeAllclose(want, {
          rtol: 1e-5,
          atol: 1e-6 + 2e-6 * K,
        });
      }
  });

  it('batched: shared A (prepacked once per thread), and summed items (strideC = 0)', () => {
    setup();
    const M = 29,
      N = 37,
      K = 41,
      batch = 6;
    const A = randn(M * K, 4),
      B = randn(batch * K * N, 5);
    const C = new Float32Array(batch * M * N);
    gemm({ M, N, K, A, B, C, batch, strideA: 0, strideB: K * N, strideC: M * N, precision: 'bf16' });
    const S = randn(M * N, 6),
      S0 = S.slice();
    gemm({ M, N, K, A, B, C: S, batch, strideA: 0, strideB: K * N, strideC: 0, beta: 1, precision: 'bf16' });
    const sum = new Float64Array(M * N);
    for (let b = 0; b < batch; b++) {
      const want = refBf16(false, false, M, N, K, 1, A, K, B.subarray(b * K * N), N, 0, C, N);
      expect(C.subarray(b * M * N, (b + 1) * M * N)).toBeAllclose(want, { rtol: 1e-5, atol: 2e-5 });
      for (let i = 0; i < M * N; i++) sum[i] += want[i];
    }
    for (let i = 0; i < M * N; i++) sum[i] += S0[i];
    expect(S).toBeAllclose(sum, { rtol: 1e-5, atol: 1e-4 });
  });
});

describe('bf16 rounding and the precision switch', () => {
  it('roundBf16 rounds to nearest even, flushes denormals, keeps NaN and infinities', () => {
    const bits = (u: number) => new Float32Array(new Uint32Array([u]).buffer)[0];
    expect(roundBf16(1)).toBe(1);
    expect(roundBf16(bits(0x3f808000))).toBe(bits(0x3f800000)); // tie, even below
    expect(roundBf16(bits(0x3f818000))).toBe(bits(0x3f820000)); // tie, even above
    expect(roundBf16(bits(0x3f808001))).toBe(bits(0x3f810000)); // above the tie
    expect(roundBf16(bits(0x00000123))).toBe(0); // denormal
    expect(Object.is(roundBf16(bits(0x80000123)), -0)).toBe(true);
    expect(roundBf16(Infinity)).toBe(Infinity);
    expect(Number.isNaN(roundBf16(Number.NaN))).toBe(true);
    expect(roundBf16(bits(0x7f7fffff))).toBe(Infinity); // rounds past the largest finite bf16
  });

  // The native roundings (VCVTNE2PS2BF16, and the emulated paths' vector and scalar ones) on the cases
  // roundBf16 pins down: a product with K = 1 and B = [1] gives each rounded A value back (+ 0).
  it.each(paths)('%s: a bf16 product rounds its operands as roundBf16 does (ties, denormals, NaN, infinities)', p => {
    const bits = (u: number) => new Float32Array(new Uint32Array([u]).buffer)[0];
    const special = [0x3f808000, 0x3f818000, 0x3f808001, 0x00000123, 0x80000123, 0x7f800000, 0xff800000];
    const more = [0x7fc00000, 0x7f800001, 0x7f7fffff, 0xff7fffff, 0x3f7fffff, 0x0, 0x80000000, 0x00800000];
    const vals = [...special, ...more].map(bits);
    // 37 rows: whole vectors of 8 and 16 and a tail, the special values at several lane positions
    const A = Float32Array.from({ length: 37 }, (_, i) => (i < vals.length ? vals[i] : vals[(i * 7) % vals.length]));
    const C = new Float32Array(37);
    addon!.setIsa(p);
    withGemmPrecision('bf16', () => gemm({ M: 37, N: 1, K: 1, A, B: new Float32Array([1]), C }));
    addon!.setIsa(addon!.info().bestIsa);
    for (let i = 0; i < 37; i++) {
      const want = roundBf16(A[i]) + 0;
      if (Number.isNaN(want)) expect(Number.isNaN(C[i]), `row ${i}`).toBe(true);
      else expect(C[i], `row ${i}: ${A[i]}`).toBe(want);
    }
  });

  it('bf16 results differ from fp32 by the operand rounding; the fp32 path is untouched by the switch', () => {
    const M = 40,
      N = 50,
      K = 300,
      A = randn(M * K, 1),
      B = randn(K * N, 2);
    const fp = new Float32Array(M * N),
      fp2 = new Float32Array(M * N),
      bf = new Float32Array(M * N),
      bf2 = new Float32Array(M * N);
    gemm({ M, N, K, A, B, C: fp });
    withGemmPrecision('bf16', () => {
      expect(gemmPrecision()).toBe('bf16');
      gemm({ M, N, K, A, B, C: bf });
      gemm({ M, N, K, A, B, C: fp2, precision: 'fp32' });
    });
    expect(gemmPrecision()).toBe('fp32');
    gemm({ M, N, K, A, B, C: bf2, precision: 'bf16' });
    expect(Buffer.compare(Buffer.from(fp.buffer), Buffer.from(fp2.buffer))).toBe(0);
    expect(Buffer.compare(Buffer.from(bf.buffer), Buffer.from(bf2.buffer))).toBe(0);
    let maxDiff = 0;
    for (let i = 0; i < M * N; i++) maxDiff = Math.max(maxDiff, Math.abs(fp[i] - bf[i]));
    // operands carry 8 significant bits: |error| ~ 2^-9 sqrt(K) per element, far above fp32's
    expect(maxDiff).toBeGreaterThan(1e-3);
    expect(maxDiff).toBeLessThan(0.5);
    expect(() => setGemmPrecision('fp16' as 'bf16')).toThrow(/precision must be fp32 or bf16/);
  });
});

describe.runIf(addon)('gemmBf16 threads', () => {
  it.each(paths)('%s: 1 and 2 threads give bitwise the same C (large, batched, accumulating)', p => {
    useBackend('native');
    addon!.setIsa(p);
    const cases = [
      { M: 1000, N: 300, K: 1301, transA: false, transB: true },
      { M: 97, N: 1030, K: 601, transA: true, transB: false },
      { M: 64, N: 96, K: 97, batch: 12, transA: false, transB: false, strideA: 0 },
      // eight A blocks a thread: claimed row blocks on two threads (gemm.cpp gemm_claims_row_blocks)
      { M: 5400, N: 290, K: 70, transA: false, transB: false },
      // and B (two k blocks) packed once for both threads (pack_b_shared)
      { M: 5400, N: 290, K: 904, transA: false, transB: true },
      // split by column panels with a large A: A packed once for both threads (gemm.cpp pack_a_shared)
      { M: 112, N: 1030, K: 2400, transA: true, transB: false },
      { M: 128, N: 700, K: 2200, transA: false, transB: true },
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
        gemm({ ...c, A, B, C, beta: 0.25, batch, precision: 'bf16' });
        out.push(C);
      }
      setThreads(2);
      expect(Buffer.compare(Buffer.from(out[0].buffer), Buffer.from(out[1].buffer))).toBe(0);
    }
    addon!.setIsa(addon!.info().bestIsa);
  });
});

describe.runIf(addon?.info().amx)('AMX-BF16 kernel', () => {
  it('agrees with the VDPBF16PS kernel within fp32 summation rounding (another order of the k-sum)', () => {
    useBackend('native');
    addon!.setIsa('avx512');
    for (const [M, N, K] of [
      [200, 130, 2100],
      [97, 512, 97],
      [64, 64, 17],
    ]) {
      const A = randn(M * K, M + K),
        B = randn(K * N, N + K);
      const amx = new Float32Array(M * N),
        vdp = new Float32Array(M * N);
      gemm({ M, N, K, A, B, C: amx, precision: 'bf16' });
      expect(addon!.setAmx(false)).toBe(false);
      expect(addon!.info().gemmBf16Kernel).toMatch(/vdpbf16ps/);
      gemm({ M, N, K, A, B, C: vdp, precision: 'bf16' });
      expect(addon!.setAmx(true)).toBe(true);
      expect(amx).toBeAllclose(vdp, { rtol: 1e-5, atol: 1e-6 + 4e-6 * K });
    }
  });

  // The tile configuration is the thread's, not the library's: another native module (here a second
  // copy of this addon, as the A/B benchmark tools load them) may load its own on the JavaScript thread
  // between two calls. K = 17 (9 pairs) runs on tiles shaped to the remainder, K = 64 (32 pairs) on
  // full tiles; each copy believed its own configuration was still loaded, and ran on the other's.
  it('stays right when another module changes the tile configuration between calls', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trm-amx-copy-'));
    const isa = addon!.info().isa;
    try {
      const copy = join(dir, 'trm_native.node');
      copyFileSync(addonPath!, copy);
      const other = createRequire(import.meta.url)(copy) as NativeAddon;
      // (both on the AMX kernel, also in the TRM_ISA=portable run)
      addon!.setIsa('avx512');
      other.setIsa('avx512');
      addon!.setThreads(1);
      other.setThreads(1);
      expect(other.info().gemmBf16Kernel).toMatch(/amx/);
      const M = 64,
        N = 64;
      const run = (a: NativeAddon, K: number) => {
        const A = randn(M * K, K),
          B = randn(K * N, K + 1);
        const C = new Float32Array(M * N);
        a.gemmBf16(false, false, M, N, K, 1, A, K, 0, B, N, 0, 0, C, N, 0, 1);
        expect(C, `K ${K}`).toBeAllclose(refBf16(false, false, M, N, K, 1, A, K, B, N, 0, C, N), {
          rtol: 1e-5,
          atol: 1e-6 + 2e-6 * K,
        });
      };
      for (let round = 0; round < 2; round++) {
        run(addon!, 17);
        run(other, 64);
      }
    } finally {
      addon!.setIsa(isa);
      setThreads(2);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
