/**
 * select.ts: the Node edge of the compute layer. Builds the host devices (native when the addon
 * loaded, else the TypeScript reference with one warning line on stderr saying why, unless
 * TRM_KERNELS=ref asked for it) and registers the default with device.ts. Tests and benchmarks
 * switch devices with useBackend(); `--backend` / TRM_BACKEND go through the same call.
 */
import { totalmem } from 'node:os';
import { TrmError } from '../errors.js';
import type { KernelBackend } from './backend.js';
import { type Device, device, hostDevice, setDefaultDevice, setDevice } from './device.js';
import { alignedBf16, alignedF32 } from './aligned.js';
import { addon, addonError } from './native.js';
import { refBackend } from './ref/index.js';

export const nativeBackend: KernelBackend | null = addon
  ? Object.assign(Object.create(addon), { name: 'native' as const })
  : null;
export { refBackend };

/** The host devices: native (64-byte aligned tensors, see aligned.ts) and the reference. */
const nativeAddon = addon;
export const nativeDevice: Device | null =
  nativeBackend && nativeAddon
    ? {
        ...hostDevice(nativeBackend, totalmem(), alignedF32, alignedBf16),
        freezeWeights: (on: boolean) => nativeAddon.setWeightsFrozen(on),
      }
    : null;
export const refDevice: Device = hostDevice(refBackend, totalmem());

let warned = false;
setDefaultDevice(() => {
  if (nativeDevice) return nativeDevice;
  if (!warned && process.env.TRM_KERNELS !== 'ref') {
    warned = true;
    process.stderr.write(
      `trm: warning: native kernels unavailable (${addonError}); using the slow TypeScript reference kernels\n`,
    );
  }
  return refDevice;
});

/** Switch host devices (tests, benchmarks). Asking for 'native' without the addon throws. */
export function useBackend(name: 'native' | 'ref'): void {
  if (name === 'native' && !nativeDevice)
    throw new TrmError('TRM_NO_NATIVE', `native kernels unavailable: ${addonError}`);
  setDevice(name === 'native' ? nativeDevice! : refDevice);
}

/** Kernel threads: TRM_THREADS or the core count; setThreads changes it (native only). */
export function setThreads(n: number): void {
  addon?.setThreads(n);
}

export function backendInfo(): { backend: string; isa: string; gemmKernel: string; threads: number; reason?: string } {
  const d = device();
  if (d === nativeDevice && addon) {
    const i = addon.info();
    return { backend: 'native', isa: i.isa, gemmKernel: i.gemmKernel, threads: i.threads };
  }
  if (d.name === 'webgpu') return { backend: 'webgpu', isa: 'wgsl', gemmKernel: 'WGSL tiled GEMM', threads: 1 };
  return {
    backend: 'ref',
    isa: 'typescript',
    gemmKernel: 'typescript reference',
    threads: 1,
    reason: addonError ?? 'selected',
  };
}
