/**
 * gemmSwiglu (the token mixer's gate_up GEMM with SwiGLU in its epilogue) and linearSwiglu (the
 * channel MLP's, row layout) against the unfused pair
 * it replaces, gemm (or gemmBf16) + swigluForward, on every native dispatch path: the kept
 * pre-activation bit for bit, the output bit for bit on the scalar paths and within a few ulp on
 * AVX-512 (vectorised exp); without gateUp the same output; k blocks (K > KC), odd sizes, one
 * item (split by panels) and many (split by items).
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  addon,
  gemmSwiglu,
  gemmSwigluBackward,
  linearSwiglu,
  linearSwigluBackward,
  nativeBackend,
  setThreads,
  useBackend,
} from '../../src/kernels/index.js';
import { randn } from '../helpers.js';

const paths = addon ? (['avx512', 'avx2', 'portable'] as const).filter(p => addon!.setIsa(p)) : [];
if (addon) addon.setIsa(addon.info().bestIsa);
afterAll(() => {
  if (addon) {
    addon.setIsa(addon.info().bestIsa);
    setThreads(addon.info().threads);
  }
  if (nativeBackend) useBackend('native');
});

const same = (a: Float32Array, b: Float32Array) => Buffer.compare(Buffer.from(a.buffer), Buffer.from(b.buffer)) === 0;
/** The bf16 products' SwiGLU on AVX-512 is the fast form (swiglu_bf16_avx512.cpp: a few ulp from the
 *  exact one); everywhere else the epilogues are bitwise the op-by-op kernels. */
const fastSwiglu = (p: string, bf16: boolean) => bf16 && p === 'avx512';
/** Bitwise, or (the fast bf16 SwiGLU) within 2e-6 relative, 1e-6 of the largest value absolute. */
function matches(got: Float32Array, want: Float32Array, fast: boolean): boolean {
  if (!fast) return same(got, want);
  let big = 0;
  for (const v of want) big = Math.max(big, Math.abs(v));
  for (let i = 0; i < want.length; i++)
    if (!(Math.abs(got[i] - want[i]) <= 2e-6 * Math.abs(want[i]) + 1e-6 * big)) return false;
  return true;
}

describe.runIf(addon)('gemmSwiglu vs gemm + swigluForward', () => {
  const shapes: Array<[number, number, number, number]> = [
    [37, 45, 19, 3], // H, N, K, batch
    [130, 67, 97, 1],
    [7, 33, 1100, 4], // two fp32 k blocks, two bf16 ones
    [64, 40, 17, 9],
  ];
  for (const p of paths)
    for (const bf16 of [false, true])
      it(`${p} ${bf16 ? 'bf16' : 'fp32'}: gateUp bitwise, out bitwise (fast bf16 SwiGLU: close), threads 1 = 2`, () => {
        useBackend('native');
        addon!.setIsa(p);
        for (const [H, N, K, batch] of shapes) {
          const W = randn(2 * H * K, H + K),
            X = randn(batch * K * N, N + batch);
          const gu = new Float32Array(batch * 2 * H * N),
            h = new Float32Array(batch * H * N);
          (bf16 ? addon!.gemmBf16 : addon!.gemm)(
            false,
            false,
            2 * H,
            N,
            K,
            1,
            W,
            K,
            0,
            X,
            N,
            K * N,
            0,
            gu,
            N,
            2 * H * N,
            batch,
          );
          addon!.swigluForward(h, gu, batch, H * N);
          const outs: Float32Array[] = [];
          for (const th of [1, 2]) {
            setThreads(th);
            const gu2 = new Float32Array(batch * 2 * H * N).fill(Number.NaN),
              h2 = new Float32Array(batch * H * N).fill(Number.NaN),
              h3 = new Float32Array(batch * H * N).fill(Number.NaN);
            gemmSwiglu(h2, gu2, X, W, H, N, K, batch, bf16);
            gemmSwiglu(h3, null, X, W, H, N, K, batch, bf16);
            expect(same(gu2, gu)).toBe(true);
            expect(same(h3, h2)).toBe(true);
            expect(matches(h2, h, fastSwiglu(p, bf16))).toBe(true);
            outs.push(h2);
          }
          expect(same(outs[0], outs[1])).toBe(true);
        }
        addon!.setIsa(addon!.info().bestIsa);
      });

  it('extreme pre-activations: bitwise swigluForward (saturation, NaN stays NaN)', () => {
    useBackend('native');
    const g = Float32Array.from([-200, -100, -88, -20, -1, -1e-30, 0, 1e-30, 1, 20, 88, 100, Number.NaN, Infinity]);
    const n = g.length,
      W = new Float32Array(2 * n);
    W.set(g);
    W.fill(1, n);
    const out = new Float32Array(n),
      want = new Float32Array(n),
      gu = new Float32Array(2 * n);
    gu.set(g);
    gu.fill(1, n);
    for (const p of paths) {
      addon!.setIsa(p);
      gemmSwiglu(out, null, Float32Array.of(1), W, n, 1, 1, 1, false);
      addon!.swigluForward(want, gu, 1, n);
      for (let i = 0; i < n; i++)
        if (Number.isNaN(want[i])) expect(out[i]).toBeNaN();
        else if (!Number.isFinite(want[i])) expect(out[i]).toBe(want[i]);
        else expect(out[i]).toBe(want[i]);
    }
    addon!.setIsa(addon!.info().bestIsa);
  });
});

