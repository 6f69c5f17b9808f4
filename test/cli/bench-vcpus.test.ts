/**
 * `trm bench vcpus` (bench/vcpus.ts): each CPU probed alone, pinned with taskset, or a line saying
 * why not. Reports speed, asserts only its shape and its arithmetic (speed is never asserted in tests).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allowedCpus, describeVcpus, UNEVEN_SPREAD } from '../../src/bench/vcpus.js';
import { packageRoot } from '../../src/kernels/index.js';

const main = join(packageRoot, 'dist', 'cli', 'main.js');
const hasTaskset =
  process.platform === 'linux' && spawnSync('taskset', ['--version'], { encoding: 'utf8' }).status === 0;

function bench(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(process.execPath, [main, 'bench', 'vcpus', ...args], { encoding: 'utf8', env, timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('allowedCpus', () => {
  it('lists distinct CPU ids this process may run on', () => {
    const ids = allowedCpus();
    expect(ids.length).toBeGreaterThanOrEqual(1);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(Number.isInteger(id) && id >= 0).toBe(true);
  });
});

describe('describeVcpus', () => {
  const probe = (cpu: number, gemm_ms: number) => ({ cpu, peak_gflops: 200, gemm_ms, share: 0.8 });
  it('names the slow CPU of an uneven machine, and says why a check was skipped', () => {
    const spread = 1.2;
    expect(spread > UNEVEN_SPREAD).toBe(true);
    expect(describeVcpus({ cpus: [probe(0, 2), probe(1, 2.4)], spread, even: false, seconds: 1 })).toMatch(
      /UNEVEN: cpu1 takes 20% longer/,
    );
    expect(describeVcpus({ cpus: [probe(0, 2), probe(1, 2.04)], spread: 1.02, even: true, seconds: 1 })).toMatch(
      /CPUs even \(GEMM within 2% on 2 CPUs/,
    );
    expect(describeVcpus({ skipped: 'taskset not found (util-linux)' })).toBe(
      'CPU check skipped: taskset not found (util-linux)',
    );
  });
});

describe.runIf(existsSync(main))('trm bench vcpus', () => {
  it.runIf(hasTaskset)('probes every allowed CPU alone: its FMA peak, the GEMM time, and their spread', () => {
    const { code, out, err } = bench(['--json', '--reps', '1']);
    expect(code, err).toBe(0);
    const v = JSON.parse(out);
    expect(v.bench).toBe('vcpus');
    expect(v.cpus.map((c: { cpu: number }) => c.cpu)).toEqual(allowedCpus());
    for (const c of v.cpus) {
      expect(c.peak_gflops).toBeGreaterThan(0);
      expect(c.gemm_ms).toBeGreaterThan(0);
      expect(c.share).toBeGreaterThan(0);
    }
    const times = v.cpus.map((c: { gemm_ms: number }) => c.gemm_ms);
    expect(v.spread).toBeCloseTo(Math.max(...times) / Math.min(...times), 2);
    expect(v.even).toBe(v.spread <= UNEVEN_SPREAD);
  });

  it('without taskset it says so in one line and exits 0', () => {
    // PATH: a folder holding only a link to node, so no taskset can be found
    const bin = mkdtempSync(join(tmpdir(), 'trm-nopath-'));
    symlinkSync(process.execPath, join(bin, 'node'));
    const { code, out, err } = bench([], { ...process.env, PATH: bin });
    expect(code, err).toBe(0);
    expect(out.trim()).toMatch(
      /^CPU check skipped: (taskset not found \(util-linux\)|pinning a process to one CPU needs Linux)/,
    );
  });

  it('takes at most 60 seconds per CPU', () => {
    const { code, err } = bench(['--reps', '61']);
    expect(code).toBe(2);
    expect(err.trim()).toBe('trm: bench vcpus: --reps is seconds per CPU, at most 60 (got 61)');
  });

  it('runs on the CPU only', () => {
    const { code, err } = bench(['--backend', 'webgpu']);
    expect(code).toBe(2);
    expect(err.trim()).toBe('trm: bench: the vcpus suite runs on the CPU only (--backend webgpu is for gemm and step)');
  });
});
