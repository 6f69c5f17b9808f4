/**
 * select.ts: which backend the library computes with. Native when the addon loaded, else the
 * TypeScript reference with one warning line on stderr saying why (unless TRM_KERNELS=ref asked
 * for it). Tests switch backends with useBackend() to compare them.
 */
import type { KernelBackend } from './backend.js';
import { addon, addonError } from './native.js';
import { refBackend } from './ref/index.js';

export const nativeBackend: KernelBackend | null = addon ? Object.assign(Object.create(addon), { name: 'native' as const }) : null;
export { refBackend };

let active: KernelBackend = nativeBackend ?? refBackend;
let warned = false;

/** The backend kernels run on now. */
export function kernels(): KernelBackend {
  if (active === refBackend && !nativeBackend && !warned && process.env.TRM_KERNELS !== 'ref') {
    warned = true;
    process.stderr.write(`trm: warning: native kernels unavailable (${addonError}); using the slow TypeScript reference kernels\n`);
  }
  return active;
}

/** Switch backends (tests, benchmarks). Asking for 'native' without the addon throws. */
export function useBackend(name: 'native' | 'ref'): void {
  if (name === 'native' && !nativeBackend) throw new Error(`native kernels unavailable: ${addonError}`);
  active = name === 'native' ? nativeBackend! : refBackend;
}

/** Kernel threads: TRM_THREADS or the core count; setThreads changes it (native only). */
export function setThreads(n: number): void {
  addon?.setThreads(n);
}

export function backendInfo(): { backend: string; isa: string; gemmKernel: string; threads: number; reason?: string } {
  if (active === nativeBackend && addon) {
    const i = addon.info();
    return { backend: 'native', isa: i.isa, gemmKernel: i.gemmKernel, threads: i.threads };
  }
  return { backend: 'ref', isa: 'typescript', gemmKernel: 'typescript reference', threads: 1, reason: addonError ?? 'selected' };
}
