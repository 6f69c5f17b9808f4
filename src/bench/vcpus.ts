/**
 * bench/vcpus.ts: whether this machine's CPUs run alike right now, before a timing is trusted
 * (`trm bench vcpus`; `bench step` records it before and after its runs). Each CPU in turn, the
 * probe process pinned to it with taskset (vcpu-child.ts), runs the register-only FMA peak loop and
 * a cached GEMM: the token mixer's down weight gradient at the paper shapes, 97 x 512 x 512 over 8
 * items, whose operands stream from L2/L3.
 *
 * Why: on the shared 2-vCPU cloud hosts one vCPU at a time ran that GEMM 10-20% slower than the
 * other for minutes while its FMA peak read the same (its L2-sized pointer chase 11 ns against 6.5;
 * most likely a neighbour on the physical core's other hardware thread, sharing its caches;
 * docs/PERFORMANCE.md, thirty-seventh session). A two-thread product split in fixed shares then ends
 * with the slower CPU, and a two-thread figure reads low for reasons the code does not have.
 *
 * Linux only (taskset, from util-linux); elsewhere, or without taskset, the check says why it was
 * skipped. Speed is reported, never asserted.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';

/** One CPU's probe: its FMA peak (GFLOP/s), the GEMM's median time and its share of that peak. */
export interface CpuProbe {
  cpu: number;
  peak_gflops: number;
  gemm_ms: number;
  share: number;
}

/** The CPUs probed one after the other; spread = slowest GEMM time / fastest. */
export type VcpuCheck = { cpus: CpuProbe[]; spread: number; even: boolean; seconds: number } | { skipped: string };

/** A spread above this is called uneven (the same build read within 1-4% across CPUs in even phases). */
export const UNEVEN_SPREAD = 1.06;

const CHILD = fileURLToPath(new URL('./vcpu-child.js', import.meta.url));

/** The CPUs this process may run on (Linux: /proc/self/status Cpus_allowed_list, e.g. "0-3,8"), else 0..n-1. */
export function allowedCpus(): number[] {
  try {
    const line = readFileSync('/proc/self/status', 'utf8').match(/^Cpus_allowed_list:\s*(\S+)/m)?.[1];
    if (line) {
      const ids = line.split(',').flatMap(part => {
        const [lo, hi] = part.split('-').map(Number);
        return Array.from({ length: (hi ?? lo) - lo + 1 }, (_, i) => lo + i);
      });
      if (ids.length > 0 && ids.every(Number.isInteger)) return ids;
    }
  } catch {
    // not Linux: every CPU
  }
  return Array.from({ length: availableParallelism() }, (_, i) => i);
}

/** Probe every CPU for `seconds` of GEMM calls each (plus 0.2 s of the FMA loop). */
export function checkVcpus(seconds = 1): VcpuCheck {
  if (process.platform !== 'linux') return { skipped: `pinning a process to one CPU needs Linux (taskset)` };
  const cpus: CpuProbe[] = [];
  for (const cpu of allowedCpus()) {
    const r = spawnSync('taskset', ['-c', String(cpu), process.execPath, CHILD, String(seconds)], {
      encoding: 'utf8',
    });
    if (r.error)
      return {
        skipped:
          (r.error as NodeJS.ErrnoException).code === 'ENOENT'
            ? 'taskset not found (util-linux)'
            : `taskset -c ${cpu}: ${r.error.message}`,
      };
    if (r.status !== 0) {
      const why = r.stderr.split('\n').find(l => /error|trm:/i.test(l)) ?? r.stderr.trim().split('\n')[0] ?? '';
      return { skipped: `the probe on cpu ${cpu} failed: ${why}` };
    }
    cpus.push({ cpu, ...(JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Omit<CpuProbe, 'cpu'>) });
  }
  const times = cpus.map(c => c.gemm_ms);
  const spread = +(Math.max(...times) / Math.min(...times)).toFixed(3);
  return { cpus, spread, even: spread <= UNEVEN_SPREAD, seconds };
}

/** One line for a log: even, uneven (which CPU is slow), or skipped and why. */
export function describeVcpus(v: VcpuCheck): string {
  if ('skipped' in v) return `CPU check skipped: ${v.skipped}`;
  const pct = Math.round((v.spread - 1) * 100);
  if (v.even) return `CPUs even (GEMM within ${pct}% on ${v.cpus.length} CPUs, each pinned alone)`;
  const slow = v.cpus.reduce((a, b) => (b.gemm_ms > a.gemm_ms ? b : a));
  return `CPUs UNEVEN: cpu${slow.cpu} takes ${pct}% longer than the fastest on a cached GEMM (same FMA peak: a neighbour, likely); two-thread timings read low now`;
}

/** A benchmark's check before or after its runs (0.3 s a CPU), with a `when: ...` line unless quiet (JSON). */
export function checkVcpusSaying(when: string, quiet: boolean): VcpuCheck {
  const v = checkVcpus(0.3);
  if (!quiet) console.log(`${when}: ${describeVcpus(v)}`);
  return v;
}

export async function benchVcpus(opts: { json: boolean; reps?: number }): Promise<void> {
  // --reps N: N seconds of GEMM calls per CPU (default 1)
  if ((opts.reps ?? 1) > 60)
    throw new UsageError(`bench vcpus: --reps is seconds per CPU, at most 60 (got ${opts.reps})`);
  const v = checkVcpus(opts.reps ?? 1);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ bench: 'vcpus', ...v })}\n`);
    return;
  }
  if ('cpus' in v) {
    console.log(
      `each CPU alone (taskset), ${v.seconds} s of the token mixer's down weight gradient (97 x 512 x 512, 8 items):`,
    );
    for (const c of v.cpus)
      console.log(
        `  cpu${c.cpu}: FMA peak ${c.peak_gflops.toFixed(0)} GFLOP/s, GEMM ${c.gemm_ms.toFixed(3)} ms, ${(100 * c.share).toFixed(0)}% of its peak`,
      );
  }
  console.log(describeVcpus(v));
}
