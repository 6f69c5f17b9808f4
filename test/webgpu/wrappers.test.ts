/**
 * The checked wrappers (src/kernels/gemm.ts, ops.ts) on the WebGPU device made active with
 * setDevice: the model calls kernels only through them, so they must accept GPU tensors, check
 * their sizes (ShapeError before anything is recorded) and run the device's kernels.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { rand } from '../../src/kernels/cases.js';
import { type Device, setDevice } from '../../src/kernels/device.js';
import * as k from '../../src/kernels/index.js';
import { refBackend } from '../../src/kernels/ref/index.js';
import { ShapeError } from '../../src/errors.js';
import { describeGpu } from './helpers.js';

await describeGpu('checked wrappers on the webgpu device', dev => {
  let prev: Device | null = null;
  beforeAll(() => {
    prev = setDevice(dev());
  });
  afterAll(() => {
    if (prev) setDevice(prev);
  });

  it('gemm, rmsnorm and tensor helpers run on GPU tensors through the active device', async () => {
    expect(k.device().name).toBe('webgpu');
    const M = 19,
      N = 23,
      K = 31;
    const a = rand(M * K, 1),
      b = rand(N * K, 2);
    const A = k.upload(a),
      B = k.upload(b),
      C = k.f32(M * N);
    k.gemm({ A, B, C, M, N, K, transB: true });
    const y = k.f32(M * N),
      rstd = k.f32(M);
    k.rmsnormForward(y, rstd, C, M, N, 1e-5);
    const wantC = new Float32Array(M * N),
      wantY = new Float32Array(M * N),
      wantR = new Float32Array(M);
    refBackend.gemm(false, true, M, N, K, 1, a, K, 0, b, K, 0, 0, wantC, N, 0, 1);
    refBackend.rmsnormForward(wantY, wantR, wantC, M, N, 1e-5);
    expect(await k.read(y)).toBeAllclose(wantY, { rtol: 1e-4, atol: 1e-5 });
    expect(await k.read(k.view(rstd, 3, 5))).toBeAllclose(wantR.subarray(3, 8), { rtol: 1e-4, atol: 1e-5 });
    const ids = k.upload(Int32Array.of(2, 0, 1)),
      emb = k.f32(3 * 4),
      table = k.upload(rand(3 * 4, 5));
    k.embeddingForward(emb, ids, table, 3, 4, 3, 1);
    k.copy(k.view(emb, 0, 4), k.view(emb, 8, 4), 4);
    const e = await k.read(emb);
    expect(Array.from(e.subarray(0, 4))).toEqual(Array.from(e.subarray(8, 12)));
    expect(() => k.readSync(emb)).toThrow(/readSync/);
  });

  it('size errors are ShapeErrors naming the operand, for GPU tensors too', () => {
    const C = k.f32(10);
    expect(() => k.gemm({ A: k.f32(6), B: k.f32(6), C, M: 3, N: 4, K: 2 })).toThrow(ShapeError);
    expect(() => k.gemm({ A: k.f32(6), B: k.f32(8), C, M: 3, N: 4, K: 2 })).toThrow(/C has 10 elements/);
    expect(() => k.add(k.f32(4), k.f32(4), k.i32(4) as never, 4)).toThrow(/b must be Float32Array/);
    expect(() => k.add(k.f32(3), k.f32(4), k.f32(4), 4)).toThrow(/out has 3 elements/);
  });
});
