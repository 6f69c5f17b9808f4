/**
 * selfcheck.ts: runs every kernel on the native backend and on the TypeScript reference with the
 * same random inputs and reports the largest relative difference of every output. Used by
 * `trm demo` and `trm selfcheck` to show, on the user's machine, that the compiled kernels agree
 * with the readable ones. (The test suite checks both against float64 and finite differences.)
 */
import type { KernelBackend } from './backend.js';
import { type Arr, type Case, kernelCases } from './cases.js';
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

function call(be: KernelBackend, c: Case, args: unknown[]): unknown {
  return (be[c.kernel] as (...a: unknown[]) => unknown).apply(be, args);
}

/** Compare native against the reference kernel by kernel; empty if the addon did not load. */
export function selfCheck(tol = 1e-4): SelfCheckResult[] {
  if (!nativeBackend) return [];
  const results: SelfCheckResult[] = [];
  for (const c of kernelCases) {
    try {
      const a1 = c.args(), a2 = c.args();
      const r1 = call(nativeBackend, c, a1), r2 = call(refBackend, c, a2);
      let diff = 0;
      for (const i of c.outs) diff = Math.max(diff, maxRelDiff(a1[i] as Arr, a2[i] as Arr));
      if (typeof r1 === 'number' && typeof r2 === 'number') diff = Math.max(diff, Math.abs(r1 - r2) / (1e-3 + Math.abs(r2)));
      results.push({ kernel: c.kernel, maxRelDiff: diff, ok: diff <= (c.tol ?? tol) });
    } catch (e) {
      results.push({ kernel: c.kernel, maxRelDiff: Infinity, ok: false, error: (e as Error).message });
    }
  }
  return results;
}
