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
