/**
 * Non-GEMM kernels, part 2: stablemax cross-entropy (reference/trm-algorithm.md 5.1), BCE with
 * logits (5.2), argmax and match counts (6.4), on every backend, against float64 computations
 * written here and float64 finite differences; stability at huge logits and ignored labels.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as K from '../../src/kernels/index.js';
import { randn, rng } from '../helpers.js';
import { backends, fdGrad, randInts, restoreBackend } from './ops-helpers.js';

afterAll(restoreBackend);

const IGNORE = -100;
const s64 = (v: number): number => (v >= 0 ? v + 1 : 1 / (1 - v + 1e-30));

/** Per-row -log(s(x_label) / sum_j s(x_j)) in float64; 0 for ignored rows. */
function stablemaxCe64(x: ArrayLike<number>, labels: ArrayLike<number>, N: number, V: number): Float64Array {
  const loss = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    if (labels[i] === IGNORE) continue;
    let S = 0;
    for (let j = 0; j < V; j++) S += s64(x[i * V + j]);
    loss[i] = -Math.log(s64(x[i * V + labels[i]]) / S);
  }
  return loss;
}

/** The analytic gradient dloss_i * d CE_i / d x_ij, with s'(v) = 1 (v >= 0), 1/(1 - v)^2 (v < 0). */
function stablemaxCeGrad64(
  x: ArrayLike<number>,
  dloss: ArrayLike<number>,
  labels: ArrayLike<number>,
  N: number,
  V: number,
): Float64Array {
  const g = new Float64Array(N * V),
    ds = (v: number) => (v >= 0 ? 1 : 1 / (1 - v) ** 2);
  for (let i = 0; i < N; i++) {
    const l = labels[i];
    if (l === IGNORE) continue;
    let S = 0;
    for (let j = 0; j < V; j++) S += s64(x[i * V + j]);
    for (let j = 0; j < V; j++)
      g[i * V + j] = dloss[i] * (ds(x[i * V + j]) / S - (j === l ? ds(x[i * V + l]) / s64(x[i * V + l]) : 0));
  }
  return g;
}

/** BCE written the naive way, -t log(sigmoid x) - (1 - t) log(1 - sigmoid x), fine in float64 for |x| <= 20. */
function bce64(x: ArrayLike<number>, t: ArrayLike<number>, N: number): Float64Array {
  const out = new Float64Array(N);
  for (let i = 0; i < N; i++) {
    const p = 1 / (1 + Math.exp(-x[i]));
    out[i] = -t[i] * Math.log(p) - (1 - t[i]) * Math.log(1 - p);
  }
  return out;
}

/** The stable form max(x, 0) - x t + log1p(exp(-|x|)), for finite differences at large |x|. */
const bceStable64 = (x: ArrayLike<number>, t: ArrayLike<number>, N: number): Float64Array =>
  Float64Array.from({ length: N }, (_, i) => Math.max(x[i], 0) - x[i] * t[i] + Math.log1p(Math.exp(-Math.abs(x[i]))));

