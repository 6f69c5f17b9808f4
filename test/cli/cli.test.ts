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
