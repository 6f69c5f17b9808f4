/**
 * The WGSL GEMM against the reference on odd M/N/K: the four transpose cases, padded leading
 * dimensions, batch strides (shared A, shared B, strideC = 0 summing into one C), alpha/beta
 * (beta = 0 never reads C, even NaN), operands at odd element offsets inside one buffer, both
 * register blocks (64x64 and 128x128 tiles) and the barrier-free kernel, K = 0, and a tile-spanning
 * product.
 */
import { expect, it } from 'vitest';
import { rand } from '../../src/kernels/cases.js';
import { gemm as refGemm } from '../../src/kernels/ref/gemm.js';
import { DEFAULT_TILE } from '../../src/webgpu/gemm.js';
import { describeGpu } from './helpers.js';

interface G {
  ta: boolean;
  tb: boolean;
  M: number;
  N: number;
  K: number;
  alpha: number;
  beta: number;
  batch: number;
  sA?: number;
  sB?: number;
  sC?: number;
  pad?: number;
  split?: boolean;
}

function operands(g: G) {
  const pad = g.pad ?? 0;
  const lda = (g.ta ? g.M : g.K) + pad,
    ldb = (g.tb ? g.K : g.N) + pad,
    ldc = g.N + pad;
  const rowsA = g.ta ? g.K : g.M,
    rowsB = g.tb ? g.N : g.K;
  const sA = g.sA ?? rowsA * lda,
    sB = g.sB ?? rowsB * ldb,
    sC = g.sC ?? g.M * ldc;
  const nA = (g.batch - 1) * sA + rowsA * lda,
    nB = (g.batch - 1) * sB + rowsB * ldb,
    nC = (g.batch - 1) * sC + g.M * ldc;
  return { lda, ldb, ldc, sA, sB, sC, nA, nB, nC };
}