describe.each(backends)('losses on $label', ({ setup }) => {
  it.each([
    [1, 1],
    [7, 11],
    [97, 7],
    [13, 513],
    [1, 2],
  ])('stablemax CE N=%i V=%i: forward and backward vs float64', (N, V) => {
    setup();
    const r = rng(N * 100 + V),
      x = randn(N * V, N + V, 5),
      labels = randInts(N, V, r, IGNORE, 0.2),
      dloss = randn(N, V + 1);
    const loss = new Float32Array(N).fill(NaN),
      g0 = randn(N * V, V + 2),
      dx = g0.slice(); // the backward adds into dx
    K.stablemaxCeForward(loss, x, labels, N, V, IGNORE);
    expect(loss).toBeAllclose(stablemaxCe64(x, labels, N, V), { rtol: 1e-6, atol: 1e-6 });
    K.stablemaxCeBackward(dx, dloss, x, labels, N, V, IGNORE);
    expect(dx).toBeAllclose(
      stablemaxCeGrad64(x, dloss, labels, N, V).map((v, i) => v + g0[i]),
      { rtol: 1e-5, atol: 1e-6 },
    );
  });

  it('stablemax CE: log 2 for two equal logits; 0 for V = 1', () => {
    setup();
    const loss = new Float32Array(2);
    K.stablemaxCeForward(loss, Float32Array.from([0.5, 3]), Int32Array.from([0, 0]), 2, 1, IGNORE);
    expect(Array.from(loss)).toEqual([0, 0]);
    K.stablemaxCeForward(loss, Float32Array.from([-2, -2, 0, 0]), Int32Array.from([0, 1]), 2, 2, IGNORE);
    expect(loss).toBeAllclose([Math.LN2, Math.LN2], { rtol: 1e-7, atol: 0 });
  });

  it('stablemax CE N=4 V=6: backward vs finite differences (both branches of s)', () => {
    setup();
    const [N, V] = [4, 6],
      x = randn(N * V, 41, 3),
      labels = Int32Array.from([2, IGNORE, 0, 5]),
      dloss = randn(N, 42);
    const dx = new Float32Array(N * V);
    K.stablemaxCeBackward(dx, dloss, x, labels, N, V, IGNORE);
    expect(dx).toBeAllclose(
      fdGrad(v => stablemaxCe64(v, labels, N, V), x, dloss),
      { rtol: 1e-4, atol: 1e-6 },
    );
  });

  it('stablemax CE stays finite for logits of +-1e4 and +-1e30', () => {
    setup();
    for (const mag of [1e4, 1e30]) {
      const [N, V] = [8, 11],
        x = randn(N * V, 7, 1);
      for (let i = 0; i < x.length; i++) x[i] = x[i] > 0 ? mag : -mag;
      x[3] = 0;
      const labels = randInts(N, V, rng(8)),
        dloss = new Float32Array(N).fill(1);
      const loss = new Float32Array(N),
        dx = new Float32Array(N * V);
      K.stablemaxCeForward(loss, x, labels, N, V, IGNORE);
      K.stablemaxCeBackward(dx, dloss, x, labels, N, V, IGNORE);
      expect(loss.every(Number.isFinite) && dx.every(Number.isFinite)).toBe(true);
      expect(loss).toBeAllclose(stablemaxCe64(x, labels, N, V), { rtol: 1e-6, atol: 1e-6 });
      expect(dx).toBeAllclose(stablemaxCeGrad64(x, dloss, labels, N, V), { rtol: 1e-5, atol: 1e-7 });
    }
  });

  it('stablemax CE: ignored labels give zero loss and add no gradient, even over garbage', () => {
    setup();
    const [N, V] = [5, 9],
      x = randn(N * V, 3, 10),
      labels = Int32Array.from([IGNORE, 4, IGNORE, IGNORE, 0]);
    const loss = new Float32Array(N).fill(NaN),
      dx = new Float32Array(N * V),
      dloss = randn(N, 4);
    K.stablemaxCeForward(loss, x, labels, N, V, IGNORE);
    K.stablemaxCeBackward(dx, dloss, x, labels, N, V, IGNORE);
    for (const i of [0, 2, 3]) {
      expect(loss[i]).toBe(0);
      expect(Array.from(dx.subarray(i * V, (i + 1) * V))).toEqual(new Array(V).fill(0));
    }
    expect(loss[1]).toBeGreaterThan(0);
    expect(() => K.stablemaxCeForward(loss, x, Int32Array.from([0, 9, 0, 0, 0]), N, V, IGNORE)).toThrow(
      /stablemaxCeForward: labels\[1\] = 9 is outside \[0, 9\)/,
    );
    expect(() => K.stablemaxCeBackward(dx, dloss, x, Int32Array.from([0, 0, -1, 0, 0]), N, V, IGNORE)).toThrow(
      /stablemaxCeBackward: labels\[2\] = -1/,
    );
  });

  it.each([1, 7, 97, 513])('BCE with logits N=%i: forward and backward vs float64', N => {
    setup();
    const x = randn(N, N + 1, 20),
      r = rng(N),
      t = Float32Array.from({ length: N }, () => (r() < 0.3 ? Math.round(r()) : r()));
    const dloss = randn(N, N + 2),
      loss = new Float32Array(N),
      dx = new Float32Array(N);
    K.bceLogitsForward(loss, x, t, N);
    expect(loss).toBeAllclose(bce64(x, t, N), { rtol: 1e-5, atol: 1e-6 });
    K.bceLogitsBackward(dx, dloss, x, t, N);
    expect(dx).toBeAllclose(
      Array.from(x, (v, i) => dloss[i] * (1 / (1 + Math.exp(-v)) - t[i])),
      { rtol: 1e-5, atol: 1e-7 },
    );
    if (N <= 97)
      expect(dx).toBeAllclose(
        fdGrad(v => bceStable64(v, t, N), x, dloss),
        { rtol: 1e-4, atol: 1e-6 },
      );
  });

  it('BCE with logits is finite at +-1e4', () => {
    setup();
    const x = Float32Array.from([1e4, -1e4, 1e4, -1e4]),
      t = Float32Array.from([0, 1, 1, 0]);
    const loss = new Float32Array(4),
      dx = new Float32Array(4);
    K.bceLogitsForward(loss, x, t, 4);
    K.bceLogitsBackward(dx, new Float32Array(4).fill(1), x, t, 4);
    expect(loss).toBeAllclose([1e4, 1e4, 0, 0], { rtol: 1e-7, atol: 1e-7 });
    expect(Array.from(dx)).toEqual([1, -1, 0, 0]);
  });

  it.each([
    [1, 1],
    [7, 11],
    [97, 7],
    [13, 513],
  ])('argmax N=%i V=%i: first index wins ties', (N, V) => {
    setup();
    const x = randn(N * V, N + V),
      out = new Int32Array(N).fill(-1);
    for (let i = 0; i < N; i += 2) x[i * V + V - 1] = x[i * V] = 5; // tie between first and last
    K.argmax(out, x, N, V);
    for (let i = 0; i < N; i++) {
      const row = Array.from(x.subarray(i * V, (i + 1) * V));
      expect(out[i]).toBe(row.indexOf(Math.max(...row)));
    }
  });

  it.each([
    [1, 1],
    [7, 97],
    [97, 7],
    [3, 513],
  ])('matchCounts B=%i S=%i', (B, S) => {
    setup();
    const r = rng(B * S),
      labels = randInts(B * S, 3, r, IGNORE, 0.3),
      pred = randInts(B * S, 3, r);
    for (let s = 0; s < S; s++) {
      if (B > 1) labels[s] = IGNORE; // sequence 0 has no valid token
      if (B > 2 && labels[2 * S + s] !== IGNORE) pred[2 * S + s] = labels[2 * S + s]; // sequence 2 is all correct
    }
    const seqCorrect = new Uint8Array(B).fill(7),
      counts = new Int32Array(2 * B).fill(-1);
    K.matchCounts(seqCorrect, counts, pred, labels, B, S, IGNORE);
    for (let b = 0; b < B; b++) {
      let valid = 0,
        correct = 0;
      for (let s = b * S; s < (b + 1) * S; s++)
        if (labels[s] !== IGNORE) {
          valid++;
          if (pred[s] === labels[s]) correct++;
        }
      expect([counts[2 * b], counts[2 * b + 1], seqCorrect[b]]).toEqual([valid, correct, valid === correct ? 1 : 0]);
    }
    if (B > 1) expect([counts[0], counts[1], seqCorrect[0]]).toEqual([0, 0, 1]);
    if (B > 2) expect(seqCorrect[2]).toBe(1);
  });
});
