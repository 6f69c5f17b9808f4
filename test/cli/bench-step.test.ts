/**
 * `trm bench step` against the PyTorch reference: the variant probe, then the interleaved rounds
 * (one trm step, one step of PyTorch's fastest variant, alternating; step-server.ts), driven end to
 * end through the command line. A stand-in for torch_step_bench.py (TRM_PYTHON) answers with fixed
 * times per variant and logs what it was asked, so the test runs where torch is not installed; the
 * real script's --serve protocol is checked where Debian's python3 has torch.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StepServer } from '../../src/bench/step-server.js';
import { benchPreset, LEAD_S, leadSteps, TORCH_GLIBC_TUNABLES } from '../../src/bench/step.js';
import { allowedCpus } from '../../src/bench/vcpus.js';
import { packageRoot } from '../../src/kernels/index.js';

const main = join(packageRoot, 'dist', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'trm-bench-step-'));

// The stand-in: argv[2] is the script path, then torch_step_bench.py's flags. A 1-thread variant
// takes 0.25 s a step (FAKE_STEP_S), others twice that (reported, not slept); OpenBLAS's "Core:" line
// goes to stderr as the real one's does. --budget-s: the timed steps stop as the real script's do.
// FAKE_DIE_AFTER=n: serving, exit 3 with "boom" after n steps.
const fake = join(dir, 'fake-torch.mjs');
writeFileSync(
  fake,
  `#!${process.execPath}
import { appendFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
const a = process.argv.slice(3);
const opt = n => a[a.indexOf(n) + 1];
const threads = Number(opt('--threads')), serve = a.includes('--serve');
const s = Number(process.env.FAKE_STEP_S ?? 0.25) * (threads === 1 ? 1 : 2);
const budget = a.includes('--budget-s') ? Number(opt('--budget-s')) : 0;
const log = x => appendFileSync(process.env.FAKE_LOG, JSON.stringify(x) + '\\n');
log({ serve, threads, budget, core: process.env.OPENBLAS_CORETYPE ?? 'auto', blasThreads: process.env.OPENBLAS_NUM_THREADS, glibc: process.env.GLIBC_TUNABLES });
process.stderr.write('Core: FakeCore\\n');
const say = x => console.log(JSON.stringify(x));
if (!serve) {
  let n = Number(opt('--repeats'));
  if (budget > 0) n = Math.min(n, Math.max(3, Math.ceil(budget / s)));
  say({ median_s: s, times_s: Array(n).fill(s), cpu_median_s: s, peak_rss_mib: 100 });
} else {
  say({ ready: true });
  let served = 0;
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === 'end') break;
    if (served === Number(process.env.FAKE_DIE_AFTER ?? -1)) { process.stderr.write('boom\\n'); process.exit(3); }
    served++;
    log({ step: served });
    say({ s, cpu: s });
  }
  say({ served: true, peak_rss_mib: 123 });
}
`,
);
chmodSync(fake, 0o755);

function benchStep(args: string[], env: Record<string, string> = {}) {
  const logFile = join(dir, `log-${Math.random().toString(36).slice(2)}.jsonl`);
  writeFileSync(logFile, '');
  const r = spawnSync(
    process.execPath,
    [main, 'bench', 'step', '--preset', 'cpu-sudoku4', '--batch', '4', '--torch-reps', '1', '--json', ...args],
    { encoding: 'utf8', env: { ...process.env, TRM_PYTHON: fake, FAKE_LOG: logFile, ...env }, timeout: 120_000 },
  );
  const log = readFileSync(logFile, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map(l => JSON.parse(l));
  const top = r.status === 0 ? JSON.parse(r.stdout) : null;
  return { code: r.status, err: r.stderr, row: top?.rows[0] ?? null, top, log };
}

describe('interleaved rounds: lead steps', () => {
  it('run untimed steps until LEAD_S seconds of step time, and always one', async () => {
    const server = (s: number) => {
      const calls = { n: 0 };
      return { calls, step: async () => (calls.n++, { s, cpu: s }) };
    };
    // a fast step needs several to cover what the other process's steps leave behind; a slow one, one
    const fast = server(0.03),
      slow = server(0.5);
    expect(await leadSteps(fast, LEAD_S)).toBe(Math.ceil(LEAD_S / 0.03));
    expect(fast.calls.n).toBe(Math.ceil(LEAD_S / 0.03));
    expect(await leadSteps(slow, LEAD_S)).toBe(1);
    expect(await leadSteps(server(0.1), 0)).toBe(1);
  });
});

describe.runIf(existsSync(main))('bench step against PyTorch', () => {
  it('small configs alternate trm and the fastest PyTorch variant, round by round', () => {
    const { code, err, row, top, log } = benchStep(['--reps', '3']);
    expect(code, err).toBe(0);
    // the CPUs' evenness before and after the runs (bench/vcpus.ts): one probe per CPU, or why it was skipped
    for (const check of [top.cpus_before, top.cpus_after])
      if ('skipped' in check) expect(check.skipped).toMatch(/taskset|Linux/);
      else expect(check.cpus.map((c: { cpu: number }) => c.cpu)).toEqual(allowedCpus());
    // the probe ran every variant on its own; the 1-thread one (0.25 s) is the fastest
    const probes = log.filter(l => l.serve === false);
    expect(probes.length).toBeGreaterThanOrEqual(1);
    expect(row.torch_variants).toHaveLength(probes.length);
    // with two or more cores: torch's threads over OpenBLAS's own pool, over one BLAS thread, and one
    const cores = cpus().length;
    if (cores > 1)
      for (const [threads, blas] of [
        [cores, cores],
        [cores, 1],
        [1, 1],
      ])
        expect(
          probes.some(l => l.threads === threads && l.blasThreads === String(blas)),
          `${threads}/${blas}`,
        ).toBe(true);
    expect(row.torch_threads).toBe(1);
    // then one serving process of that variant, with its threads and OpenBLAS settings, served 3 timed steps
    const servers = log.filter(l => l.serve === true);
    expect(servers).toHaveLength(1);
    expect(servers[0]).toMatchObject({ threads: 1, blasThreads: '1' });
    // with its heap kept (glibc malloc settings; the caller's own GLIBC_TUNABLES win)
    expect(servers[0].glibc).toBe(process.env.GLIBC_TUNABLES ?? TORCH_GLIBC_TUNABLES);
    // (each timed step after LEAD_S of untimed ones of the same side: one 0.25 s step, so 6 served, 3 timed)
    expect(log.filter(l => l.step !== undefined)).toHaveLength(6);
    expect(row.interleaved_rounds).toBe(3);
    expect(row.torch_times_s).toEqual([0.25, 0.25, 0.25]);
    expect(row.torch_median_s).toBe(0.25);
    expect(row.torch_peak_rss_mib).toBe(123);
    expect(row.trm_times_s).toHaveLength(3);
    // The row's times are rounded to 0.1 ms and its ratios to 0.01, so a ratio recomputed from a time t is off
    // by up to 0.05 ms / t (a fixed 2% failed once, on a fast minute's 1.9 ms steps: 2.6%) and 0.005 more.
    const off = (t: number) => 0.5e-4 / t + 1e-3;
    const tMin = Math.min(...row.trm_times_s);
    const vsMedian = row.speedup_vs_torch / (0.25 / row.trm_median_s);
    expect(Math.abs(vsMedian - 1)).toBeLessThan(off(row.trm_median_s));
    // every round's ratio is 0.25 s over that round's trm step
    const ratios = row.trm_times_s.map((t: number) => 0.25 / t).sort((a: number, b: number) => a - b);
    expect(Math.abs(row.speedup_round_median / ratios[1] - 1)).toBeLessThan(off(tMin));
    const [q1, q3] = row.speedup_round_quartiles;
    expect(q1).toBeGreaterThanOrEqual(ratios[0] * (1 - off(tMin)));
    expect(q1).toBeLessThanOrEqual(row.speedup_round_median);
    expect(q3).toBeGreaterThanOrEqual(row.speedup_round_median);
    expect(q3).toBeLessThanOrEqual(ratios[2] * (1 + off(tMin)));
    expect(row.trm_peak_rss_mib).toBeGreaterThanOrEqual(row.acts_mib);
  });

  it('a slow PyTorch is bounded by --torch-budget, runs no lead steps, and shows its progress on stderr', () => {
    // 3 s a step (1 thread; 6 s on more): the probe's variants stop at 3 timed steps (9 s >= 5 s), the
    // rounds after 3 rounds (9 s of PyTorch's timed steps); at >= NO_LEAD_S a step, no untimed ones
    const { code, err, row, log } = benchStep(['--reps', '10', '--torch-reps', '10', '--torch-budget', '5'], {
      FAKE_STEP_S: '3',
    });
    expect(code, err).toBe(0);
    const probes = log.filter(l => l.serve === false);
    expect(probes.every(l => l.budget === 5)).toBe(true);
    expect(row.torch_variants.every((v: { times_s: number[] }) => v.times_s.length === 3)).toBe(true);
    expect(row.torch_median_s).toBe(3);
    expect(row.interleaved_rounds).toBe(3);
    expect(row.trm_times_s).toHaveLength(3);
    expect(row.interleave_note).toBe(
      "stopped after 3 of 10 rounds: PyTorch's timed steps reached the 5 s budget (--torch-budget)",
    );
    expect(log.filter(l => l.step !== undefined)).toHaveLength(3); // timed steps only
    for (let i = 1; i <= probes.length; i++)
      expect(err).toMatch(new RegExp(`bench step: cpu-sudoku4 fp32: PyTorch variant ${i}/${probes.length} \\(`));
    expect(err).toMatch(
      /PyTorch variant 1\/\d+ \(OPENBLAS_CORETYPE \w+, \d+ threads?.*\): [36] s\/step over 3 timed steps/,
    );
    // --torch-budget 0: no limit (the fp32 presets never reach the default)
    const all = benchStep(['--reps', '4', '--torch-reps', '5', '--torch-budget', '0'], { FAKE_STEP_S: '3' });
    expect(all.code, all.err).toBe(0);
    expect(all.log.filter(l => l.serve === false).every(l => l.budget === 0)).toBe(true);
    expect(all.row.interleaved_rounds).toBe(4);
    expect(all.row.interleave_note).toBeUndefined();
  });

  it('--no-interleave compares the probe: no serving process, no rounds', () => {
    const { code, err, row, log } = benchStep(['--reps', '2', '--no-interleave']);
    expect(code, err).toBe(0);
    expect(log.some(l => l.serve === true)).toBe(false);
    expect(row.interleaved_rounds).toBeUndefined();
    expect(row.torch_median_s).toBe(0.25);
    expect(row.trm_times_s).toHaveLength(2);
  });

  it('a PyTorch process that dies mid-run is one line in the row; trm is then timed on its own', () => {
    const { code, err, row } = benchStep(['--reps', '2'], { FAKE_DIE_AFTER: '1' });
    expect(code, err).toBe(0);
    expect(row.interleave_note).toMatch(/interleaved run failed \(torch reference stopped \(exit 3\): boom\)/);
    expect(row.interleaved_rounds).toBeUndefined();
    expect(row.torch_median_s).toBe(0.25); // the probe's
    expect(row.trm_times_s).toHaveLength(2);
  });

  it('a PyTorch that cannot start is one note for the row (not one per variant); trm is timed on its own', () => {
    const { code, err, row } = benchStep(['--reps', '2'], { TRM_PYTHON: join(dir, 'no-such-python') });
    expect(code, err).toBe(0);
    expect(row.torch_note).toMatch(/^torch reference failed \(.*no-such-python did not start\): [^;]*ENOENT$/);
    expect(row.torch_variants.length).toBeGreaterThanOrEqual(1);
    expect(row.interleaved_rounds).toBeUndefined();
    expect(row.trm_times_s).toHaveLength(2);
  });

  it('--interleave and --no-interleave exclude each other, and belong to the step suite', () => {
    const both = spawnSync(process.execPath, [main, 'bench', 'step', '--interleave', '--no-interleave'], {
      encoding: 'utf8',
    });
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/exclude each other/);
    const gemm = spawnSync(process.execPath, [main, 'bench', 'gemm', '--interleave'], { encoding: 'utf8' });
    expect(gemm.status).toBe(2);
    expect(gemm.stderr).toMatch(/options of the step suite/);
  });

  it('the trm step child serves steps until "end", then reports its peak RSS', async () => {
    const p = benchPreset('cpu-sudoku4', 2);
    const child = join(packageRoot, 'dist', 'bench', 'step-child.js');
    const s = await StepServer.start(
      'trm step',
      process.execPath,
      [child, JSON.stringify({ config: p.config, B: 2, repeats: 0, precision: 'fp32', serve: true })],
      { ...process.env, TRM_THREADS: '1' },
    );
    for (let i = 0; i < 2; i++) {
      const t = await s.step();
      expect(t.s).toBeGreaterThan(0);
      expect(t.cpu).toBeGreaterThan(0);
    }
    const last = await s.end();
    expect(last.maxRssMib).toBeGreaterThan(0);
    await expect(s.step()).rejects.toThrow(/trm step stopped \(exit 0\)/);
  });

  it('a server that cannot start is an error naming it', async () => {
    await expect(StepServer.start('torch reference', join(dir, 'no-such-python'), [], process.env)).rejects.toThrow(
      /torch reference stopped \(did not start\): .*ENOENT/,
    );
  });
});

const py = '/usr/bin/python3';
const hasTorch = existsSync(py) && spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
if (!hasTorch)
  console.log('SKIP: torch_step_bench.py --serve (no torch in /usr/bin/python3: apt-get install python3-torch)');

describe.runIf(hasTorch)('torch_step_bench.py --serve', () => {
  it('times one PyTorch step per request and ends with its peak RSS', async () => {
    const p = benchPreset('cpu-sudoku4', 2);
    const script = join(packageRoot, 'tools', 'torch_step_bench.py');
    const s = await StepServer.start(
      'torch reference',
      py,
      [script, '--model-json', JSON.stringify(p.config), '--batch', '2', '--warmup', '1', '--threads', '1', '--serve'],
      { ...process.env, OPENBLAS_NUM_THREADS: '1' },
    );
    for (let i = 0; i < 2; i++) expect((await s.step()).s).toBeGreaterThan(0);
    expect((await s.end()).peak_rss_mib).toBeGreaterThan(0);
  });

  it('--budget-s stops the timed steps once they add up to the budget, after 3', () => {
    const p = benchPreset('cpu-sudoku4', 2);
    const script = join(packageRoot, 'tools', 'torch_step_bench.py');
    const run = (budget: string) => {
      const r = spawnSync(
        py,
        [
          script,
          '--model-json',
          JSON.stringify(p.config),
          '--batch',
          '2',
          '--warmup',
          '0',
          '--repeats',
          '6',
          '--threads',
          '1',
          '--budget-s',
          budget,
        ],
        { encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' } },
      );
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout.trim().split('\n').pop()!).times_s.length;
    };
    expect(run('0.000001')).toBe(3);
    expect(run('0')).toBe(6);
  });
});
