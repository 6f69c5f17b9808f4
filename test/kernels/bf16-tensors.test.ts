/**
 * bf16 tensors (device.ts BF16T, a bf16 run's kept activations): gemmBf16 reading a bf16 A or B
 * gives bitwise the product of the fp32 operand (the bf16 packs round it to the same values); the
 * fused SwiGLU kernels storing out / gateUp as bf16 store exactly the fp32 results rounded by the
 * reference's roundBf16 (nearest even, denormals to zero); their backwards reading a bf16 gateUp give
 * bitwise the fp32 kernels' result on the widened values. On every native dispatch path this CPU runs
 * (VDPBF16PS, emulated on avx512 / avx2 / portable) and the TypeScript reference; the wrappers'
 * checks.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  addon,
  device,
  gemm,
  gemmSwiglu,
  gemmSwigluBackward,
  linearSwiglu,
  linearSwigluBackward,
  nativeBackend,
  setDevice,
  setGemmPrecision,
  useBackend,
} from '../../src/kernels/index.js';
import { alignedBf16 } from '../../src/kernels/aligned.js';
import { allocActs, resolveConfig } from '../../src/model/index.js';
import { narrowInto, widen } from '../../src/kernels/ref/bf16.js';
import { randn } from '../helpers.js';
import { pathBackends } from './ops-helpers.js';

afterAll(() => {
  if (addon) addon.setIsa(addon.info().bestIsa);
  if (nativeBackend) useBackend('native');
  setGemmPrecision('fp32');
});

const backends = pathBackends;

const bf16Of = (x: Float32Array): Uint16Array => {
  const o = new Uint16Array(x.length);
  narrowInto(o, x);
  return o;
};
const same = (a: ArrayBufferView, b: ArrayBufferView) =>
  Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength));

describe.each(backends)('bf16 tensors on $label', ({ label, setup }) => {
  const ref = label === 'ref';
  // odd K (a half pair at the end), K > 1024 (two bf16 k blocks), odd leading dimensions
  const shapes: Array<[number, number, number]> = ref
    ? [
        [5, 7, 9],
        [3, 33, 4],
      ]
    : [
        [5, 7, 9],
        [37, 45, 71],
        [30, 97, 1100],
        [14, 64, 2],
      ];
  for (const [M, N, K] of shapes)
    for (const ta of [false, true])
      for (const tb of [false, true])
        it(`gemm with bf16 A and/or B = gemm of the fp32 operands: ${ta ? 'T' : 'N'}${tb ? 'T' : 'N'} ${M}x${N}x${K}`, () => {
          setup();
          const lda = (ta ? M : K) + 1,
            ldb = (tb ? K : N) + 3,
            ldc = N + 1;
          const A = randn((ta ? K : M) * lda, M + K, 3),
            B = randn((tb ? N : K) * ldb, N + K);
          const run = (a: Float32Array | Uint16Array, b: Float32Array | Uint16Array) => {
            const C = randn(M * ldc, 5);
            gemm({
              transA: ta,
              transB: tb,
              M,
              N,
              K,
              alpha: 0.5,
              beta: 0.25,
              A: a,
              lda,
              B: b,
              ldb,
              C,
              ldc,
              precision: 'bf16',
            });
            return C;
          };
          const want = run(A, B);
          expect(same(run(bf16Of(A), B), want)).toBe(0);
          expect(same(run(A, bf16Of(B)), want)).toBe(0);
          expect(same(run(bf16Of(A), bf16Of(B)), want)).toBe(0);
        });

  it('batched: a shared fp32 A times bf16 items (the token mixer down), and bf16 items summed (its dW)', () => {
    setup();
    const S = 13,
      Is = 24,
      D = 40,
      batch = ref ? 2 : 5;
    const W = randn(S * Is, 1),
      H = randn(batch * Is * D, 2),
      dout = randn(batch * S * D, 3),
      H16 = bf16Of(H);
    const fwd = (h: Float32Array | Uint16Array) => {
      const C = new Float32Array(batch * S * D);
      gemm({ A: W, B: h, C, M: S, N: D, K: Is, batch, strideA: 0, strideB: Is * D, strideC: S * D, precision: 'bf16' });
      return C;
    };
    const dw = (h: Float32Array | Uint16Array) => {
      const C = randn(S * Is, 4);
      gemm({
        A: dout,
        B: h,
        C,
        M: S,
        N: Is,
        K: D,
        transB: true,
        batch,
        strideA: S * D,
        strideB: Is * D,
        strideC: 0,
        beta: 1,
        precision: 'bf16',
      });
      return C;
    };
    expect(same(fwd(H16), fwd(H))).toBe(0);
    expect(same(dw(H16), dw(H))).toBe(0);
  });

  it('linearSwiglu / gemmSwiglu store out and gateUp rounded to bf16 (keep and not)', () => {
    setup();
    const N = ref ? 9 : 45,
      D = ref ? 12 : 70,
      I = ref ? 10 : 67;
    const X = randn(N * D, 6),
      W = randn(2 * I * D, 7, 0.3);
    const out = new Float32Array(N * I),
      gu = new Float32Array(N * 2 * I);
    linearSwiglu(out, gu, X, W, N, D, I, true, true);
    for (const keep of [true, false]) {
      const o16 = new Uint16Array(N * I),
        g16 = new Uint16Array(N * 2 * I);
      linearSwiglu(o16, g16, X, W, N, D, I, keep, true);
      expect(same(o16, bf16Of(out))).toBe(0);
      if (keep) expect(same(g16, bf16Of(gu))).toBe(0);
    }
    // the token mixer's layout, per item
    const H = ref ? 6 : 37,
      NN = ref ? 7 : 50,
      K = ref ? 5 : 29,
      batch = 3;
    const Xb = randn(batch * K * NN, 8),
      Wt = randn(2 * H * K, 9, 0.4);
    const o = new Float32Array(batch * H * NN),
      g = new Float32Array(batch * 2 * H * NN);
    gemmSwiglu(o, g, Xb, Wt, H, NN, K, batch, true);
    const o16 = new Uint16Array(o.length),
      g16 = new Uint16Array(g.length);
    gemmSwiglu(o16, g16, Xb, Wt, H, NN, K, batch, true);
    expect(same(o16, bf16Of(o))).toBe(0);
    expect(same(g16, bf16Of(g))).toBe(0);
    const o16b = new Uint16Array(o.length);
    gemmSwiglu(o16b, null, Xb, Wt, H, NN, K, batch, true);
    expect(same(o16b, o16)).toBe(0);
  });

  it('the SwiGLU backwards read a bf16 gateUp as its widened values (fresh and accumulating)', () => {
    setup();
    const N = ref ? 8 : 41,
      D = ref ? 9 : 66,
      I = ref ? 11 : 70;
    const dout = randn(N * D, 10),
      W = randn(D * I, 11, 0.3),
      g16 = bf16Of(randn(N * 2 * I, 12, 2));
    for (const fresh of [true, false]) {
      const run = (g: Float32Array | Uint16Array) => {
        const dgu = randn(N * 2 * I, 13),
          dh = new Float32Array(N * I);
        linearSwigluBackward(dgu, dh, dout, g, W, N, D, I, true, fresh);
        return dgu;
      };
      expect(same(run(g16), run(widen(g16)))).toBe(0);
    }
    const H = ref ? 5 : 33,
      NN = ref ? 6 : 48,
      K = ref ? 7 : 27,
      batch = 3;
    const doutB = randn(batch * K * NN, 14),
      WT = randn(H * K, 15, 0.3),
      gB = bf16Of(randn(batch * 2 * H * NN, 16, 2));
    const run = (g: Float32Array | Uint16Array) => {
      const dgu = new Float32Array(batch * 2 * H * NN),
        dh = new Float32Array(batch * H * NN);
      gemmSwigluBackward(dgu, dh, doutB, g, WT, H, NN, K, batch, true, true);
      return dgu;
    };
    expect(same(run(gB), run(widen(gB)))).toBe(0);
    // a fresh bf16 dgateUp holds the fp32 gradients rounded
    const d16 = new Uint16Array(batch * 2 * H * NN);
    gemmSwigluBackward(d16, new Float32Array(batch * H * NN), doutB, gB, WT, H, NN, K, batch, true, true);
    expect(same(d16, bf16Of(run(gB)))).toBe(0);
    const g32 = widen(g16),
      want = new Float32Array(N * 2 * I),
      l16 = new Uint16Array(N * 2 * I);
    linearSwigluBackward(want, new Float32Array(N * I), dout, g32, W, N, D, I, true, true);
    linearSwigluBackward(l16, new Float32Array(N * I), dout, g16, W, N, D, I, true, true);
    expect(same(l16, bf16Of(want))).toBe(0);
  });

  // Native only: a fresh bf16 dgateUp over 8 MB (gemm.cpp kStreamBytes) whose 32-wide rows are whole
  // 64-byte lines is stored past the caches (the AVX-512 BF16 epilogue's non-temporal stores); the
  // rows of a misaligned copy take the plain stores.
  it.skipIf(ref)('a fresh bf16 dgateUp over 8 MB (streamed past the caches) holds the rounded gradients', () => {
    setup();
    const H = 513,
      NN = 544,
      K = 27,
      batch = 8;
    const doutB = randn(batch * K * NN, 20),
      WT = randn(H * K, 21, 0.3),
      gB = bf16Of(randn(batch * 2 * H * NN, 22, 2));
    const want = new Float32Array(batch * 2 * H * NN);
    gemmSwigluBackward(want, new Float32Array(batch * H * NN), doutB, gB, WT, H, NN, K, batch, true, true);
    const d16 = alignedBf16(batch * 2 * H * NN);
    expect(addon!.addressMod64(d16)).toBe(0);
    gemmSwigluBackward(d16, new Float32Array(batch * H * NN), doutB, gB, WT, H, NN, K, batch, true, true);
    expect(same(d16, bf16Of(want))).toBe(0);
    const odd = new Uint16Array(new ArrayBuffer(d16.byteLength + 2), 2, d16.length);
    gemmSwigluBackward(odd, new Float32Array(batch * H * NN), doutB, gB, WT, H, NN, K, batch, true, true);
    expect(same(odd, d16)).toBe(0);
    const N = 1401,
      D = 40,
      I = 1568;
    const dout = randn(N * D, 23),
      W = randn(D * I, 24, 0.3),
      g16 = bf16Of(randn(N * 2 * I, 25, 2));
    const lwant = new Float32Array(N * 2 * I),
      l16 = alignedBf16(N * 2 * I);
    expect(addon!.addressMod64(l16)).toBe(0);
    linearSwigluBackward(lwant, new Float32Array(N * I), dout, g16, W, N, D, I, true, true);
    linearSwigluBackward(l16, new Float32Array(N * I), dout, g16, W, N, D, I, true, true);
    expect(same(l16, bf16Of(lwant))).toBe(0);
  });
});

describe('bf16 tensor checks', () => {
  it('refuse a bf16 operand in an fp32 product, mixed kept types, and bf16 storage without bf16', () => {
    if (nativeBackend) useBackend('native');
    expect(device().bf16).toBeDefined();
    const A = new Uint16Array(6),
      B = new Float32Array(6),
      C = new Float32Array(4);
    expect(() => gemm({ M: 2, N: 2, K: 3, A, B, C })).toThrow(/bf16 operand \(A\) needs precision bf16/);
    expect(() => gemm({ M: 2, N: 2, K: 3, A: new Uint16Array(5), B, C, precision: 'bf16' })).toThrow(
      /A has 5 elements/,
    );
    const X = new Float32Array(4 * 3),
      W = new Float32Array(2 * 2 * 3);
    expect(() => linearSwiglu(new Uint16Array(8), new Float32Array(16), X, W, 4, 3, 2, true, true)).toThrow(
      /must all be Float32Array or all bf16/,
    );
    expect(() => linearSwiglu(new Uint16Array(8), new Uint16Array(16), X, W, 4, 3, 2, true, false)).toThrow(
      /need bf16 = true/,
    );
    expect(() => linearSwiglu(new Uint16Array(7), new Uint16Array(16), X, W, 4, 3, 2, true, true)).toThrow(
      /out has 7 elements/,
    );
    const dout = new Float32Array(4 * 3),
      Wd = new Float32Array(3 * 2);
    expect(() =>
      linearSwigluBackward(
        new Uint16Array(16),
        new Float32Array(8),
        dout,
        new Uint16Array(16),
        Wd,
        4,
        3,
        2,
        true,
        false,
      ),
    ).toThrow(/dgateUp needs bf16 = true and fresh = true/);
    // a device without bf16 tensors (webgpu) refuses them, and a bf16 step's activations stay fp32 there
    const c = resolveConfig({
      hidden_size: 16,
      seq_len: 4,
      vocab_size: 4,
      puzzle_emb_ndim: 16,
      mlp_t: true,
      pos_encodings: 'none',
    });
    const base = device();
    setDevice({ ...base, bf16: undefined });
    try {
      expect(() => gemm({ M: 2, N: 2, K: 3, A, B, C, precision: 'bf16' })).toThrow(/keeps no bf16 tensors/);
      expect(allocActs(c, 2, 'bf16').calls[0].blocks[0].mlp.h).toBeInstanceOf(Float32Array);
    } finally {
      setDevice(base);
    }
    expect(allocActs(c, 2, 'bf16').calls[0].blocks[0].mlp.h).toBeInstanceOf(Uint16Array);
    expect(allocActs(c, 2).calls[0].blocks[0].mlp.h).toBeInstanceOf(Float32Array);
  });
});
