/**
 * The fused half-block kernels (native/ops/fused.cpp) against the op-by-op sequence they replace
 * (src/kernels/compose.ts) on the native backend: bit for bit, on 1 and 2 threads, at the sizes of
 * the small CPU presets and at odd ones (partial row chunks, partial GEMM tiles). A forward that
 * keeps nothing (keep = false) gives the same outputs and leaves gateUp and h alone; for short
 * sequences (S <= 24, native/ops/fused.h token_mixer_recomputes_gate_up) the token mixer keeps no gateUp
 * either, and its backward recomputes it from the input.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  mlpNormBackwardVia,
  mlpNormVia,
  type Parts,
  tokenMixerNormBackwardVia,
  tokenMixerNormVia,
} from '../../src/kernels/compose.js';
import { rand } from '../../src/kernels/cases.js';
import { alignedF32, nativeBackend, setThreads, backendInfo } from '../../src/kernels/index.js';

const threads0 = backendInfo().threads;
afterAll(() => setThreads(threads0));

const same = (a: Float32Array, b: Float32Array) =>
  Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe.skipIf(!nativeBackend)('fused half-blocks = the op-by-op sequence, bit for bit', () => {
  const k = nativeBackend!;
  const parts = k as unknown as Parts<Float32Array>;
  type MixerSizes = { B: number; S: number; D: number; Is: number };
  // The token mixer's forward, fused or op by op, into fresh outputs [out, rstd, gateUp, h, r] made by
  // `alloc` (gateUp NaN-filled, h too when nothing is kept, so what is not written shows)
  const runMixer = (
    { B, S, D, Is }: MixerSizes,
    [inp, wgu, wd]: Float32Array[],
    fused: boolean,
    keep = true,
    alloc: (n: number) => Float32Array = n => new Float32Array(n),
  ) => {
    const o = [B * S * D, B * D, B * 2 * Is * D, B * Is * D, B * S * D].map(alloc);
    o[2].fill(Number.NaN);
    if (!keep) o[3].fill(Number.NaN);
    if (fused) k.tokenMixerNormForward(o[0], o[1], o[2], o[3], o[4], inp, wgu, wd, B, S, D, Is, 1e-5, keep);
    else tokenMixerNormVia(parts, o[0], o[1], o[2], o[3], o[4], inp, wgu, wd, B, S, D, Is, 1e-5, true);
    return o;
  };
  it.each([
    { B: 32, S: 17, D: 64, Is: 256 }, // cpu-sudoku4
    { B: 3, S: 82, D: 64, Is: 256 }, // cpu-sudoku9's S
    { B: 7, S: 13, D: 37, Is: 24 },
    { B: 5, S: 9, D: 96, Is: 37 }, // h written as the down product's B panels: three (AVX-512) or six (AVX2), odd slices
    { B: 2, S: 5, D: 32, Is: 520 }, // Is past one k block: the gemm path
  ])('tokenMixerNormForward B=$B S=$S D=$D Is=$Is', sizes => {
    const { B, S, D, Is } = sizes;
    const ops = [rand(B * S * D, 1, 2), rand(2 * Is * S, 2, 0.3), rand(S * Is, 3, 0.2)];
    const run = (fused: boolean, keep = true) => runMixer(sizes, ops, fused, keep);
    for (const t of [1, 2]) {
      setThreads(t);
      const want = run(false),
        got = run(true),
        unkept = run(true, false);
      for (const i of [0, 1, 3]) expect(same(got[i], want[i]), `threads ${t}, output ${i}`).toBe(0);
      // gateUp: kept for long sequences, never written (its NaN fill stays) where the backward recomputes it
      if (S <= 24) expect(got[2].every(Number.isNaN)).toBe(true);
      else expect(same(got[2], want[2]), `threads ${t}, output 2`).toBe(0);
      // keep = false: the same out and rstd, gateUp and h not written
      for (let i = 0; i < 2; i++) expect(same(unkept[i], want[i]), `threads ${t}, unkept output ${i}`).toBe(0);
      expect(unkept[2].every(Number.isNaN) && unkept[3].every(Number.isNaN)).toBe(true);
    }
  });
  // A kept gateUp and h 32-byte aligned with D a multiple of 64 are streamed past the caches on AVX2
  // (swiglu_panels_kept); offset by one float they are stored plainly. Both: the op-by-op bits.
  it.each([
    { shift: 0, D: 64 },
    { shift: 1, D: 64 },
    { shift: 0, D: 128 },
  ])('tokenMixerNormForward kept tensors at a $shift-float offset, D=$D', ({ shift, D }) => {
    const sizes = { B: 3, S: 30, D, Is: 40 };
    const { B, S, Is } = sizes;
    const ops = [rand(B * S * D, 7, 2), rand(2 * Is * S, 8, 0.3), rand(S * Is, 9, 0.2)];
    const at = (n: number) => alignedF32(n + 16).subarray(shift, shift + n);
    const run = (fused: boolean) => runMixer(sizes, ops, fused, true, at);
    for (const t of [1, 2]) {
      setThreads(t);
      const want = run(false),
        got = run(true);
      for (const i of [0, 1, 2, 3, 4]) expect(same(got[i], want[i]), `threads ${t}, output ${i}`).toBe(0);
    }
  });
  it.each([
    { N: 544, D: 64, I: 256 }, // cpu-sudoku4
    { N: 2624, D: 64, I: 256 }, // cpu-sudoku9: 44 pieces of 9-10 six-row strips on AVX2 (47 of 56 rows on AVX-512), in runs and steals (RowPieces)
    { N: 150, D: 37, I: 48 },
    { N: 5, D: 512, I: 1536 }, // a k-blocked down GEMM (K > 512)
    { N: 100, D: 16, I: 12000 }, // a chunk of fewer rows than one tile strip: pieces of one strip (RowPieces)
    { N: 97, D: 24, I: 2000 }, // 32 rows a chunk: one-strip pieces in runs of up to five
  ])('mlpNormForward N=$N D=$D I=$I', ({ N, D, I }) => {
    const inp = rand(N * D, 4, 2),
      wgu = rand(2 * I * D, 5, 0.2),
      wd = rand(D * I, 6, 0.1);
    const run = (fused: boolean, keep = true) => {
      const o = [N * D, N, N * 2 * I, N * I, N * D].map(n => new Float32Array(n));
      if (!keep) o[2].fill(Number.NaN), o[3].fill(Number.NaN);
      if (fused) k.mlpNormForward(o[0], o[1], o[2], o[3], o[4], inp, wgu, wd, N, D, I, 1e-5, keep);
      else mlpNormVia(parts, o[0], o[1], o[2], o[3], o[4], inp, wgu, wd, N, D, I, 1e-5, true);
      return o;
    };
    for (const t of [1, 2, 3, 5]) {
      // (3 and 5: more parts than home shares split evenly)
      setThreads(t);
      const want = run(false),
        got = run(true),
        unkept = run(true, false);
      for (let i = 0; i < 4; i++) expect(same(got[i], want[i]), `threads ${t}, output ${i}`).toBe(0);
      // keep = false: the same out and rstd; gateUp and h not written (their NaN fill stays)
      for (let i = 0; i < 2; i++) expect(same(unkept[i], want[i]), `threads ${t}, unkept output ${i}`).toBe(0);
      expect(unkept[2].every(Number.isNaN) && unkept[3].every(Number.isNaN)).toBe(true);
    }
  });
});

// (fresh: dinp written, not accumulated into, bitwise as if it had been zero-filled first)
describe.skipIf(!nativeBackend)('fused half-block backwards = the op-by-op sequence, bit for bit', () => {
  const k = nativeBackend!;
  const parts = k as unknown as Parts<Float32Array>;
  it.each([
    { N: 544, D: 64, I: 256 },
    { N: 2624, D: 64, I: 256 },
    { N: 150, D: 37, I: 48 },
    { N: 100, D: 16, I: 12000 },
    { N: 97, D: 24, I: 2000 },
  ])('mlpNormBackward N=$N D=$D I=$I', ({ N, D, I }) => {
    const out = rand(N * D, 7),
      rstd = rand(N, 8).map(v => 1 + Math.abs(v)),
      dout = rand(N * D, 9),
      gu = rand(N * 2 * I, 10, 3),
      wgu = rand(2 * I * D, 11, 0.2),
      wd = rand(D * I, 12, 0.1),
      dinp0 = rand(N * D, 13);
    // dinp0 accumulated into; with fresh, a NaN-filled dinp written as a zero-filled one accumulates
    const run = (fused: boolean, fresh = false, start = dinp0) => {
      const o = [fresh ? new Float32Array(N * D).fill(Number.NaN) : start.slice(), new Float32Array(N * D)];
      o.push(new Float32Array(N * I), new Float32Array(N * 2 * I));
      const args = [o[0], o[1], o[2], o[3], dout, out, rstd, gu, wgu, wd, N, D, I, fresh] as const;
      if (fused) k.mlpNormBackward(...args);
      else mlpNormBackwardVia(parts, ...args);
      return o;
    };
    for (const t of [1, 2, 3, 5]) {
      setThreads(t);
      const want = run(false),
        got = run(true);
      for (const i of [0, 1, 3]) expect(same(got[i], want[i]), `threads ${t}, output ${i}`).toBe(0); // dh: scratch
      const zero = run(false, false, new Float32Array(N * D));
      for (const fused of [true, false])
        for (const i of [0, 1, 3])
          expect(same(run(fused, true)[i], zero[i]), `fresh, fused ${fused}, threads ${t}, output ${i}`).toBe(0);
    }
  });
  it.each([
    { B: 32, S: 17, D: 64, Is: 256 }, // gateUp recomputed
    { B: 7, S: 13, D: 37, Is: 24 },
    { B: 3, S: 82, D: 64, Is: 256 }, // gateUp read: cpu-sudoku9's S
  ])('tokenMixerNormBackward B=$B S=$S D=$D Is=$Is', ({ B, S, D, Is }) => {
    const n = B * S * D,
      out = rand(n, 14),
      rstd = rand(B * D, 15).map(v => 1 + Math.abs(v)),
      dout = rand(n, 16),
      inp = rand(n, 17, 2),
      wgu = rand(2 * Is * S, 18, 0.3),
      wguT = new Float32Array(S * 2 * Is),
      wdT = rand(Is * S, 19, 0.2),
      dinp0 = rand(n, 20);
    k.transpose(wguT, wgu, 2 * Is, S);
    // the forward's gateUp (its first product): what the fused backward reads, or recomputes bit for bit
    const gu = new Float32Array(B * 2 * Is * D);
    k.gemm(false, false, 2 * Is, D, S, 1, wgu, S, 0, inp, D, S * D, 0, gu, D, 2 * Is * D, B);
    const run = (fused: boolean, fresh = false, start = dinp0) => {
      const o = [fresh ? new Float32Array(n).fill(Number.NaN) : start.slice(), new Float32Array(n)];
      o.push(new Float32Array(B * Is * D), new Float32Array(B * 2 * Is * D));
      const args = [o[0], o[1], o[2], o[3], dout, out, rstd, gu, inp, wgu, wguT, wdT, B, S, D, Is, fresh] as const;
      if (fused) k.tokenMixerNormBackward(...args);
      else tokenMixerNormBackwardVia(parts, ...args);
      return o;
    };
    for (const t of [1, 2]) {
      setThreads(t);
      const want = run(false),
        got = run(true);
      for (const i of [0, 1, 3]) expect(same(got[i], want[i]), `threads ${t}, output ${i}`).toBe(0); // dh: scratch
      const zero = run(false, false, new Float32Array(n));
      for (const fused of [true, false])
        for (const i of [0, 1, 3])
          expect(same(run(fused, true)[i], zero[i]), `fresh, fused ${fused}, threads ${t}, output ${i}`).toBe(0);
    }
  });
});

describe.skipIf(!nativeBackend)('frozen weights: packs kept between calls follow the weights', () => {
  const k = nativeBackend!;
  const addon = k as unknown as { setWeightsFrozen(on: boolean): void };
  afterAll(() => addon.setWeightsFrozen(false));
  // two layers' weights (distinct addresses) through the four fused kernels; each call's outputs
  const N = 2 * 82,
    D = 64,
    I = 256,
    B = 2,
    S = 82,
    Is = 256;
  const layer = (seed: number) => ({
    mgu: rand(2 * I * D, seed, 0.2),
    md: rand(D * I, seed + 1, 0.1),
    tgu: rand(2 * Is * S, seed + 2, 0.3),
    td: rand(S * Is, seed + 3, 0.2),
    tguT: new Float32Array(S * 2 * Is),
    tdT: new Float32Array(Is * S),
  });
  const inp = rand(N * D, 40, 2),
    dout = rand(N * D, 41);
  const calls = (w: ReturnType<typeof layer>): Float32Array[] => {
    k.transpose(w.tguT, w.tgu, 2 * Is, S);
    k.transpose(w.tdT, w.td, S, Is);
    const o = [N * D, N, N * 2 * I, N * I, N * D].map(n => new Float32Array(n));
    k.mlpNormForward(o[0], o[1], o[2], o[3], o[4], inp, w.mgu, w.md, N, D, I, 1e-5, true);
    const t = [N * D, B * D, B * 2 * Is * D, B * Is * D, N * D].map(n => new Float32Array(n));
    k.tokenMixerNormForward(t[0], t[1], t[2], t[3], t[4], inp, w.tgu, w.td, B, S, D, Is, 1e-5, true);
    const mb = [N * D, N * D, N * I, N * 2 * I].map(n => new Float32Array(n));
    k.mlpNormBackward(mb[0], mb[1], mb[2], mb[3], dout, o[0], o[1], o[2], w.mgu, w.md, N, D, I, true);
    const tb = [N * D, N * D, B * Is * D, B * 2 * Is * D].map(n => new Float32Array(n));
    k.tokenMixerNormBackward(
      tb[0],
      tb[1],
      tb[2],
      tb[3],
      dout,
      t[0],
      t[1],
      t[2],
      inp,
      w.tgu,
      w.tguT,
      w.tdT,
      B,
      S,
      D,
      Is,
      true,
    );
    return [o[0], o[2], t[0], t[2], mb[0], mb[3], tb[0], tb[3]];
  };
  it.each([1, 2])('threads %i: the same outputs frozen as not, within an epoch and after the weights change', t => {
    setThreads(t);
    const w0 = layer(50),
      w1 = layer(60);
    const want0 = calls(w0),
      want1 = calls(w1);
    addon.setWeightsFrozen(true);
    for (let rep = 0; rep < 2; rep++) {
      // both layers twice in one epoch: each call's packs are its own layer's
      const got0 = calls(w0),
        got1 = calls(w1);
      for (let i = 0; i < want0.length; i++) {
        expect(same(got0[i], want0[i]), `layer 0, output ${i}`).toBe(0);
        expect(same(got1[i], want1[i]), `layer 1, output ${i}`).toBe(0);
      }
    }
    addon.setWeightsFrozen(false);
    // an optimizer step between two frozen spans: the same addresses, new values
    for (const a of [w0.mgu, w0.md, w0.tgu, w0.td]) for (let i = 0; i < a.length; i++) a[i] *= 0.9;
    const want = calls(w0);
    addon.setWeightsFrozen(true);
    const got = calls(w0);
    addon.setWeightsFrozen(false);
    for (let i = 0; i < want.length; i++) expect(same(got[i], want[i]), `after the change, output ${i}`).toBe(0);
  });
});