await describeGpu('webgpu gemm', dev => {
  const cases: G[] = [];
  for (const ta of [false, true])
    for (const tb of [false, true]) {
      cases.push({ ta, tb, M: 37, N: 45, K: 71, alpha: 1, beta: 0, batch: 1 });
      cases.push({ ta, tb, M: 67, N: 129, K: 33, alpha: 0.5, beta: 0.25, batch: 1, pad: 3 });
      cases.push({ ta, tb, M: 13, N: 29, K: 17, alpha: -1.5, beta: 1, batch: 3 });
      cases.push({ ta, tb, M: 23, N: 19, K: 41, alpha: 1, beta: 0, batch: 4, sA: 0 });
      cases.push({ ta, tb, M: 23, N: 19, K: 41, alpha: 1, beta: 0.5, batch: 4, sB: 0 });
      cases.push({ ta, tb, M: 31, N: 7, K: 97, alpha: 2, beta: 1, batch: 5, sC: 0 });
    }
  // a long item sum over few tiles: on the tiled kernels the items go in groups (3 per group, the
  // last one short) into partial products that one pass adds up (device.ts gemmAny)
  cases.push({ ta: false, tb: true, M: 130, N: 130, K: 9, alpha: 0.75, beta: 0.5, batch: 61, sC: 0 });
  // a single product with a long k over few tiles: on the tiled kernels the k axis goes in slices
  // into partial products (a shorter last slice on its own, or none when the slices divide K) that
  // the same pass adds up (device.ts gemmAny's split-K)
  for (const ta of [false, true])
    for (const tb of [false, true]) {
      cases.push({ ta, tb, M: 37, N: 45, K: 600, alpha: 1, beta: 0, batch: 1, split: true });
      cases.push({ ta, tb, M: 21, N: 70, K: 1100, alpha: -0.5, beta: 0.75, batch: 1, pad: 2, split: true });
    }
  cases.push({ ta: true, tb: false, M: 19, N: 33, K: 512, alpha: 1, beta: 1, batch: 1, split: true });
  // Every case on the 64x64 tiled kernel and on the barrier-free one (the CPU adapters'
  // default); the 128x128 block (same code as 64x64, other constants) on the padded and the
  // summing cases of each transpose pair.
  // The barrier-free kernel's 8x8 block (its default) on every case, its 4x4 block on the padded
  // and the summing cases.
  // The tiled kernels' 32-deep workgroup-memory slices (gemm.ts TileOptions) on the padded,
  // summing and split cases of both blocks.
  const variants = [
    [4, DEFAULT_TILE],
    [8, DEFAULT_TILE],
    ['direct', DEFAULT_TILE],
    ['direct4', DEFAULT_TILE],
    [4, { bk: 32 }],
    [8, { bk: 32 }],
  ] as const;
  for (const [block, tile] of variants) {
    const few = block === 8 || block === 'direct4' || tile !== DEFAULT_TILE;
    for (const g of cases.filter(c => !few || c.pad || c.sC === 0 || c.split)) {
      const staging = tile === DEFAULT_TILE ? '' : ` bk ${tile.bk}`;
      const name = `${g.ta ? 'T' : 'N'}${g.tb ? 'T' : 'N'} ${g.M}x${g.N}x${g.K} batch ${g.batch} sA ${g.sA ?? '-'} sB ${g.sB ?? '-'} sC ${g.sC ?? '-'} alpha ${g.alpha} beta ${g.beta} pad ${g.pad ?? 0} ${typeof block === 'string' ? block : `block ${block}`}${staging}`;
      it(name, async () => {
        const d = dev();
        const direct = d.gemmDirect;
        const isDirect = typeof block === 'string';
        d.gemmTile = tile;
        d.splitKWorkgroups = g.split ? 512 : 0; // off by default (device.ts)
        d.gemmBlockOverride = isDirect ? undefined : block;
        d.gemmDirect = isDirect;
        d.gemmDirectBlock = block === 'direct4' ? 4 : 8;
        const o = operands(g);
        const A = rand(o.nA, 1),
          B = rand(o.nB, 2),
          C0 = rand(o.nC, 3);
        const want = C0.slice();
        refGemm(g.ta, g.tb, g.M, g.N, g.K, g.alpha, A, o.lda, o.sA, B, o.ldb, o.sB, g.beta, want, o.ldc, o.sC, g.batch);
        // A, B and C as views at odd offsets of one buffer.
        const at = [5, 5 + o.nA + 3, 5 + o.nA + 3 + o.nB + 7];
        const all = d.f32(at[2] + o.nC + 1);
        const vA = d.view(all, at[0], o.nA),
          vB = d.view(all, at[1], o.nB),
          vC = d.view(all, at[2], o.nC);
        d.write(vA, A);
        d.write(vB, B);
        d.write(vC, C0);
        d.gemm(g.ta, g.tb, g.M, g.N, g.K, g.alpha, vA, o.lda, o.sA, vB, o.ldb, o.sB, g.beta, vC, o.ldc, o.sC, g.batch);
        const got = await d.read(vC);
        d.gemmBlockOverride = undefined;
        d.gemmDirect = direct;
        d.gemmDirectBlock = 8;
        d.gemmTile = DEFAULT_TILE;
        d.splitKWorkgroups = 0;
        expect(got).toBeAllclose(want, { rtol: 1e-4, atol: 1e-4 });
        // nothing around the operands was touched
        const whole = await d.read(all);
        expect(Array.from(whole.subarray(0, 5))).toEqual([0, 0, 0, 0, 0]);
        expect(whole[at[2] + o.nC]).toBe(0);
        d.release(all);
      });
    }
  }

  it('beta = 0 never reads C (NaN in C is overwritten)', async () => {
    const d = dev();
    const A = d.f32(6 * 5),
      B = d.f32(5 * 7),
      C = d.f32(6 * 7);
    d.write(A, rand(30, 1));
    d.write(B, rand(35, 2));
    d.write(C, new Float32Array(42).fill(NaN));
    d.gemm(false, false, 6, 7, 5, 1, A, 5, 0, B, 7, 0, 0, C, 7, 0, 1);
    const want = new Float32Array(42);
    refGemm(false, false, 6, 7, 5, 1, rand(30, 1), 5, 0, rand(35, 2), 7, 0, 0, want, 7, 0, 1);
    expect(await d.read(C)).toBeAllclose(want, { rtol: 1e-5, atol: 1e-6 });
  });

  it('K = 0 gives beta * C', async () => {
    const d = dev();
    const C = d.f32(12);
    d.write(C, rand(12, 4));
    d.gemm(false, true, 3, 4, 0, 1, d.f32(0), 0, 0, d.f32(0), 0, 0, 0.5, C, 4, 0, 1);
    expect(await d.read(C)).toBeAllclose(
      rand(12, 4).map(v => 0.5 * v),
      { rtol: 1e-6, atol: 0 },
    );
  });

  it('a TRM-long K (3072) stays within fp32 accumulation error', async () => {
    const d = dev();
    const M = 5,
      N = 7,
      K = 3072;
    const A = rand(M * K, 11),
      B = rand(N * K, 12),
      want = new Float32Array(M * N);
    refGemm(false, true, M, N, K, 1, A, K, 0, B, K, 0, 0, want, N, 0, 1);
    const tA = d.f32(M * K),
      tB = d.f32(N * K),
      tC = d.f32(M * N);
    d.write(tA, A);
    d.write(tB, B);
    d.gemm(false, true, M, N, K, 1, tA, K, 0, tB, K, 0, 0, tC, N, 0, 1);
    // |error| <~ sqrt(K) ulp of sum |a b| (~K/3 = 1000): 1e-4 absolute is ~30x that
    expect(await d.read(tC)).toBeAllclose(want, { rtol: 1e-5, atol: 1e-4 });
  });

  it('a product spanning many 128x128 tiles (TRM-like, K not a multiple of 16)', async () => {
    const d = dev();
    const M = 291,
      N = 260,
      K = 97;
    const A = rand(M * K, 7),
      B = rand(N * K, 8),
      want = new Float32Array(M * N);
    refGemm(false, true, M, N, K, 1, A, K, 0, B, K, 0, 0, want, N, 0, 1);
    const tA = d.f32(M * K),
      tB = d.f32(N * K),
      tC = d.f32(M * N);
    d.write(tA, A);
    d.write(tB, B);
    d.gemmBlockOverride = 8;
    d.gemm(false, true, M, N, K, 1, tA, K, 0, tB, K, 0, 0, tC, N, 0, 1);
    d.gemmBlockOverride = undefined;
    expect(await d.read(tC)).toBeAllclose(want, { rtol: 1e-4, atol: 1e-4 });
  });
});
