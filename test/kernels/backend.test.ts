/**
 * The backend the suite runs on. Unless TRM_KERNELS=ref asks for the reference, the native addon
 * must have loaded: otherwise every native test would be skipped and a broken build would pass.
 */
import { describe, expect, it } from 'vitest';
import { addon, addonError, backendInfo } from '../../src/kernels/index.js';

describe('kernel backend', () => {
  it('the native addon loaded (or TRM_KERNELS=ref was asked for)', () => {
    const info = backendInfo();
    console.log(`kernel backend: ${info.backend}, dispatch ${info.isa} (${info.gemmKernel}), ${info.threads} threads${info.reason ? `; ${info.reason}` : ''}`);
    if (process.env.TRM_KERNELS === 'ref') expect(info.backend).toBe('ref');
    else expect(addon, `native addon failed to load: ${addonError}`).not.toBeNull();
  });
  it.runIf(addon)('reports a dispatch path the CPU supports', () => {
    const i = addon!.info();
    expect(['avx512', 'avx2', 'portable']).toContain(i.isa);
    if (i.features.avx512f && i.features.osAvx512 && !process.env.TRM_ISA) expect(i.isa).toBe('avx512');
    if (process.env.TRM_ISA === 'portable') expect(i.isa).toBe('portable');  // the forced path is really taken
  });
});
