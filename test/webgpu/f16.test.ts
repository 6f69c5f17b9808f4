/**
 * precision=f16 on the WebGPU device: every GEMM reads f16 copies of A and B (packed two per u32
 * word with the core pack2x16float, so any adapter runs it) and accumulates in fp32. The products
 * equal the reference GEMM on f16-rounded operands (and differ from the fp32 product by f16
 * rounding), on both GEMM kernels; so does gemmBf16 with bf16-rounded operands; training with f16
 * follows the fp32 run closely; the CPU backends refuse precision=f16 with one line.
 */
import { expect, it } from 'vitest';
import { rand } from '../../src/kernels/cases.js';
import { type Device, setDevice } from '../../src/kernels/core.js';
import { nativeDevice, refDevice } from '../../src/kernels/index.js';
import { gemm as refGemm } from '../../src/kernels/ref/gemm.js';
import { resolveTrainConfig } from '../../src/train/config.js';
import { createWorkspace, trainStep, usePrecision } from '../../src/train/loop.js';
import { createTrainState } from '../../src/train/state.js';
import { makeSudoku4 } from '../train/fixture.js';
import { describeGpu, smallSudoku4 } from './helpers.js';

const cpu: Device = nativeDevice ?? refDevice;

/** x rounded to the nearest binary16 (ties to even), clamped to its finite range as packF16 does. */
function roundF16(x: number): number {
  const a = Math.min(Math.abs(x), 65504);
  if (a === 0 || Number.isNaN(a)) return x;
  let e = Math.max(Math.floor(Math.log2(a)), -14);
  if (e > -14 && 2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  const ulp = 2 ** (Math.max(e, -14) - 10);
  const q = a / ulp;
  let r = Math.floor(q);
  const frac = q - r;
  if (frac > 0.5 || (frac === 0.5 && r % 2 === 1)) r++;
  return Math.sign(x) * Math.min(r * ulp, 65504);
}

/** x rounded to bfloat16 as gemmBf16 loads it: nearest even, denormals to signed zero. */
function roundBf16(x: number): number {
  const u = new Uint32Array(new Float32Array([x]).buffer);
  const e = u[0] & 0x7f800000;
  if (e === 0) u[0] &= 0x80000000;
  else if (e !== 0x7f800000) u[0] = ((u[0] + 0x7fff + ((u[0] >>> 16) & 1)) & 0xffff0000) >>> 0;
  return new Float32Array(u.buffer)[0];
}

it('roundF16 rounds to binary16', () => {
  expect(roundF16(1)).toBe(1);
  expect(roundF16(1 + 2 ** -11)).toBe(1); // a tie goes to even
  expect(roundF16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9);
  expect(roundF16(0.1)).toBeCloseTo(0.0999755859375, 12);
  expect(roundF16(-70000)).toBe(-65504);
  expect(roundF16(2 ** -25 * 3)).toBe(2 ** -24 * 2); // subnormal
});

await describeGpu('webgpu precision=f16', dev => {
  const shapes = [
    { ta: false, tb: false, M: 37, N: 45, K: 71, batch: 1, sA: -1, sB: -1, sC: -1, beta: 0 },
    { ta: true, tb: true, M: 13, N: 29, K: 17, batch: 3, sA: -1, sB: -1, sC: -1, beta: 1 },
    { ta: false, tb: true, M: 23, N: 19, K: 41, batch: 4, sA: 0, sB: -1, sC: -1, beta: 0.5 },
    { ta: true, tb: false, M: 31, N: 7, K: 97, batch: 5, sA: -1, sB: -1, sC: 0, beta: 1 },
  ];
  for (const kernel of ['direct', 'tiled'] as const)
    for (const [k, g] of shapes.entries())
      for (const ops of k < 2 ? (['f16', 'bf16'] as const) : (['f16'] as const)) {
        it(`${kernel} gemm${ops === 'bf16' ? 'Bf16' : ` precision=${ops}`} ${g.ta ? 'T' : 'N'}${g.tb ? 'T' : 'N'} ${g.M}x${g.N}x${g.K} batch ${g.batch}: the product of the ${ops}-rounded operands`, async () => {
          const d = dev();
          const lda = g.ta ? g.M : g.K,
            ldb = g.tb ? g.K : g.N,
            ldc = g.N;
          const sA = g.sA >= 0 ? g.sA : (g.ta ? g.K : g.M) * lda,
            sB = g.sB >= 0 ? g.sB : (g.tb ? g.N : g.K) * ldb,
            sC = g.sC >= 0 ? g.sC : g.M * ldc;
          const nA = (g.batch - 1) * sA + (g.ta ? g.K : g.M) * lda,
            nB = (g.batch - 1) * sB + (g.tb ? g.N : g.K) * ldb,
            nC = (g.batch - 1) * sC + g.M * ldc;
          const A = rand(nA, 11),
            B = rand(nB, 12),
            C0 = rand(nC, 13);
          const want16 = C0.slice(),
            want32 = C0.slice();
          const round = ops === 'f16' ? roundF16 : roundBf16;
          refGemm(
            g.ta,
            g.tb,
            g.M,
            g.N,
            g.K,
            1,
            A.map(round),
            lda,
            sA,
            B.map(round),
            ldb,
            sB,
            g.beta,
            want16,
            ldc,
            sC,
            g.batch,
          );
          refGemm(g.ta, g.tb, g.M, g.N, g.K, 1, A, lda, sA, B, ldb, sB, g.beta, want32, ldc, sC, g.batch);
          // operands at odd offsets of one buffer (the packed copies start wherever the view does)
          const all = d.f32(3 + nA + nB + nC);
          const vA = d.view(all, 3, nA),
            vB = d.view(all, 3 + nA, nB),
            vC = d.view(all, 3 + nA + nB, nC);
          d.write(vA, A);
          d.write(vB, B);
          d.write(vC, C0);
          const direct = d.gemmDirect;
          d.gemmDirect = kernel === 'direct';
          if (ops === 'f16') d.setPrecision('f16');
          try {
            (ops === 'f16' ? d.gemm : d.gemmBf16).call(
              d,
              g.ta,
              g.tb,
              g.M,
              g.N,
              g.K,
              1,
              vA,
              lda,
              sA,
              vB,
              ldb,
              sB,
              g.beta,
              vC,
              ldc,
              sC,
              g.batch,
            );
          } finally {
            d.setPrecision('fp32');
            d.gemmDirect = direct;
          }
          const got = await d.read(vC);
          expect(got).toBeAllclose(want16, { rtol: 1e-5, atol: 1e-5 });
          let off = 0;
          for (let i = 0; i < nC; i++) off = Math.max(off, Math.abs(got[i] - want32[i]));
          expect(off).toBeGreaterThan(1e-5); // really rounded operands, not fp32 ones
          expect(off).toBeLessThan(ops === 'f16' ? 0.05 : 0.5);
          expect(Array.from(await d.read(vA))).toEqual(Array.from(A)); // the fp32 operands are untouched
          d.release(all);
        });
      }

  it('training with f16 GEMM operands follows the fp32 run (losses within 2%)', async () => {
    const data = await makeSudoku4(60, 16, 2);
    const run = async (precision: 'fp32' | 'f16') => {
      setDevice(dev());
      try {
        const cfg = smallSudoku4({ steps: 12, precision });
        const st = createTrainState(cfg, data.train.meta),
          ws = createWorkspace(st, data.train);
        const losses: number[] = [];
        for (let i = 0; i < cfg.steps; i++) losses.push((await trainStep(st, ws)).loss);
        return losses;
      } finally {
        usePrecision('fp32');
        setDevice(cpu);
      }
    };
    const l32 = await run('fp32'),
      l16 = await run('f16');
    console.log(
      `losses fp32 ${l32.map(v => v.toFixed(3)).join(' ')}\nlosses f16  ${l16.map(v => v.toFixed(3)).join(' ')}`,
    );
    expect(l16).not.toEqual(l32);
    expect(l16).toBeAllclose(l32, { rtol: 0.02, atol: 0.01 });
    expect(l16[l16.length - 1]).toBeLessThan(0.8 * l16[0]);
  }, 1_200_000);
});

it('precision=f16 on a CPU backend is a one-line error; unknown precisions are rejected', () => {
  setDevice(cpu);
  expect(() => usePrecision('f16')).toThrow(
    /precision=f16: .*needs --backend webgpu; the (native|ref) backend computes in fp32/,
  );
  expect(() => usePrecision('fp32')).not.toThrow();
  expect(() => resolveTrainConfig('cpu-sudoku4', { precision: 'f8' as never })).toThrow(
    /precision must be one of fp32, bf16, f16, got "f8"/,
  );
});
