import { describe, expect, it } from 'vitest';
import { philox4x32, Rng, STREAM } from '../../src/data/rng.js';

const take = (r: Rng, n: number) => Array.from({ length: n }, () => r.nextU32());

describe('Philox-4x32-10', () => {
  // Random123's tests/kat_vectors, the three "philox4x32 10" lines: counter (4 words), key (2), result (4).
  const kat: [number[], number[], number[]][] = [
    [
      [0, 0, 0, 0],
      [0, 0],
      [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8],
    ],
    [
      [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      [0xffffffff, 0xffffffff],
      [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd],
    ],
    [
      [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
      [0xa4093822, 0x299f31d0],
      [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
    ],
  ];
  it('matches the Random123 known-answer vectors', () => {
    for (const [c, k, want] of kat)
      expect(Array.from(philox4x32(c[0], c[1], c[2], c[3], k[0], k[1], new Uint32Array(4)))).toEqual(want);
  });

  it('a stream is the blocks of its counter: draw n of Rng(seed, stream).substream(i, j) is word n % 4 of block n / 4', () => {
    const r = new Rng(123, 45).substream(6, 7),
      got = take(r, 12),
      blk = new Uint32Array(4);
    for (let b = 0; b < 3; b++)
      expect(got.slice(4 * b, 4 * b + 4)).toEqual(Array.from(philox4x32(b, 0, 6, 7, 123, 45, blk)));
    expect(take(new Rng(123, 45, 6, 7), 12)).toEqual(got);
  });
});

describe('Rng', () => {
  it('is deterministic: the same (seed, stream, sub-stream) gives the same sequence', () => {
    expect(take(new Rng(7, 3), 100)).toEqual(take(new Rng(7, 3), 100));
    expect(take(new Rng(7, 3).substream(9), 50)).toEqual(take(new Rng(7, 3, 9), 50));
    const a = new Rng(1),
      b = new Rng(1);
    expect([a.float(), a.int(10), a.normal(), ...a.permutation(20)]).toEqual([
      b.float(),
      b.int(10),
      b.normal(),
      ...b.permutation(20),
    ]);
  });

  it('streams differ: different seeds, streams and sub-streams share no early draws and are uncorrelated', () => {
    const base = take(new Rng(5, 0), 1000);
    const others = [
      new Rng(6, 0),
      new Rng(5, 1),
      new Rng(5, 0, 1),
      new Rng(5, 0, 0, 1),
      new Rng(5, STREAM.init),
      new Rng(0x80000005, 0),
    ];
    for (const o of others) {
      const seq = take(o, 1000);
      const shared = seq.filter((v, i) => v === base[i]).length;
      expect(shared).toBe(0);
      // correlation of the uniforms: |r| < 4 / sqrt(n) is ~4 sigma for independent streams
      const x = base.map(v => v / 2 ** 32 - 0.5),
        y = seq.map(v => v / 2 ** 32 - 0.5);
      let sxy = 0,
        sxx = 0,
        syy = 0;
      for (let i = 0; i < x.length; i++) {
        sxy += x[i] * y[i];
        sxx += x[i] * x[i];
        syy += y[i] * y[i];
      }
      expect(Math.abs(sxy / Math.sqrt(sxx * syy))).toBeLessThan(4 / Math.sqrt(1000));
    }
  });

  it('float() is uniform on [0, 1): range, mean, variance and a chi-square over 64 bins', () => {
    const r = new Rng(11),
      n = 200_000,
      bins = new Float64Array(64);
    let sum = 0,
      sq = 0,
      lo = 1,
      hi = 0;
    for (let i = 0; i < n; i++) {
      const u = r.float();
      lo = Math.min(lo, u);
      hi = Math.max(hi, u);
      sum += u;
      sq += u * u;
      bins[Math.floor(u * 64)]++;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    expect(lo).toBeLessThan(1e-3);
    expect(hi).toBeGreaterThan(1 - 1e-3);
    expect(Math.abs(sum / n - 0.5)).toBeLessThan(4 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(sq / n - (sum * sum) / n / n - 1 / 12)).toBeLessThan(2e-3);
    const e = n / 64,
      chi2 = bins.reduce((s, b) => s + (b - e) ** 2 / e, 0);
    expect(chi2).toBeLessThan(110); // 63 degrees of freedom: P(chi2 > 110) < 2e-4
    expect(chi2).toBeGreaterThan(30); // too flat is suspicious too: P(chi2 < 30) < 1e-4
  });

  it('int(n) stays in [0, n) and is uniform, for small n, n not a power of two and n near 2^32', () => {
    const r = new Rng(12);
    for (const n of [1, 2, 3, 7, 10, 1000]) {
      const counts = new Float64Array(n),
        draws = 30 * n + 3000;
      let bad = 0;
      for (let i = 0; i < draws; i++) {
        const v = r.int(n);
        if (!(Number.isInteger(v) && v >= 0 && v < n)) bad++;
        else counts[v]++;
      }
      expect(bad).toBe(0);
      const e = draws / n,
        chi2 = counts.reduce((s, c) => s + (c - e) ** 2 / e, 0),
        dof = n - 1;
      if (n > 1) expect(chi2).toBeLessThan(dof + 6 * Math.sqrt(2 * dof) + 10);
      else expect(counts[0]).toBe(draws);
    }
    // n = 3 * 2^30: a plain multiply-shift floor(u n / 2^32) = floor(3u / 4) gives the multiples of 3
    // two words each and the rest one (P(v % 3 = 0) = 1/2); Lemire's rejection makes it 1/3.
    const n = 3 * 2 ** 30,
      q = new Float64Array(3);
    let bad = 0;
    for (let i = 0; i < 30_000; i++) {
      const v = r.int(n);
      if (!(Number.isInteger(v) && v >= 0 && v < n)) bad++;
      else q[v % 3]++;
    }
    expect(bad).toBe(0);
    for (const c of q) expect(Math.abs(c - 10_000)).toBeLessThan(500);
    const big = r.int(2 ** 32);
    expect(big >= 0 && big < 2 ** 32).toBe(true);
    expect(() => r.int(0)).toThrow(RangeError);
    expect(() => r.int(2 ** 32 + 1)).toThrow(RangeError);
  });

  it('normal() has mean 0, standard deviation 1 and normal tails', () => {
    const r = new Rng(13),
      n = 200_000;
    let sum = 0,
      sq = 0,
      beyond2 = 0,
      beyond3 = 0,
      bad = 0;
    for (let i = 0; i < n; i++) {
      const z = r.normal();
      if (!Number.isFinite(z)) bad++;
      sum += z;
      sq += z * z;
      if (Math.abs(z) > 2) beyond2++;
      if (Math.abs(z) > 3) beyond3++;
    }
    expect(bad).toBe(0);
    const mean = sum / n,
      std = Math.sqrt(sq / n - mean * mean);
    expect(Math.abs(mean)).toBeLessThan(4 / Math.sqrt(n));
    expect(Math.abs(std - 1)).toBeLessThan(0.01);
    expect(Math.abs(beyond2 / n - 0.0455)).toBeLessThan(0.003); // P(|z| > 2) = 0.0455
    expect(Math.abs(beyond3 / n - 0.0027)).toBeLessThan(0.0008); // P(|z| > 3) = 0.0027
  });

  it('permutation(n) is a permutation, and each element lands in each position about equally often', () => {
    const r = new Rng(14),
      n = 6,
      trials = 12_000,
      at = new Float64Array(n * n);
    for (let t = 0; t < trials; t++) {
      const p = r.permutation(n);
      expect([...p].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);
      for (let i = 0; i < n; i++) at[p[i] * n + i]++;
    }
    const e = trials / n;
    for (const c of at) expect(Math.abs(c - e)).toBeLessThan(5 * Math.sqrt(e));
    const arr = ['a', 'b', 'c', 'd'],
      same = r.shuffle(arr);
    expect(same).toBe(arr);
    expect([...arr].sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('the stream ids of the consumers are distinct', () => {
    const ids = Object.values(STREAM);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
