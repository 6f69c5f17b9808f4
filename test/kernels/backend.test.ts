/**
 * The backend the suite runs on. Unless TRM_KERNELS=ref asks for the reference, the native addon
 * must have loaded: otherwise every native test would be skipped and a broken build would pass.
 */
import { describe, expect, it } from 'vitest';
import { addon, addonError, backendInfo } from '../../src/kernels/index.js';

describe('kernel backend', () => {
  it('the native addon loaded (or TRM_KERNELS=ref was asked for)', () => {
    const info = backendInfo();
    console.log(
      `kernel backend: ${info.backend}, dispatch ${info.isa} (${info.gemmKernel}), ${info.threads} threads${info.reason ? `; ${info.reason}` : ''}`,
    );
    if (process.env.TRM_KERNELS === 'ref') expect(info.backend).toBe('ref');
    else expect(addon, `native addon failed to load: ${addonError}`).not.toBeNull();
  });
  it.runIf(addon)('reports a dispatch path the CPU supports', () => {
    const i = addon!.info();
    expect(['avx512', 'avx2', 'portable']).toContain(i.isa);
    if (i.features.avx512f && i.features.osAvx512 && !process.env.TRM_ISA) expect(i.isa).toBe('avx512');
    if (process.env.TRM_ISA === 'portable') expect(i.isa).toBe('portable'); // the forced path is really taken
  });
});

describe('alignedF32', () => {
  it('returns zeroed arrays of the asked length, 64-byte aligned when large and native', async () => {
    const { alignedF32 } = await import('../../src/kernels/index.js');
    for (const n of [1, 7, 1023, 1024, 4097, 1 << 16]) {
      const a = alignedF32(n);
      expect(a.length).toBe(n);
      expect(a.every(v => v === 0)).toBe(true);
      if (addon && n * 4 >= 4096) expect(addon.addressMod64(a)).toBe(0);
    }
  });
});

describe('adviseHugePages', () => {
  const linux = process.platform === 'linux';
  it.skipIf(!addon)('advises exactly the whole 2 MiB pages inside the data, and keeps the values', () => {
    const MiB = 1 << 20;
    const big = new Float32Array((6 * MiB + 12) / 4);
    for (let i = 0; i < big.length; i += 1001) big[i] = i;
    const advised = addon!.adviseHugePages(big);
    // 6 MiB + 12 bytes hold 2 or 3 whole 2 MiB pages wherever they start (where madvise answers)
    if (linux && advised > 0) expect([4 * MiB, 6 * MiB]).toContain(advised);
    else expect(advised).toBe(0);
    for (let i = 0; i < big.length; i += 1001) expect(big[i]).toBe(i);
    // an offset view is measured from its own bytes: 4 MiB + 4 of them hold 1 or 2 whole pages
    const view = new Uint8Array(big.buffer, MiB, 4 * MiB + 4);
    expect(advised > 0 ? [2 * MiB, 4 * MiB] : [0]).toContain(addon!.adviseHugePages(view));
    expect(addon!.adviseHugePages(new Float32Array(MiB / 4))).toBe(0); // 1 MiB: no whole page fits
    expect(() => addon!.adviseHugePages([1, 2] as unknown as Float32Array)).toThrow(
      /adviseHugePages: argument 0 must be a typed array/,
    );
  });
});