describe.runIf(addon)('linearSwiglu vs gemm (inp @ W^T) + swigluForward', () => {
  const shapes: Array<[number, number, number]> = [
    [37, 19, 45], // N, D, I
    [130, 97, 67],
    [33, 1100, 7], // two fp32 k blocks, two bf16 ones
    [20, 64, 2100], // two column blocks; two threads split the panels
    [700, 32, 40], // two threads split the rows; several row blocks
  ];
  for (const p of paths)
    for (const bf16 of [false, true])
      it(`${p} ${bf16 ? 'bf16' : 'fp32'}: gateUp bitwise, out bitwise (fast bf16 SwiGLU: close), threads 1 = 2`, () => {
        useBackend('native');
        addon!.setIsa(p);
        for (const [N, D, I] of shapes) {
          const W = randn(2 * I * D, I + D),
            X = randn(N * D, N + 1);
          const gu = new Float32Array(N * 2 * I),
            h = new Float32Array(N * I);
          (bf16 ? addon!.gemmBf16 : addon!.gemm)(false, true, N, 2 * I, D, 1, X, D, 0, W, D, 0, 0, gu, 2 * I, 0, 1);
          addon!.swigluForward(h, gu, N, I);
          const byThreads: Float32Array[] = [];
          for (const th of [1, 2]) {
            setThreads(th);
            const gu2 = new Float32Array(N * 2 * I).fill(Number.NaN),
              gu3 = new Float32Array(N * 2 * I).fill(Number.NaN),
              h2 = new Float32Array(N * I).fill(Number.NaN),
              h3 = new Float32Array(N * I).fill(Number.NaN);
            linearSwiglu(h2, gu2, X, W, N, D, I, true, bf16);
            byThreads.push(h2);
            linearSwiglu(h3, gu3, X, W, N, D, I, false, bf16);
            expect(same(gu2, gu)).toBe(true);
            expect(same(h3, h2)).toBe(true);
            expect(matches(h2, h, fastSwiglu(p, bf16))).toBe(true);
            expect(gu3.every(v => Number.isNaN(v))).toBe(true); // keep = false: the pre-activation is not written
          }
          expect(same(byThreads[0], byThreads[1])).toBe(true);
        }
        addon!.setIsa(addon!.info().bestIsa);
      });
});

describe.runIf(addon)('the SwiGLU backwards through the down product vs gemm + (fill) + swigluBackward', () => {
  // row layout: N, D (= K), I; item layout: H, N, K, batch
  const rows: Array<[number, number, number]> = [
    [37, 19, 45],
    [33, 1100, 7],
    [20, 64, 4200],
    [700, 32, 40],
  ];
  const items: Array<[number, number, number, number]> = [
    [37, 45, 19, 3],
    [130, 67, 97, 1],
    [7, 33, 1100, 4],
    [64, 40, 17, 9],
  ];
  for (const p of paths)
    for (const bf16 of [false, true])
      it(`${p} ${bf16 ? 'bf16' : 'fp32'}: dgateUp bitwise the op-by-op sequence (fast bf16 SwiGLU: close), fresh and added into`, () => {
        useBackend('native');
        addon!.setIsa(p);
        const mm = bf16 ? addon!.gemmBf16 : addon!.gemm;
        for (const [N, D, I] of rows) {
          const W = randn(D * I, I + D),
            dout = randn(N * D, N + 2),
            gu = randn(N * 2 * I, N + 3, 4);
          const dh = new Float32Array(N * I),
            want = new Float32Array(N * 2 * I);
          mm(false, false, N, I, D, 1, dout, D, 0, W, I, 0, 0, dh, I, 0, 1);
          addon!.swigluBackward(want, dh, gu, N, I);
          const start = randn(N * 2 * I, N + 4),
            wantAcc = start.slice(),
            byThreads: Float32Array[] = [];
          addon!.swigluBackward(wantAcc, dh, gu, N, I);
          for (const th of [1, 2]) {
            setThreads(th);
            const got = new Float32Array(N * 2 * I).fill(Number.NaN),
              acc = start.slice(),
              scratch = new Float32Array(N * I);
            linearSwigluBackward(got, scratch, dout, gu, W, N, D, I, bf16, true);
            byThreads.push(got);
            linearSwigluBackward(acc, scratch, dout, gu, W, N, D, I, bf16, false);
            expect(matches(got, want, fastSwiglu(p, bf16))).toBe(true);
            expect(matches(acc, wantAcc, fastSwiglu(p, bf16))).toBe(true);
          }
          expect(same(byThreads[0], byThreads[1])).toBe(true);
        }
        for (const [H, N, K, batch] of items) {
          const WT = randn(H * K, H + K + 1),
            dout = randn(batch * K * N, N + batch + 2),
            gu = randn(batch * 2 * H * N, H + 5, 4);
          const dh = new Float32Array(batch * H * N),
            want = new Float32Array(batch * 2 * H * N);
          mm(false, false, H, N, K, 1, WT, K, 0, dout, N, K * N, 0, dh, N, H * N, batch);
          addon!.swigluBackward(want, dh, gu, batch, H * N);
          const start = randn(batch * 2 * H * N, H + 6),
            wantAcc = start.slice(),
            byThreads: Float32Array[] = [];
          addon!.swigluBackward(wantAcc, dh, gu, batch, H * N);
          for (const th of [1, 2]) {
            setThreads(th);
            const got = new Float32Array(batch * 2 * H * N).fill(Number.NaN),
              acc = start.slice(),
              scratch = new Float32Array(batch * H * N);
            gemmSwigluBackward(got, scratch, dout, gu, WT, H, N, K, batch, bf16, true);
            byThreads.push(got);
            gemmSwigluBackward(acc, scratch, dout, gu, WT, H, N, K, batch, bf16, false);
            expect(matches(got, want, fastSwiglu(p, bf16))).toBe(true);
            expect(matches(acc, wantAcc, fastSwiglu(p, bf16))).toBe(true);
          }
          expect(same(byThreads[0], byThreads[1])).toBe(true);
        }
        addon!.setIsa(addon!.info().bestIsa);
      });
});
