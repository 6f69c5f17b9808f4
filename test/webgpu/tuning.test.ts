/**
 * The Node entry's GEMM tuning knobs (src/webgpu/node.ts): TRM_WEBGPU_GEMM_BK and
 * TRM_WEBGPU_SPLITK reach the device, and a bad value is one TRM_BAD_ARG line, not a device.
 */
import { afterEach, expect, it } from 'vitest';
import { createNodeWebGpuDevice } from '../../src/webgpu/node.js';
import { describeGpu } from './helpers.js';

await describeGpu('webgpu tuning knobs', () => {
  afterEach(() => {
    delete process.env.TRM_WEBGPU_GEMM_BK;
    delete process.env.TRM_WEBGPU_SPLITK;
    delete process.env.TRM_WEBGPU_SUM_GROUPS;
  });
  it('sets the k-slice depth and the split-K target', async () => {
    process.env.TRM_WEBGPU_GEMM_BK = '32';
    process.env.TRM_WEBGPU_SPLITK = '1024';
    process.env.TRM_WEBGPU_SUM_GROUPS = '2048';
    const d = await createNodeWebGpuDevice({ swiftshader: 'never' });
    expect(d.sumGroupWorkgroups).toBe(2048);
    expect(d.gemmTile).toEqual({ bk: 32 });
    expect(d.splitKWorkgroups).toBe(1024);
    d.destroy();
  });
  it('defaults: 16-deep slices, no split-K', async () => {
    const d = await createNodeWebGpuDevice({ swiftshader: 'never' });
    expect(d.gemmTile).toEqual({ bk: 16 });
    expect(d.splitKWorkgroups).toBe(0);
    expect(d.sumGroupWorkgroups).toBe(256);
    d.destroy();
  });
  it('refuses bad values with one line', async () => {
    process.env.TRM_WEBGPU_GEMM_BK = '8';
    await expect(createNodeWebGpuDevice({ swiftshader: 'never' })).rejects.toThrow(
      "TRM_WEBGPU_GEMM_BK must be 16 or 32, got '8'",
    );
    delete process.env.TRM_WEBGPU_GEMM_BK;
    process.env.TRM_WEBGPU_SPLITK = 'many';
    await expect(createNodeWebGpuDevice({ swiftshader: 'never' })).rejects.toThrow(/TRM_WEBGPU_SPLITK must be a whole/);
    delete process.env.TRM_WEBGPU_SPLITK;
    process.env.TRM_WEBGPU_SUM_GROUPS = '0';
    await expect(createNodeWebGpuDevice({ swiftshader: 'never' })).rejects.toThrow(
      /TRM_WEBGPU_SUM_GROUPS must be a positive/,
    );
  });
});
