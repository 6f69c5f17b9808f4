/**
 * Non-GEMM kernels, part 1: elementwise, RMSNorm (last axis and sequence axis), SwiGLU, embeddings,
 * softmax and RoPE, on every backend, against float64 computations written here, with each
 * backward also checked against float64 central finite differences. Losses, optimizers, and the
 * native-vs-ref / thread / error checks live in ops-losses, ops-optim and ops-parity.test.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as K from '../../src/kernels/index.js';
import { randn, rng } from '../helpers.js';
import { backends, fdGrad, randInts, restoreBackend } from './ops-helpers.js';

afterAll(restoreBackend);

// ---- float64 references ----------------------------------------------------------------------

function rms64(x: ArrayLike<number>, N: number, D: number, eps: number): { y: Float64Array; r: Float64Array } {
  const y = new Float64Array(N * D),
    r = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    let ss = 0;
    for (let d = 0; d < D; d++) ss += x[i * D + d] ** 2;
    r[i] = 1 / Math.sqrt(ss / D + eps);
    for (let d = 0; d < D; d++) y[i * D + d] = x[i * D + d] * r[i];
  }
  return { y, r };
}

/** Transpose (B, S, D) <-> (B, D, S), so the sequence-axis norm is the last-axis norm in between. */
function swapLast2(x: ArrayLike<number>, B: number, R: number, C: number): Float64Array {
  const out = new Float64Array(B * R * C);
  for (let b = 0; b < B; b++)
    for (let i = 0; i < R; i++) for (let j = 0; j < C; j++) out[(b * C + j) * R + i] = x[(b * R + i) * C + j];
  return out;
}

