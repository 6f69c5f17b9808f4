/**
 * Root cause 8 (issue 13): `trm selfcheck` reported a false FAIL (gemm max rel diff ~2e-4) on
 * outputs near zero. GEMM is now held to a float32 error bound scaled by the reduction length K
 * and sum_k |a_ik b_kj|; the command passes on every dispatch path this CPU has, and the bound
 * still catches a wrong result.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { nativeBackend } from '../../src/kernels/select.js';
import { gemmErrorScale, maxScaledDiff } from '../../src/kernels/selfcheck.js';
import { rng } from '../helpers.js';
import { main, skipNote } from './helpers.js';

describe('trm selfcheck', () => {
  it('passes on every ISA this CPU supports (exit 0, all kernels agree)', () => {
    if (!nativeBackend) {
      skipNote('selfcheck', 'the native addon is not loaded');
      return;
    }
    const best = (nativeBackend as unknown as { info(): { bestIsa: string } }).info().bestIsa;
    const isas = ['portable', 'avx2', 'avx512'].slice(0, ['portable', 'avx2', 'avx512'].indexOf(best) + 1);
    for (const isa of isas) {
      const r = spawnSync(process.execPath, [main, 'selfcheck', '--json'], {
        encoding: 'utf8',
        env: { ...process.env, TRM_ISA: isa, TRM_THREADS: '2' },
      });
      expect(r.status, `${isa}: ${r.stdout}${r.stderr}`).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.backend.isa).toBe(isa);
      expect(j.results.filter((x: { ok: boolean }) => !x.ok)).toEqual([]);
      for (const g of j.results.filter((x: { kernel: string }) => x.kernel === 'gemm'))
        expect(g.tol).toBeGreaterThan(g.maxRelDiff);
    }
  });

  it('a float32 dot product that cancels to near zero fails the old relative test but meets the K-scaled bound; a wrong one does not', () => {
    const K = 71,
      r = rng(4); // a seed whose float32 sum visibly misses the near-zero exact one
    const a = Float32Array.from({ length: K }, () => r() * 2 - 1),
      b = Float32Array.from({ length: K }, () => r() * 2 - 1);
    // make the exact sum nearly cancel: choose b[K-1] so that sum_k a_k b_k ~ 0 in float64
    let s = 0;
    for (let k = 0; k < K - 1; k++) s += a[k] * b[k];
    b[K - 1] = Math.fround(-s / a[K - 1]);
    const args = [false, false, 1, 1, K, 1, a, K, 0, b, 1, 0, 0, new Float32Array(1), 1, 0, 1];
    let exact = 0,
      f32 = 0;
    for (let k = 0; k < K; k++) {
      exact += a[k] * b[k];
      f32 = Math.fround(f32 + Math.fround(a[k] * b[k]));
    }
    const oldRel = Math.abs(f32 - exact) / (1e-3 + Math.abs(exact));
    const scale = gemmErrorScale(args);
    const tol = 8 * K * 2 ** -24;
    expect(oldRel, 'the old criterion flags honest float32 rounding').toBeGreaterThan(1e-4);
    expect(maxScaledDiff([f32], [exact], scale)).toBeLessThanOrEqual(tol);
    // a kernel that drops one product is caught
    expect(maxScaledDiff([f32 - Math.fround(a[3] * b[3])], [exact], scale)).toBeGreaterThan(tol);
    expect(maxScaledDiff([NaN], [exact], scale)).toBe(Infinity);
  });
});
