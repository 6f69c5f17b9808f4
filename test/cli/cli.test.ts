/**
 * The `trm` command as a user meets it: help, one-line errors with the right exit codes, and the
 * fallback to the reference kernels (with one warning line) when the addon cannot load.
 * Runs the TypeScript sources through the compiled dist/ if present, else skips nothing: the
 * suite builds dist/ first in npm test (tsc), so dist/ is always there.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/kernels/index.js';

const main = join(packageRoot, 'dist', 'cli', 'main.js');

function trm(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [main, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe.runIf(existsSync(main))('trm command line', () => {
  it('lists the commands with --help and exits 0', () => {
    const r = trm(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['demo', 'info', 'bench', 'selfcheck']) expect(r.out).toMatch(new RegExp(`\\n  ${c}\\b`));
  });
  it('an unknown command is a one-line usage error, exit 2', () => {
    const r = trm(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^trm: unknown command 'frobnicate'/);
  });
  it('an unknown flag is a one-line usage error naming the flag, exit 2', () => {
    const r = trm(['info', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/--bogus/);
  });
  it('bench without a suite, or an unknown suite, is a usage error', () => {
    expect(trm(['bench']).code).toBe(2);
    const r = trm(['bench', 'nosuch']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/unknown suite 'nosuch'/);
  });
  it('bench step: an unknown preset or precision is a one-line usage error naming the known ones', () => {
    const p = trm(['bench', 'step', '--preset', 'cpu-sudoku4,nosuch']);
    expect(p.code).toBe(2);
    expect(p.err.trim().split('\n')).toHaveLength(1);
    expect(p.err).toMatch(/unknown preset 'nosuch' \(presets: .*cpu-sudoku4/);
    const q = trm(['bench', 'step', '--preset', 'cpu-sudoku4', '--precision', 'fp64']);
    expect(q.code).toBe(2);
    expect(q.err).toMatch(/unknown precision 'fp64' \(precisions: fp32/);
    expect(trm(['bench', 'gemm', '--preset', 'cpu-sudoku4']).code).toBe(2);
  });
  it('bench step --preset times that config: one JSON row with its sizes, speed and peak RSS', () => {
    const r = trm(['bench', 'step', '--preset', 'cpu-sudoku4', '--reps', '1', '--no-torch', '--json']);
    expect(r.code, r.err).toBe(0);
    const { rows } = JSON.parse(r.out);
    expect(rows).toHaveLength(1);
    const row = rows[0];
    expect(row).toMatchObject({ preset: 'cpu-sudoku4', B: 32, precision: 'fp32', torch_note: 'skipped' });
    expect(row.config).toMatch(/^D=64 n=2 T=2 layers=2 S=17 mlp_t$/);
    expect(row.trm_times_s).toHaveLength(1);
    expect(row.trm_steps_per_s).toBeGreaterThan(0);
    expect(row.gflop).toBeCloseTo(2.57, 2);
    // the trm step ran in its own process: its peak RSS holds at least the activations
    if (row.trm_peak_rss_mib !== null) expect(row.trm_peak_rss_mib).toBeGreaterThanOrEqual(row.acts_mib);
  });
  it('info --json reports the backend; TRM_THREADS sets the kernel threads', () => {
    const r = trm(['info', '--json']);
    expect(r.code).toBe(0);
    const info = JSON.parse(r.out);
    expect(info.backend).toMatch(/native|ref/);
    if (info.backend === 'native')
      expect(JSON.parse(trm(['info', '--json'], { TRM_THREADS: '1' }).out).threads).toBe(1);
  });
  it('falls back to the reference kernels with exactly one warning line when the addon cannot load', () => {
    const script = `
      const k = await import(${JSON.stringify(join(packageRoot, 'dist', 'kernels', 'index.js'))});
      const A = new Float32Array([1, 2, 3, 4]), C = new Float32Array(4);
      k.gemm({ M: 2, N: 2, K: 2, A, B: A, C });
      k.gemm({ M: 2, N: 2, K: 2, A, B: A, C });
      console.log(k.backendInfo().backend, Array.from(C).join(','));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      env: { ...process.env, TRM_NATIVE_PATH: '/nonexistent/trm_native.node', TRM_KERNELS: '' },
      timeout: 60_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('ref 7,10,15,22');
    const warnings = r.stderr.trim().split('\n').filter(Boolean);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^trm: warning: native kernels unavailable \(.*nonexistent.*not found/);
  });
});
