/**
 * The pool's region profile (addon.poolProfile, threadpool.h RegionStat; tools/profile-step.mjs prints
 * it): while on, each parallel region run from JavaScript on more than one thread is counted at its call
 * site with its wall time and the threads' waits; one thread (regions run inline) and nested regions add
 * nothing; stopping returns the records and clears them; the site names the kernel through addr2line.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { addon, addonPath, setThreads } from '../../src/kernels/index.js';

afterAll(() => {
  if (addon) setThreads(addon.info().threads);
});

const n = 200_000; // past the threading threshold: one region per add
const a = new Float32Array(n).fill(1),
  out = new Float32Array(n);

describe.runIf(addon)('the pool region profile', () => {
  it('counts each region from JavaScript at its call site, with its times', () => {
    setThreads(2);
    addon!.poolProfile(true);
    for (let i = 0; i < 7; i++) addon!.add(out, a, a, n);
    const stats = addon!.poolProfile(false);
    expect(stats).toHaveLength(1);
    const [r] = stats;
    expect(r.calls).toBe(7);
    expect(r.entered).toBeLessThanOrEqual(7);
    expect(r.site).toMatch(/^0x[0-9a-f]+$/);
    expect(r.regionNs).toBeGreaterThan(0);
    for (const k of ['callerWaitNs', 'workerIdleNs', 'workerLateNs'] as const) {
      expect(r[k]).toBeGreaterThanOrEqual(0);
      expect(r[k]).toBeLessThanOrEqual(r.regionNs + (k === 'workerIdleNs' ? r.regionNs : 0));
    }
    expect(out[n - 1]).toBe(2);
  });

  it('records nothing while off, nor on one thread, and stopping clears the records', () => {
    setThreads(2);
    addon!.add(out, a, a, n); // profile off: not counted
    addon!.poolProfile(true);
    setThreads(1);
    addon!.add(out, a, a, n); // one thread: the region runs inline
    expect(addon!.poolProfile(false)).toEqual([]);
    expect(addon!.poolProfile(false)).toEqual([]);
  });

  it('two kernels are two sites, and addr2line names the kernel of each', () => {
    setThreads(2);
    addon!.poolProfile(true);
    addon!.add(out, a, a, n);
    addon!.fill(out, 3, n);
    addon!.fill(out, 3, n);
    const stats = addon!.poolProfile(false);
    expect(stats.map(s => s.calls).sort()).toEqual([1, 2]);
    const tool = spawnSync('addr2line', ['-f', '-C', '-e', addonPath!, ...stats.map(s => s.site)], {
      encoding: 'utf8',
    });
    if (tool.error) return; // (no binutils here: the offsets alone)
    const names = tool.stdout.split('\n').filter((_, i) => i % 2 === 0);
    expect(names[stats.findIndex(s => s.calls === 1)]).toMatch(/\badd\b/);
    expect(names[stats.findIndex(s => s.calls === 2)]).toMatch(/\bfill\b/);
  });
});
