/**
 * selfcheck.ts: runs every kernel on the native backend and on the TypeScript reference with the
 * same random inputs and reports the largest relative difference of every output. Used by
 * `trm demo` and `trm selfcheck` to show, on the user's machine, that the compiled kernels agree
 * with the readable ones. (The test suite checks both against float64 and finite differences.)
 */
import type { KernelBackend } from './backend.js';
import { type Arr, type KernelCase, kernelCases } from './cases.js';
import { nativeBackend, refBackend } from './select.js';

export interface SelfCheckResult { kernel: string; maxRelDiff: number; ok: boolean; error?: string }

function maxRelDiff(a: Arr, b: Arr): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]) / (1e-3 + Math.abs(b[i]));
    if (!(d <= worst)) worst = d;  // NaN propagates as Infinity-like failure
  }
  return Number.isNaN(worst) ? Infinity : worst;
}

function call(be: KernelBackend, c: KernelCase, args: unknown[]): unknown {
  return (be[c.name] as (...a: unknown[]) => unknown).apply(be, args);
}

/** Compare native against the reference kernel by kernel; empty if the addon did not load. */
export function selfCheck(tol = 1e-4): SelfCheckResult[] {
  if (!nativeBackend) return [];
  const results: SelfCheckResult[] = [];
  for (const c of kernelCases) {
    try {
      const a1 = c.args(), a2 = c.args();
      call(nativeBackend, c, a1);
      call(refBackend, c, a2);
      let diff = 0;
      for (const i of c.out) diff = Math.max(diff, maxRelDiff(a1[i] as Arr, a2[i] as Arr));
      results.push({ kernel: c.name, maxRelDiff: diff, ok: diff <= tol });
    } catch (e) {
      results.push({ kernel: c.name, maxRelDiff: Infinity, ok: false, error: (e as Error).message });
    }
  }
  return results;
}
