/**
 * The WebGPU Device's tensor handling: write/read round trips of every dtype (u8 stored wide),
 * views at odd element offsets and views of views, writes at offsets, kernels on views sharing a
 * buffer (in place and aliased), recording across many submit batches, deferred index errors,
 * release, and the one-line errors for host arrays, released tensors and readSync.
 */
import { expect, it } from 'vitest';
import { rand } from '../../src/kernels/cases.js';
import { sizeOf } from '../../src/kernels/core.js';
import { TrmError } from '../../src/errors.js';
import { refBackend } from '../../src/kernels/ref/index.js';
import { createNodeWebGpuDevice, nodeAdapterInfo } from '../../src/webgpu/node.js';
import { fmaPeak } from '../../src/webgpu/peak.js';
import { describeGpu } from './helpers.js';

await describeGpu('webgpu device', dev => {
  it('reports itself as a non-host webgpu device', () => {
    expect(dev().name).toBe('webgpu');
    expect(dev().host).toBe(false);
    expect(dev().adapterName.length).toBeGreaterThan(0);
  });

  it('nodeAdapterInfo names the same adapter with its features and limits', async () => {
    const info = await nodeAdapterInfo('never');
    expect(info.adapter).toBe(dev().adapterName);
    if (info.adapter === null) return;
    expect(info.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(Array.isArray(info.features)).toBe(true);
  });

  it('round-trips f32, i32 and u8 tensors (zero-filled at allocation)', async () => {
    const d = dev();
    for (const n of [0, 1, 3, 1027]) {
      const f = d.f32(n),
        i = d.i32(n),
        u = d.u8(n);
      expect(Array.from(await d.read(f))).toEqual(new Array(n).fill(0));
      const fv = rand(n, 9),
        iv = Int32Array.from(rand(n, 10), v => Math.round(v * 1e9)),
        uv = Uint8Array.from(rand(n, 11), v => Math.floor((v + 1) * 127.9));
      d.write(f, fv);
      d.write(i, iv);
      d.write(u, uv);
      const [rf, ri, ru] = await Promise.all([d.read(f), d.read(i), d.read(u)]);
      expect(rf).toBeInstanceOf(Float32Array);
      expect(ri).toBeInstanceOf(Int32Array);
      expect(ru).toBeInstanceOf(Uint8Array);
      expect(Array.from(rf)).toEqual(Array.from(fv));
      expect(Array.from(ri)).toEqual(Array.from(iv));
      expect(Array.from(ru)).toEqual(Array.from(uv));
      d.release(f);
      d.release(i);
      d.release(u);
    }
  });

  it('views at odd offsets, views of views, writes at offsets', async () => {
    const d = dev();
    const t = d.f32(100);
    d.write(
      t,
      Float32Array.from({ length: 100 }, (_, k) => k),
    );
    const v = d.view(t, 7, 50),
      vv = d.view(v, 3, 11);
    expect(sizeOf(vv)).toBe(11);
    expect(Array.from(await d.read(vv))).toEqual(Array.from({ length: 11 }, (_, k) => 10 + k));
    d.write(vv, Float32Array.of(-1, -2), 4); // elements 14, 15 of t
    const all = await d.read(t);
    expect(all[13]).toBe(13);
    expect(all[14]).toBe(-1);
    expect(all[15]).toBe(-2);
    expect(all[16]).toBe(16);
    const u = d.u8(9),
      uv = d.view(u, 5, 3);
    d.write(uv, Uint8Array.of(255, 1, 7));
    expect(Array.from(await d.read(u))).toEqual([0, 0, 0, 0, 0, 255, 1, 7, 0]);
    expect(() => d.view(v, 45, 6)).toThrow(/outside a tensor of 50/);
    expect(() => d.write(v, new Float32Array(3), 48)).toThrow(/do not fit/);
    expect(() => d.write(v, new Int32Array(3))).toThrow(/Int32Array|i32/);
  });

  it('kernels on views of one buffer: aliased, in place, at odd offsets', async () => {
    const d = dev();
    const n = 301,
      a = rand(n, 1),
      b = rand(n, 2);
    const buf = d.f32(3 * n + 5);
    const va = d.view(buf, 1, n),
      vb = d.view(buf, n + 3, n),
      vo = d.view(buf, 2 * n + 4, n);
    d.write(va, a);
    d.write(vb, b);
    d.add(vo, va, vb, n); // three views of one buffer
    d.add(va, va, vb, n); // in place: out aliases a
    d.add3(vb, vb, vb, va, n); // every operand in one slot
    const sum = a.map((x, k) => x + b[k]);
    expect(await d.read(vo)).toBeAllclose(sum, { rtol: 0, atol: 0 });
    expect(await d.read(va)).toBeAllclose(sum, { rtol: 0, atol: 0 });
    expect(await d.read(vb)).toBeAllclose(
      b.map((x, k) => Math.fround(x + x) + sum[k]),
      { rtol: 0, atol: 0 },
    );
    const whole = await d.read(buf);
    expect([whole[0], whole[n + 1], whole[n + 2], whole[2 * n + 3], whole[3 * n + 4]]).toEqual([0, 0, 0, 0, 0]);
  });

  it('records across many submit batches and keeps their order', async () => {
    const small = await createNodeWebGpuDevice({ batch: 3 });
    const x = small.f32(17),
      one = small.f32(17);
    small.fill(one, 1, 17);
    for (let k = 0; k < 50; k++) {
      small.add(x, x, one, 17);
      if (k === 20) small.write(x, new Float32Array(17).fill(100)); // a write lands between kernels
    }
    expect(Array.from(await small.read(x))).toEqual(new Array(17).fill(129));
    small.destroy();
  });

  it('kernels are recorded without waiting: 1000 dispatches, 4 submits, one wait at the read', async () => {
    const d = await createNodeWebGpuDevice(); // the default batch of 256 dispatches per submit
    const x = d.f32(33),
      one = d.f32(33);
    d.fill(one, 1, 33);
    for (let k = 0; k < 999; k++) d.add(x, x, one, 33);
    expect(d.stats).toEqual({ dispatches: 1000, submits: 3, waits: 0 });
    expect(Array.from(await d.read(x))).toEqual(new Array(33).fill(999));
    expect(d.stats).toEqual({ dispatches: 1000, submits: 4, waits: 1 });
    d.destroy();
  });

  it('reads requested together share one wait; each sees the tensor as it was when read() was called', async () => {
    const d = await createNodeWebGpuDevice();
    const a = d.f32(5),
      b = d.f32(7),
      one = d.f32(7);
    d.fill(one, 1, 7);
    d.fill(a, 2, 5);
    d.fill(b, 3, 7);
    const w0 = d.stats.waits;
    const [ra, rb] = await Promise.all([d.read(a), d.read(b)]);
    expect(d.stats.waits - w0).toBe(1);
    expect(Array.from(ra)).toEqual(new Array(5).fill(2));
    expect(Array.from(rb)).toEqual(new Array(7).fill(3));
    // a kernel or a write recorded after a read() (same tick) does not reach that read
    const before = d.read(b);
    d.add(b, b, one, 7);
    const mid = d.read(b);
    d.write(b, new Float32Array(7).fill(9));
    const after = d.read(b);
    expect(Array.from(await before)).toEqual(new Array(7).fill(3));
    expect(Array.from(await mid)).toEqual(new Array(7).fill(4));
    expect(Array.from(await after)).toEqual(new Array(7).fill(9));
    d.destroy();
  });

  it('an out-of-range id surfaces as a RangeError at the next read, then clears', async () => {
    const d = dev();
    const out = d.f32(3 * 4),
      ids = d.i32(3),
      table = d.f32(5 * 4);
    d.write(ids, Int32Array.of(1, 7, 2));
    d.write(table, rand(20, 3));
    d.embeddingForward(out, ids, table, 3, 4, 5, 1);
    await expect(d.read(out)).rejects.toThrow('embeddingForward: ids[1] = 7 is outside [0, 5)');
    const got = await d.read(out); // the error was reported once
    expect(Array.from(got.subarray(4, 8))).toEqual([0, 0, 0, 0]);
    const labels = d.i32(2);
    d.write(labels, Int32Array.of(-100, -3));
    d.stablemaxCeForward(d.f32(2), d.f32(2 * 5), labels, 2, 5, -100);
    await expect(d.flush()).rejects.toThrow('stablemaxCeForward: labels[1] = -3 is outside [0, 5)');
    await d.flush();
  });

  it('throws one-line errors for host arrays, released tensors and readSync', async () => {
    const d = dev();
    const t = d.f32(4);
    expect(() => d.add(t, new Float32Array(4), t, 4)).toThrow(TrmError);
    expect(() => d.add(t, new Float32Array(4), t, 4)).toThrow(/add: a is a host Float32Array, not a webgpu tensor/);
    expect(() => d.readSync(t)).toThrow(/readSync is for host devices/);
    const v = d.view(t, 1, 2);
    d.release(v); // a view frees nothing
    expect(Array.from(await d.read(v))).toEqual([0, 0]);
    d.release(t);
    await expect(d.read(v)).rejects.toThrow(/released/);
    expect(() => d.fill(t, 1, 4)).toThrow(/fill: dst was released/);
  });

  it('measures a positive, finite fp32 peak with the FMA shader', async () => {
    const gflops = await fmaPeak(dev().gpu, 0.05);
    expect(Number.isFinite(gflops) && gflops > 0).toBe(true);
  });

  it("buffers larger than the binding limit are bound as windows over each call's views, or fail at the call", async () => {
    const small = await createNodeWebGpuDevice({ maxBinding: 4096 }); // 1024 floats per binding
    const block = small.f32(5000);
    const a = rand(300, 1),
      b = rand(300, 2);
    const va = small.view(block, 1501, 300),
      vb = small.view(block, 1900, 300),
      vo = small.view(block, 4603, 300);
    small.write(va, a);
    small.write(vb, b);
    small.add(va, va, vb, 300); // both within one 4096-byte window
    expect(await small.read(va)).toBeAllclose(
      a.map((x, k) => x + b[k]),
      { rtol: 0, atol: 0 },
    );
    // vo is far from va/vb: their span exceeds one binding, an error at the call
    expect(() => small.add(vo, va, vb, 300)).toThrow(
      /add: its operands span \d+ bytes of one buffer, more than the adapter's 4096-byte/,
    );
    small.destroy();
  });

  it('windows: kernels on views of one big block match the reference', async () => {
    const small = await createNodeWebGpuDevice({ maxBinding: 4096 });
    const block = small.f32(6000),
      other = small.f32(3000);
    const M = 9,
      N = 11,
      K = 13;
    const a = rand(M * K, 1),
      b = rand(N * K, 2);
    const vA = small.view(block, 2001, M * K),
      vB = small.view(block, 2300, N * K),
      vC = small.view(other, 2777, M * N);
    small.write(vA, a);
    small.write(vB, b);
    small.gemm(false, true, M, N, K, 1, vA, K, 0, vB, K, 0, 0, vC, N, 0, 1);
    const vD = small.view(block, 5001, M * N);
    small.copy2d(vD, vC, M, N, N, N);
    small.add(vD, vD, vD, M * N);
    const want = new Float32Array(M * N);
    refBackend.gemm(false, true, M, N, K, 1, a, K, 0, b, K, 0, 0, want, N, 0, 1);
    expect(await small.read(vC)).toBeAllclose(want, { rtol: 1e-5, atol: 1e-6 });
    expect(await small.read(vD)).toBeAllclose(
      want.map(v => 2 * v),
      { rtol: 1e-5, atol: 1e-6 },
    );
    const whole = await small.read(block);
    expect(whole[5000]).toBe(0);
    expect(whole[5001 + M * N]).toBe(0);
    small.destroy();
  });
});