function rmsSeq64(
  x: ArrayLike<number>,
  B: number,
  S: number,
  D: number,
  eps: number,
): { y: Float64Array; r: Float64Array } {
  const { y, r } = rms64(swapLast2(x, B, S, D), B * D, S, eps);
  return { y: swapLast2(y, B, D, S), r };
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

function swiglu64(gu: ArrayLike<number>, N: number, H: number): Float64Array {
  const out = new Float64Array(N * H);
  for (let i = 0; i < N; i++)
    for (let h = 0; h < H; h++) {
      const g = gu[i * 2 * H + h];
      out[i * H + h] = g * sigmoid(g) * gu[i * 2 * H + H + h];
    }
  return out;
}

function softmax64(x: ArrayLike<number>, N: number, V: number): Float64Array {
  const out = new Float64Array(N * V);
  for (let i = 0; i < N; i++) {
    const row = Array.from({ length: V }, (_, j) => x[i * V + j]),
      mx = Math.max(...row);
    const e = row.map(v => Math.exp(v - mx)),
      z = e.reduce((a, b) => a + b, 0);
    for (let j = 0; j < V; j++) out[i * V + j] = e[j] / z;
  }
  return out;
}

/** x * cos + rotate_half(x) * sin with rotate_half([x1, x2]) = [-x2, x1] (GPT-NeoX form). */
function rope64(
  x: ArrayLike<number>,
  cos: ArrayLike<number>,
  sin: ArrayLike<number>,
  B: number,
  S: number,
  H: number,
  Dh: number,
): Float64Array {
  const out = new Float64Array(B * S * H * Dh),
    half = Dh / 2;
  for (let b = 0; b < B; b++)
    for (let s = 0; s < S; s++)
      for (let h = 0; h < H; h++) {
        const o = ((b * S + s) * H + h) * Dh;
        const rot = Array.from({ length: Dh }, (_, i) => (i < half ? -x[o + i + half] : x[o + i - half]));
        for (let i = 0; i < Dh; i++) out[o + i] = x[o + i] * cos[s * Dh + i] + rot[i] * sin[s * Dh + i];
      }
  return out;
}

/** The official RoPE tables: theta 10000, emb = [freqs, freqs], positions 0..S-1. */
function ropeTables(S: number, Dh: number): { cos: Float32Array; sin: Float32Array } {
  const cos = new Float32Array(S * Dh),
    sin = new Float32Array(S * Dh),
    half = Dh / 2;
  for (let s = 0; s < S; s++)
    for (let i = 0; i < Dh; i++) {
      const f = s / 10000 ** ((2 * (i % half)) / Dh);
      cos[s * Dh + i] = Math.cos(f);
      sin[s * Dh + i] = Math.sin(f);
    }
  return { cos, sin };
}

describe.each(backends)('ops on $label', ({ setup }) => {
  // ---- elementwise ---------------------------------------------------------------------------
  it.each([1, 7, 97, 513, 20011])('add, add3 with n=%i', n => {
    setup();
    const a = randn(n, n + 1),
      b = randn(n, n + 2),
      c = randn(n, n + 3),
      out = new Float32Array(n);
    K.add(out, a, b, n);
    expect(out).toBeAllclose(
      Array.from(a, (v, i) => v + b[i]),
      { rtol: 1e-7, atol: 0 },
    );
    K.add3(out, a, b, c, n);
    expect(out).toBeAllclose(
      Array.from(a, (v, i) => v + b[i] + c[i]),
      { rtol: 1e-6, atol: 1e-6 },
    );
    for (let i = 0; i < n; i++) expect(out[i]).toBe(Math.fround(Math.fround(a[i] + b[i]) + c[i])); // rounded after each add
    const alias = a.slice(); // out may alias an input
    K.add(alias, alias, b, n);
    expect(alias).toBeAllclose(
      Array.from(a, (v, i) => v + b[i]),
      { rtol: 1e-7, atol: 0 },
    );
  });

  it.each([
    [1, 1],
    [7, 2],
    [97, 5],
    [301, 67],
  ])('addBias / biasBackward N=%i C=%i', (N, C) => {
    setup();
    const x = randn(N * C, N + C),
      bias = randn(C, C + 1),
      out = x.slice();
    K.addBias(out, bias, N, C);
    expect(out).toBeAllclose(
      Array.from(x, (v, i) => v + bias[i % C]),
      { rtol: 1e-7, atol: 0 },
    );
    const dbias = randn(C, C + 2),
      want = Float64Array.from(dbias);
    for (let i = 0; i < N * C; i++) want[i % C] += x[i];
    K.biasBackward(dbias, x, N, C); // adds into dbias
    expect(dbias).toBeAllclose(want, { rtol: 1e-6, atol: 1e-6 });
  });

  it('copy2d, fill, castU8F32, broadcastRows move exactly', () => {
    setup();
    const src = randn(5 * 9, 1),
      dst = randn(4 * 7, 2),
      before = dst.slice();
    K.copy2d(dst, src, 4, 3, 7, 9);
    for (let r = 0; r < 4; r++)
      for (let c = 0; c < 7; c++) expect(dst[r * 7 + c]).toBe(c < 3 ? src[r * 9 + c] : before[r * 7 + c]);
    // long rows: one row of 100000 floats (whole), two of 300000 (in pieces over the threads: movement.cpp)
    for (const [rows, cols] of [
      [1, 100000],
      [2, 300000],
    ]) {
      const from = randn(rows * (cols + 5), 5),
        to = new Float32Array(rows * (cols + 3));
      K.copy2d(to, from, rows, cols, cols + 3, cols + 5);
      for (let r = 0; r < rows; r++) {
        expect(
          Buffer.compare(
            Buffer.from(to.subarray(r * (cols + 3), r * (cols + 3) + cols).slice().buffer),
            Buffer.from(from.subarray(r * (cols + 5), r * (cols + 5) + cols).slice().buffer),
          ),
        ).toBe(0);
        expect(Array.from(to.subarray(r * (cols + 3) + cols, (r + 1) * (cols + 3)))).toEqual([0, 0, 0]);
      }
    }
    K.fill(dst, 2.5, 5);
    expect(Array.from(dst.subarray(0, 6))).toEqual([2.5, 2.5, 2.5, 2.5, 2.5, dst[5]]);
    const f = new Float32Array(4);
    K.castU8F32(f, Uint8Array.of(0, 1, 1, 0), 4);
    expect(Array.from(f)).toEqual([0, 1, 1, 0]);
    const [B, S, D] = [3, 4, 2],
      y = randn(B * S * D, 3),
      y0 = y.slice(),
      vecs = randn(B * D, 4);
    K.broadcastRows(y, vecs, Uint8Array.of(1, 0, 1), B, S * D, D, D);
    for (let b = 0; b < B; b++)
      for (let s = 0; s < S; s++)
        for (let d = 0; d < D; d++) {
          const i = (b * S + s) * D + d;
          expect(y[i]).toBe(b === 1 ? y0[i] : vecs[b * D + d]);
        }
    K.broadcastRows(y, vecs, Uint8Array.of(0, 1, 0), B, S * D, D, 0); // stride 0: one vector for all
    for (let s = 0; s < S; s++) for (let d = 0; d < D; d++) expect(y[(S + s) * D + d]).toBe(vecs[d]);
  });

  it('transpose moves every element, whole 8 x 8 and 16 x 16 blocks and edges alike', () => {
    setup();
    for (const [R, C] of [
      [1, 1],
      [3, 5],
      [8, 8],
      [9, 7],
      [16, 16],
      [17, 33],
      [33, 47],
      [64, 512],
      [82, 24],
      [97, 512],
    ]) {
      const inp = randn(R * C, R + C),
        out = new Float32Array(R * C).fill(Number.NaN);
      K.transpose(out, inp, R, C);
      let bad = 0;
      for (let i = 0; i < R; i++) for (let j = 0; j < C; j++) if (!Object.is(out[j * R + i], inp[i * C + j])) bad++;
      expect(bad, `${R} x ${C}`).toBe(0);
    }
  });

  it('lossGrad: per-sample mean over valid tokens, half-weight BCE, optional sample weights', () => {
    setup();
    const [B, L] = [3, 5],
      counts = Int32Array.of(5, 2, 0, 0, 3, 3),
      dtok = new Float32Array(B * L),
      dbce = new Float32Array(B);
    K.lossGrad(dtok, dbce, counts, null, B, L, 0.5);
    expect(Array.from(dtok)).toEqual(
      [...Array(5).fill(0.1), ...Array(5).fill(0.5), ...Array(5).fill(0.5 / 3)].map(Math.fround),
    );
    expect(Array.from(dbce)).toEqual([0.25, 0.25, 0.25]);
    K.lossGrad(dtok, dbce, counts, Float32Array.of(1, 0, 2), B, L, 0.5);
    expect(Array.from(dtok)).toEqual(
      [...Array(5).fill(0.1), ...Array(5).fill(0), ...Array(5).fill(1 / 3)].map(Math.fround),
    );
    expect(Array.from(dbce)).toEqual([0.25, 0, 0.5]);
  });

  // ---- RMSNorm ---------------------------------------------------------------------------------
  it.each([
    [1, 1],
    [7, 97],
    [97, 7],
    [3, 513],
    [2, 1],
  ])('rmsnorm N=%i D=%i: forward and backward vs float64', (N, D) => {
    setup();
    const eps = 1e-5,
      x = randn(N * D, N * 31 + D, 2),
      dy = randn(N * D, N + D * 7);
    const out = new Float32Array(N * D),
      rstd = new Float32Array(N),
      g0 = randn(N * D, 5),
      dx = g0.slice(); // backward adds into dx
    K.rmsnormForward(out, rstd, x, N, D, eps);
    const { y, r } = rms64(x, N, D, eps);
    expect(out).toBeAllclose(y, { rtol: 1e-5, atol: 1e-6 });
    expect(rstd).toBeAllclose(r, { rtol: 1e-6, atol: 0 });
    K.rmsnormBackward(dx, dy, out, rstd, N, D);
    const want = new Float64Array(N * D);
    for (let i = 0; i < N; i++) {
      let m = 0;
      for (let d = 0; d < D; d++) m += (dy[i * D + d] * y[i * D + d]) / D;
      for (let d = 0; d < D; d++) want[i * D + d] = g0[i * D + d] + r[i] * (dy[i * D + d] - y[i * D + d] * m);
    }
    expect(dx).toBeAllclose(want, { rtol: 1e-4, atol: 1e-5 });
  });

  it.each([
    [3, 7],
    [2, 13],
    [4, 1],
  ])('rmsnorm N=%i D=%i: backward vs finite differences', (N, D) => {
    setup();
    const eps = 1e-5,
      x = randn(N * D, 5 + D, 1.5),
      dy = randn(N * D, 6 + D);
    const out = new Float32Array(N * D),
      rstd = new Float32Array(N),
      dx = new Float32Array(N * D);
    K.rmsnormForward(out, rstd, x, N, D, eps);
    K.rmsnormBackward(dx, dy, out, rstd, N, D);
    expect(dx).toBeAllclose(
      fdGrad(v => rms64(v, N, D, eps).y, x, dy),
      { rtol: 1e-3, atol: 1e-4 },
    );
  });

  it.each([
    [1, 1, 1],
    [2, 97, 7],
    [1, 7, 513],
    [3, 13, 97],
    [2, 5, 300],
  ])('rmsnormSeq B=%i S=%i D=%i: forward and backward vs float64', (B, S, D) => {
    setup();
    const eps = 1e-5,
      n = B * S * D,
      x = randn(n, n + 3, 2),
      dy = randn(n, n + 4);
    const out = new Float32Array(n),
      rstd = new Float32Array(B * D),
      dx = new Float32Array(n);
    K.rmsnormSeqForward(out, rstd, x, B, S, D, eps);
    const { y, r } = rmsSeq64(x, B, S, D, eps);
    expect(out).toBeAllclose(y, { rtol: 1e-5, atol: 1e-6 });
    expect(rstd).toBeAllclose(r, { rtol: 1e-6, atol: 0 });
    K.rmsnormSeqBackward(dx, dy, out, rstd, B, S, D);
    // the last-axis formula applied to the transposed tensors
    const yt = swapLast2(y, B, S, D),
      dyt = swapLast2(dy, B, S, D),
      dxt = new Float64Array(n);
    for (let i = 0; i < B * D; i++) {
      let m = 0;
      for (let s = 0; s < S; s++) m += (dyt[i * S + s] * yt[i * S + s]) / S;
      for (let s = 0; s < S; s++) dxt[i * S + s] = r[i] * (dyt[i * S + s] - yt[i * S + s] * m);
    }
    expect(dx).toBeAllclose(swapLast2(dxt, B, D, S), { rtol: 1e-4, atol: 1e-5 });
  });

  it('rmsnormSeq B=2 S=5 D=3: backward vs finite differences', () => {
    setup();
    const [B, S, D] = [2, 5, 3],
      n = B * S * D,
      eps = 1e-5,
      x = randn(n, 77, 1.5),
      dy = randn(n, 78);
    const out = new Float32Array(n),
      rstd = new Float32Array(B * D),
      dx = new Float32Array(n);
    K.rmsnormSeqForward(out, rstd, x, B, S, D, eps);
    K.rmsnormSeqBackward(dx, dy, out, rstd, B, S, D);
    expect(dx).toBeAllclose(
      fdGrad(v => rmsSeq64(v, B, S, D, eps).y, x, dy),
      { rtol: 1e-3, atol: 1e-4 },
    );
  });

  // ---- SwiGLU ----------------------------------------------------------------------------------
  it.each([
    [1, 1],
    [7, 97],
    [97, 7],
    [2, 513],
  ])('swiglu N=%i H=%i: forward and backward vs float64', (N, H) => {
    setup();
    const gu = randn(2 * N * H, N + 11 * H, 4),
      dy = randn(N * H, N + H);
    const out = new Float32Array(N * H),
      g0 = randn(2 * N * H, 6),
      dgu = g0.slice(); // backward adds into dgu
    K.swigluForward(out, gu, N, H);
    expect(out).toBeAllclose(swiglu64(gu, N, H), { rtol: 1e-5, atol: 1e-6 });
    K.swigluBackward(dgu, dy, gu, N, H);
    const want = new Float64Array(2 * N * H);
    for (let i = 0; i < N; i++)
      for (let h = 0; h < H; h++) {
        const g = gu[i * 2 * H + h],
          u = gu[i * 2 * H + H + h],
          sg = sigmoid(g),
          d = dy[i * H + h];
        want[i * 2 * H + h] = g0[i * 2 * H + h] + d * u * (sg + g * sg * (1 - sg));
        want[i * 2 * H + H + h] = g0[i * 2 * H + H + h] + d * g * sg;
      }
    expect(dgu).toBeAllclose(want, { rtol: 1e-4, atol: 1e-5 });
  });

  it('swiglu N=3 H=5: backward vs finite differences', () => {
    setup();
    const [N, H] = [3, 5],
      gu = randn(2 * N * H, 12, 4),
      dy = randn(N * H, 13),
      dgu = new Float32Array(2 * N * H);
    K.swigluBackward(dgu, dy, gu, N, H);
    expect(dgu).toBeAllclose(
      fdGrad(v => swiglu64(v, N, H), gu, dy),
      { rtol: 1e-3, atol: 1e-4 },
    );
  });

  // ---- embeddings ------------------------------------------------------------------------------
  it.each([
    [1, 1, 1],
    [97, 7, 11],
    [7, 513, 3],
    [513, 9, 97],
  ])('embedding N=%i D=%i V=%i: forward and accumulating backward', (N, D, V) => {
    setup();
    const r = rng(N * D + V),
      ids = randInts(N, V, r),
      table = randn(V * D, V + 1),
      dy = randn(N * D, N + 2),
      sc = 1.7;
    const out = new Float32Array(N * D);
    K.embeddingForward(out, ids, table, N, D, V, sc);
    const want = new Float64Array(N * D);
    for (let i = 0; i < N; i++) for (let d = 0; d < D; d++) want[i * D + d] = sc * table[ids[i] * D + d];
    expect(out).toBeAllclose(want, { rtol: 1e-7, atol: 0 });
    const dtable = randn(V * D, V + 3),
      acc = Float64Array.from(dtable);
    K.embeddingBackward(dtable, dy, ids, N, D, V, sc);
    for (let i = 0; i < N; i++) for (let d = 0; d < D; d++) acc[ids[i] * D + d] += sc * dy[i * D + d];
    expect(dtable).toBeAllclose(acc, { rtol: 1e-5, atol: 1e-5 });
  });

  it('embedding N=9 D=4 V=3 (repeated ids): backward vs finite differences', () => {
    setup();
    const [N, D, V] = [9, 4, 3],
      ids = randInts(N, V, rng(5)),
      dy = randn(N * D, 6),
      table = randn(V * D, 7),
      sc = 0.8;
    const dtable = new Float32Array(V * D);
    K.embeddingBackward(dtable, dy, ids, N, D, V, sc);
    const fwd = (t: Float64Array) =>
      Array.from({ length: N * D }, (_, k) => sc * t[ids[Math.floor(k / D)] * D + (k % D)]);
    expect(dtable).toBeAllclose(fdGrad(fwd, table, dy), { rtol: 1e-5, atol: 1e-6 });
  });

  it('embedding: an id outside [0, V) throws naming the kernel, index and id', () => {
    setup();
    const table = new Float32Array(6),
      out = new Float32Array(6);
    expect(() => K.embeddingForward(out, Int32Array.from([0, 2, 3]), table, 3, 2, 3, 1)).toThrow(
      /embeddingForward: ids\[2\] = 3 is outside \[0, 3\)/,
    );
    expect(() => K.embeddingForward(out, Int32Array.from([-1, 0, 0]), table, 3, 2, 3, 1)).toThrow(/ids\[0\] = -1/);
    expect(() => K.embeddingBackward(table, out, Int32Array.from([0, 7, 0]), 3, 2, 3, 1)).toThrow(
      /embeddingBackward: ids\[1\] = 7/,
    );
  });

  // ---- softmax ---------------------------------------------------------------------------------
  it.each([
    [1, 1],
    [7, 97],
    [97, 7],
    [3, 513],
  ])('softmax N=%i V=%i: forward and backward vs float64', (N, V) => {
    setup();
    const x = randn(N * V, N * 5 + V, 6),
      dy = randn(N * V, N + V * 3);
    const out = new Float32Array(N * V),
      dx = new Float32Array(N * V);
    K.softmaxForward(out, x, N, V);
    const y = softmax64(x, N, V);
    expect(out).toBeAllclose(y, { rtol: 1e-5, atol: 1e-7 });
    K.softmaxBackward(dx, dy, out, N, V);
    const want = new Float64Array(N * V);
    for (let i = 0; i < N; i++) {
      let dot = 0;
      for (let j = 0; j < V; j++) dot += dy[i * V + j] * y[i * V + j];
      for (let j = 0; j < V; j++) want[i * V + j] = y[i * V + j] * (dy[i * V + j] - dot);
    }
    expect(dx).toBeAllclose(want, { rtol: 1e-4, atol: 1e-6 });
  });

  it('softmax N=3 V=7: backward vs finite differences; large logits stay finite', () => {
    setup();
    const [N, V] = [3, 7],
      x = randn(N * V, 21, 3),
      dy = randn(N * V, 22);
    const out = new Float32Array(N * V),
      dx = new Float32Array(N * V);
    K.softmaxForward(out, x, N, V);
    K.softmaxBackward(dx, dy, out, N, V);
    expect(dx).toBeAllclose(
      fdGrad(v => softmax64(v, N, V), x, dy),
      { rtol: 1e-3, atol: 1e-5 },
    );
    const big = randn(N * V, 23, 1e4);
    K.softmaxForward(out, big, N, V);
    expect(out.every(Number.isFinite)).toBe(true);
    expect(out).toBeAllclose(softmax64(big, N, V), { rtol: 1e-4, atol: 1e-6 });
  });

  // ---- RoPE ------------------------------------------------------------------------------------
  it.each([
    [1, 1, 1, 2],
    [2, 7, 3, 8],
    [1, 97, 2, 6],
    [1, 5, 1, 514],
  ])('rope B=%i S=%i H=%i Dh=%i: forward in place, backward adding', (B, S, H, Dh) => {
    setup();
    const n = B * S * H * Dh,
      x = randn(n, n + 1),
      dy = randn(n, n + 2);
    const cos = randn(S * Dh, S + 3),
      sin = randn(S * Dh, S + 4); // arbitrary tables test the exact indexing
    const out = new Float32Array(n),
      dx = new Float32Array(n);
    K.ropeForward(out, x, cos, sin, B, S, H, Dh);
    expect(out).toBeAllclose(rope64(x, cos, sin, B, S, H, Dh), { rtol: 1e-5, atol: 1e-6 });
    K.ropeBackward(dx, dy, cos, sin, B, S, H, Dh);
    // <R x, dy> = <x, R^T dy> for every x, so dx is the gradient of sum(dy * rope(x))
    const small = n <= 200;
    if (small)
      expect(dx).toBeAllclose(
        fdGrad(v => rope64(v, cos, sin, B, S, H, Dh), x, dy),
        { rtol: 1e-4, atol: 1e-5 },
      );
    let lhs = 0,
      rhs = 0;
    for (let i = 0; i < n; i++) {
      lhs += out[i] * dy[i];
      rhs += x[i] * dx[i];
    }
    expect(lhs).toBeCloseTo(rhs, 3);
    const inplace = x.slice();
    K.ropeForward(inplace, inplace, cos, sin, B, S, H, Dh);
    expect(inplace).toBeAllclose(out, { rtol: 0, atol: 0 });
    const base = randn(n, n + 5),
      back = base.slice(); // the backward adds into its output
    K.ropeBackward(back, dy, cos, sin, B, S, H, Dh);
    expect(back).toBeAllclose(
      Array.from(base, (v, i) => v + dx[i]),
      { rtol: 1e-6, atol: 1e-6 },
    );
  });

  it('rope with the official tables preserves norms and backward undoes forward', () => {
    setup();
    const [B, S, H, Dh] = [2, 97, 3, 64],
      n = B * S * H * Dh,
      { cos, sin } = ropeTables(S, Dh);
    const x = randn(n, 9),
      out = new Float32Array(n),
      back = new Float32Array(n);
    K.ropeForward(out, x, cos, sin, B, S, H, Dh);
    K.ropeBackward(back, out, cos, sin, B, S, H, Dh);
    expect(back).toBeAllclose(x, { rtol: 1e-5, atol: 1e-6 });
    expect(out.subarray(0, Dh)).toBeAllclose(x.subarray(0, Dh), { rtol: 0, atol: 0 }); // position 0 is the identity
  });
});
