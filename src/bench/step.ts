/**
 * bench/step.ts: time one training supervision step (embedding, T(n+1) net calls of which the
 * last n+1 keep activations, heads, loss, backward through n+1 calls; no optimizer) for any preset
 * (`--preset`: the paper's Sudoku configs at B = 64 by default, or a CPU training preset at its
 * batch size) and precision (`--precision`, PRECISIONS below). Each row: steps/s, GFLOP/s of
 * matrix work (the FLOP estimate of tools/torch_step_bench.py) against the measured fp32 FMA peak,
 * peak RSS, and the same step in the PyTorch reference (tools/torch_step_bench.py, Debian's
 * python3) at its best on this machine: OpenBLAS with its AVX-512 kernels forced (SkylakeX) and
 * with its own choice, torch threads = cores and (small configs) cores over one OpenBLAS thread
 * and 1, the fastest compared. The trm step runs in a child process (step-child.ts) so its peak RSS
 * is its own. Small configs (and any with --interleave) are then compared in rounds that alternate
 * one timed trm step with one timed step of PyTorch's fastest variant, each after its own untimed
 * lead steps, both processes alive (step-server.ts). Before and after the runs each CPU is probed
 * alone (vcpus.ts: `cpus_before`, `cpus_after`), so a figure from minutes when one vCPU ran slower
 * says so. `trm bench step`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { type ServedStep, StepServer } from './step-server.js';
import { checkVcpusSaying } from './vcpus.js';
import { bestPeak } from './gemm.js';
import { fileURLToPath } from 'node:url';
import {
  addon,
  backendInfo,
  device,
  fill,
  gemmPrecision,
  nativeDevice,
  packageRoot,
  setDevice,
  sizeOf,
  upload,
  type Precision as GemmPrecision,
} from '../kernels/index.js';
import { useBackendChoice } from '../cli/backend.js';
import { UsageError } from '../errors.js';
import type { WebGpuDevice } from '../webgpu/device.js';
import { fmaPeak as gpuPeak } from '../webgpu/peak.js';
import {
  allocActs,
  actsBytes,
  type Batch,
  createParams,
  dims,
  startCarry,
  presets,
  resolveConfig,
  supervisionStep,
  type TrmConfig,
  weightsView,
} from '../model/index.js';
import { resolveTrainConfig, trainPresets } from '../train/config.js';

/** Matrix FLOPs of one training step: forward T(n+1) calls, backward 2x forward for n+1 calls, heads. */
export function stepFlops(c: TrmConfig, B: number): number {
  const d = dims(c, B),
    tokens = B * d.S;
  let perBlock = 2 * tokens * (d.D * 2 * d.I + d.I * d.D);
  if (c.mlp_t) perBlock += 2 * B * d.D * (d.S * 2 * d.Is + d.Is * d.S);
  else perBlock += 2 * tokens * (d.D * 3 * d.D + d.D * d.D) + 2 * 2 * B * d.S * d.S * d.D;
  const perCall = c.L_layers * perBlock;
  const heads = 2 * B * d.L * d.D * d.V + 2 * B * d.D * 2;
  return c.H_cycles * (c.L_cycles + 1) * perCall + heads + 2 * ((c.L_cycles + 1) * perCall + heads);
}

// ---- the axes: presets and precisions ------------------------------------------------------------

/** A config to time: the model (data sizes filled in) and the batch size. */
export interface BenchPreset {
  name: string;
  config: TrmConfig;
  B: number;
}

/** The paper configs under their old bench names too ('mlp', 'att'). */
const paperAliases: Record<string, string> = { mlp: 'paper-sudoku-mlp', att: 'paper-sudoku-att' };

/** Every name `--preset` takes. */
export function benchPresetNames(): string[] {
  return [...Object.keys(trainPresets), ...Object.keys(paperAliases)];
}

/** A training preset as the step bench times it: its model with the data sizes of its Sudoku
 *  (an n x n grid: seq_len n^2, vocab n + 2; the paper presets 9x9) and its batch size (the
 *  paper presets: 64, not their GPU batch of 768). `batch` overrides. */
export function benchPreset(name: string, batch?: number): BenchPreset {
  const full = paperAliases[name] ?? name;
  if (!(full in trainPresets))
    throw new UsageError(`bench step: unknown preset '${name}' (presets: ${benchPresetNames().join(', ')})`);
  const paper = full.startsWith('paper-');
  const t = resolveTrainConfig(full, {});
  const side = Number(/sudoku(\d+)$/.exec(full)?.[1] ?? 9);
  const model = paper ? (full.endsWith('att') ? presets.sudokuAtt : presets.sudokuMlp) : t.model;
  return {
    name: full,
    config: resolveConfig({ ...model, seq_len: side * side, vocab_size: side + 2, num_puzzle_identifiers: 1 }),
    B: batch ?? (paper ? 64 : t.batch_size),
  };
}

/** How each precision runs. The extension point of the precision axis: a precision names how trm
 *  runs it (the config it steps with, or why this build cannot) and how the PyTorch reference does
 *  (tools/torch_step_bench.py --precision). */
export interface Precision {
  trm(c: TrmConfig): TrmConfig | { unsupported: string };
  /** the GEMM precision the trm step runs its products in (setGemmPrecision in the child) */
  gemm: GemmPrecision;
  torchArgs: string[];
}

export const PRECISIONS: Record<string, Precision> = {
  fp32: { trm: c => c, gemm: 'fp32', torchArgs: ['--precision', 'fp32'] },
  // trm: every product's operands in bf16 (VDPBF16PS where the CPU has AVX512_BF16, emulated
  // rounding at fp32 speed elsewhere), norms/losses/optimizer fp32; PyTorch: CPU autocast bf16
  bf16: { trm: c => c, gemm: 'bf16', torchArgs: ['--precision', 'bf16'] },
};

/** `--precision a,b` into known names (a usage error names the known ones). */
export function parsePrecisions(s: string | undefined): string[] {
  const list = (s ?? 'fp32').split(',').map(x => x.trim());
  for (const p of list)
    if (!(p in PRECISIONS))
      throw new UsageError(`bench step: unknown precision '${p}' (precisions: ${Object.keys(PRECISIONS).join(', ')})`);
  return [...new Set(list)];
}

// ---- timing --------------------------------------------------------------------------------------

/** One row of the bench's JSON output. */
export interface StepRow {
  preset: string;
  config: string;
  B: number;
  precision: string;
  threads: number;
  peak_gflops: number;
  loadavg: number[];
  trm_median_s: number;
  trm_times_s: number[];
  /** CPU time of the process per step (all threads): on a shared machine, with 1 thread, the
   *  figure that load does not inflate */
  trm_cpu_median_s: number;
  trm_steps_per_s: number;
  gflop: number;
  trm_gflops: number;
  peak_fraction: number;
  acts_mib: number;
  trm_peak_rss_mib: number | null;
  torch_median_s: number | null;
  torch_cpu_median_s: number | null;
  torch_steps_per_s: number | null;
  torch_gflops: number | null;
  torch_peak_rss_mib: number | null;
  torch_blas?: string;
  torch_threads?: number;
  torch_blas_threads?: number;
  torch_variants?: TorchRun[];
  speedup_vs_torch: number | null;
  /** interleaved runs: PyTorch's timed steps (its best variant), one per round */
  torch_times_s?: number[];
  /** interleaved runs: rounds of one trm and one PyTorch step each */
  interleaved_rounds?: number;
  /** interleaved runs: the median over rounds of PyTorch's step / trm's step in that round */
  speedup_round_median?: number;
  /** interleaved runs: the first and third quartiles of those ratios (how steady the machine was) */
  speedup_round_quartiles?: [number, number];
  interleave_note?: string;
  torch_note?: string;
  trm_note?: string;
}

/** fp32 FMA peak of `threads` threads now (GFLOP/s): the best of three short register-only runs. */
function measurePeak(threads: number): number {
  return addon ? bestPeak(threads, 0.3) : NaN;
}

/** The q-quantile of v, linear between the closest ranks. */
function quantile(v: number[], q: number): number {
  const s = [...v].sort((a, b) => a - b),
    x = q * (s.length - 1),
    i = Math.floor(x);
  return i + 1 < s.length ? s[i] + (x - i) * (s[i + 1] - s[i]) : s[i];
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** A prepared trm training step on the active device: parameters, activations and a batch made
 *  once; `step()` runs one supervision step from a fresh carry and returns its wall and CPU time. */
export function prepareTrmStep(c: TrmConfig, B: number): { step: () => Promise<ServedStep>; actsMib: number } {
  const w = createParams(c, 0),
    g = weightsView(c),
    a = allocActs(c, B, gemmPrecision()); // a bf16 step keeps its SwiGLU activations in bf16
  const { L, S } = a.d;
  const batch: Batch = {
    inputs: upload(Int32Array.from({ length: B * L }, (_, i) => (i * 7 + 3) % c.vocab_size)),
    labels: upload(Int32Array.from({ length: B * L }, (_, i) => 1 + ((i * 5) % (c.vocab_size - 1)))),
    puzzleIds: upload(new Int32Array(B)),
  };
  const step = async (): Promise<ServedStep> => {
    const carry = startCarry(c, w, B, S, { mode: 'static', scale: 1, training: false }, null);
    fill(g.data, 0, sizeOf(g.data));
    await device().flush();
    const c0 = process.cpuUsage(),
      t0 = performance.now();
    supervisionStep(c, w, a, carry, batch, g, 1 / B);
    await device().flush(); // a GPU device runs the recorded step here
    const c1 = process.cpuUsage(c0);
    return { s: (performance.now() - t0) / 1000, cpu: (c1.user + c1.system) / 1e6 };
  };
  return { step, actsMib: actsBytes(a) / 2 ** 20 };
}

/** One warm-up step then `repeats` timed ones on the active device (step-child.ts runs this). */
export async function timeTrm(
  c: TrmConfig,
  B: number,
  repeats: number,
): Promise<{ times: number[]; cpuTimes: number[]; actsMib: number }> {
  const { step, actsMib } = prepareTrmStep(c, B);
  await step(); // warm-up
  const times: number[] = [],
    cpuTimes: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const t = await step();
    times.push(t.s);
    cpuTimes.push(t.cpu);
  }
  return { times, cpuTimes, actsMib };
}

/** The trm side's own process (step-child.ts, compiled next to this module). */
const STEP_CHILD = join(fileURLToPath(new URL('.', import.meta.url)), 'step-child.js');

/** The trm step in a child process (native device, `threads` threads): times and peak RSS. */
function timeTrmChild(
  c: TrmConfig,
  B: number,
  repeats: number,
  threads: number,
  precision: GemmPrecision,
): { times: number[]; cpuTimes: number[]; actsMib: number; maxRssMib: number } | string {
  const res = spawnSync(process.execPath, [STEP_CHILD, JSON.stringify({ config: c, B, repeats, precision })], {
    env: { ...process.env, TRM_THREADS: String(threads) },
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (res.status !== 0)
    return `trm step failed (${res.signal ? `killed by ${res.signal}` : `exit ${res.status}`}): ${(res.stderr || res.error?.message || '').trim().split('\n').pop()}`;
  try {
    return JSON.parse(res.stdout.trim().split('\n').pop()!);
  } catch {
    return `cannot parse the trm step's output: ${res.stdout.slice(0, 200)}`;
  }
}

/** glibc malloc settings of the PyTorch process (torchEnv says why). */
export const TORCH_GLIBC_TUNABLES = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=17179869184';

/**
 * The environment of the PyTorch process for one OpenBLAS kernel choice: OPENBLAS_CORETYPE /
 * OPENBLAS_L2_SIZE from the caller are dropped, then `core` is named ('' = OpenBLAS chooses).
 * OPENBLAS_NUM_THREADS is blasThreads (the run's thread count unless said). Debian 12's OpenBLAS
 * (0.3.21) does not know Sapphire/Emerald Rapids and falls back to SSE3 "Prescott" kernels there (21
 * vs 87 GFLOP/s on one thread), while on the AMD machine its own choice ran the MLP step 2x faster
 * than forced SkylakeX: so the bench times both.
 */
export function torchEnv(core: string, threads: number, blasThreads = threads): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  if (core) env.OPENBLAS_CORETYPE = core;
  // OpenBLAS's own pool does not follow torch.set_num_threads: without this a "1-thread" run used
  // a second, spinning BLAS thread (measured: 3x the CPU time per step on the small presets)
  env.OPENBLAS_NUM_THREADS = String(blasThreads);
  env.OPENBLAS_VERBOSE = '2'; // OpenBLAS prints "Core: <name>" on stderr: reported with the result
  // glibc's malloc gives blocks over its (dynamic) mmap threshold back to the OS when freed and trims
  // the heap, so every step of an eager PyTorch loop maps its activations afresh. Where page faults are
  // slow (a 2-vCPU KVM host: 10 us per 4 KiB page, 2026-12-02) that made the PyTorch cpu-sudoku4 step
  // 5.5x slower (0.267 -> 0.048 s, one thread) than with the heap kept, what tcmalloc or jemalloc would
  // give it. PyTorch at its best keeps it: the largest fixed mmap threshold (32 MiB) and no trimming,
  // unless the caller set GLIBC_TUNABLES.
  env.GLIBC_TUNABLES ??= TORCH_GLIBC_TUNABLES;
  return env;
}

/** The OpenBLAS kernel choices to time: TRM_TORCH_OPENBLAS_CORETYPE alone if set ('' = OpenBLAS's
 *  own), else OpenBLAS's own plus SkylakeX on an AVX-512 CPU. */
export function torchCoreTypes(): string[] {
  const forced = process.env.TRM_TORCH_OPENBLAS_CORETYPE;
  if (forced !== undefined) return [forced];
  const avx512 = addon?.info().features.avx512f && addon?.info().features.osAvx512;
  return avx512 ? ['SkylakeX', ''] : [''];
}

/** The OpenBLAS kernel set a PyTorch run used, read from its OPENBLAS_VERBOSE output. */
function blasCore(stderr: string): string {
  const m = /Core: (\S+)/.exec(stderr);
  return m ? `OpenBLAS ${m[1]}` : 'not OpenBLAS (reference BLAS is slow: apt-get install libopenblas0-pthread)';
}

/** "2 threads", or "2 threads (OpenBLAS 1)" where OpenBLAS's pool is smaller than torch's. */
function torchThreadsText(threads?: number, blasThreads?: number): string {
  return `${threads} thread${threads === 1 ? '' : 's'}${blasThreads !== undefined && blasThreads !== threads ? ` (OpenBLAS ${blasThreads})` : ''}`;
}

/** One PyTorch timing: which OpenBLAS kernels were asked for and what came back. */
export interface TorchRun {
  openblas_coretype: string; // 'auto' = OpenBLAS's own choice
  threads: number; // torch's (intra-op)
  blas_threads: number; // OpenBLAS's (OPENBLAS_NUM_THREADS)
  median_s?: number;
  times_s?: number[];
  cpu_median_s?: number;
  blas?: string;
  peak_rss_mib?: number;
  error?: string;
}

/** The PyTorch reference's command line (tools/torch_step_bench.py under Debian's python3, or
 *  TRM_PYTHON: the interpreter that has torch where Debian's python3 does not, a venv). */
function torchCommand(
  c: TrmConfig,
  B: number,
  precision: string,
  threads: number,
  warmup: number,
  repeats: number,
  serve: boolean,
  budgetS = 0,
): { py: string; args: string[] } | { error: string } {
  const script = join(packageRoot, 'tools', 'torch_step_bench.py');
  const py = process.env.TRM_PYTHON || (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
  if (!existsSync(script)) return { error: `${script} not found` };
  const args = [
    script,
    '--model-json',
    JSON.stringify(c),
    '--batch',
    String(B),
    '--warmup',
    String(warmup),
    '--repeats',
    String(repeats),
    '--threads',
    String(threads),
    ...PRECISIONS[precision].torchArgs,
    ...(budgetS > 0 ? ['--budget-s', String(budgetS)] : []),
  ];
  return { py, args: serve ? [...args, '--serve'] : args };
}

function runTorch(
  c: TrmConfig,
  B: number,
  precision: string,
  core: string,
  threads: number,
  blasThreads: number,
  warmup: number,
  repeats: number,
  budgetS: number,
): TorchRun {
  const run: TorchRun = { openblas_coretype: core || 'auto', threads, blas_threads: blasThreads };
  const cmd = torchCommand(c, B, precision, threads, warmup, repeats, false, budgetS);
  if ('error' in cmd) return { ...run, error: cmd.error };
  const res = spawnSync(cmd.py, cmd.args, {
    env: torchEnv(core, threads, blasThreads),
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (res.status !== 0) {
    const why = res.signal
      ? `killed by ${res.signal}${res.signal === 'SIGKILL' ? ' (out of memory?)' : ''}`
      : res.status === null
        ? `${cmd.py} did not start`
        : `exit ${res.status}`;
    return {
      ...run,
      error: `torch reference failed (${why}): ${(res.stderr || res.error?.message || '').trim().split('\n').pop()}`,
    };
  }
  try {
    const r = JSON.parse(res.stdout.trim().split('\n').pop()!) as {
      median_s: number;
      times_s: number[];
      cpu_median_s: number;
      peak_rss_mib: number;
    };
    return {
      ...run,
      median_s: r.median_s,
      times_s: r.times_s,
      cpu_median_s: r.cpu_median_s,
      peak_rss_mib: r.peak_rss_mib,
      blas: blasCore(res.stderr),
    };
  } catch {
    return { ...run, error: `cannot parse torch output: ${res.stdout.slice(0, 200)}` };
  }
}

/** Untimed lead steps before each timed one in the interleaved rounds, in seconds of step time. */
export const LEAD_S = 0.2;

/** A side whose steps take this long (seconds) runs no lead steps: the ~0.1 s a step runs slow after
 *  the other process's steps is under 5% of it, and a lead step would double the round (PyTorch's CPU
 *  autocast bf16 without bf16 hardware, 2-vCPU Zen 2: 1.8 s at cpu-sudoku4, 12 s at cpu-sudoku9, 20-35x
 *  its fp32 step). */
export const NO_LEAD_S = 2;

/** Default of `--torch-budget`: seconds of PyTorch's timed steps per variant in the probe and in the
 *  interleaved rounds, after 3 steps at least. The fp32 presets never reach it (cpu-sudoku9's 30
 *  rounds: ~11 s); it bounds a reference that runs 20x slower than usual. */
export const TORCH_BUDGET_S = 60;

/** Seconds between two progress lines of the interleaved rounds. */
const PROGRESS_S = 10;

/** Untimed steps of one server until their step times add up to minS seconds (one at least). */
export async function leadSteps(server: { step(): Promise<ServedStep> }, minS: number): Promise<number> {
  let n = 0;
  for (let t = 0; n === 0 || t < minS; n++) t += (await server.step()).s;
  return n;
}

/** trm's and PyTorch's steps alternating in one run (interleaveSteps). */
interface Interleaved {
  trm: ServedStep[];
  torch: ServedStep[];
  trmActsMib: number;
  trmMaxRssMib: number | null;
  torchPeakRssMib: number | null;
}

/**
 * The trm step (a child process, `threads` threads) and PyTorch's (one variant: its OpenBLAS kernels
 * and threads) side by side, each serving one step at a time (step-server.ts): `rounds` rounds of
 * untimed steps (leadSteps) and one timed step each, the order swapped every round, so the two see
 * the same machine. Both processes hold their activations at once. Throws with the failing side's
 * last error line.
 */
async function interleaveSteps(
  cfg: TrmConfig,
  torchCfg: TrmConfig,
  B: number,
  threads: number,
  precision: string,
  variant: TorchRun,
  torchWarmup: number,
  rounds: number,
  budgetS: number,
  onRound: (r: number, trm: ServedStep, torch: ServedStep) => void,
): Promise<Interleaved> {
  const cmd = torchCommand(torchCfg, B, precision, variant.threads, torchWarmup, 0, true);
  if ('error' in cmd) throw new Error(cmd.error);
  const servers: StepServer[] = [];
  try {
    const trm = await StepServer.start(
      'trm step',
      process.execPath,
      [STEP_CHILD, JSON.stringify({ config: cfg, B, repeats: 0, precision: PRECISIONS[precision].gemm, serve: true })],
      { ...process.env, TRM_THREADS: String(threads) },
    );
    servers.push(trm);
    const core = variant.openblas_coretype === 'auto' ? '' : variant.openblas_coretype;
    const torch = await StepServer.start(
      'torch reference',
      cmd.py,
      cmd.args,
      torchEnv(core, variant.threads, variant.blas_threads),
    );
    servers.push(torch);
    const out: Interleaved = {
      trm: [],
      torch: [],
      trmActsMib: NaN,
      trmMaxRssMib: null,
      torchPeakRssMib: null,
    };
    // Each side's timed step follows untimed ones of its own, LEAD_S seconds of them at least: right after
    // the other process's steps, a step runs slow for about 0.1 s (2-vCPU Zen 5, cpu-sudoku9: trm's
    // first two steps after a PyTorch step 0.060-0.074 s, then 0.057-0.058; the same with PyTorch's
    // threads told to sleep at once, so not their spinning). One lead step hid that for PyTorch's
    // 0.17 s step but not for trm's 0.06 s one, whose timed step read 20% slower than on its own.
    // Waiting idle instead cost more: after 60 ms idle this host's vCPUs ran trm's cpu-sudoku4 step
    // 1.25x slower (caches and predictors gone cold), where training runs its steps back to back.
    const slow = (steps: ServedStep[], probe?: number) => (steps.at(-1)?.s ?? probe ?? 0) >= NO_LEAD_S;
    const trmStep = async () => {
      if (!slow(out.trm)) await leadSteps(trm, LEAD_S);
      out.trm.push(await trm.step());
    };
    const torchStep = async () => {
      if (!slow(out.torch, variant.median_s)) await leadSteps(torch, LEAD_S);
      out.torch.push(await torch.step());
    };
    let torchS = 0;
    for (let r = 0; r < rounds && (r < 3 || budgetS <= 0 || torchS < budgetS); r++) {
      if (r % 2 === 0) {
        await trmStep();
        await torchStep();
      } else {
        await torchStep();
        await trmStep();
      }
      torchS += out.torch[r].s;
      onRound(r, out.trm[r], out.torch[r]);
    }
    const t = await trm.end(),
      p = await torch.end();
    out.trmActsMib = Number(t.actsMib);
    out.trmMaxRssMib = typeof t.maxRssMib === 'number' ? t.maxRssMib : null;
    out.torchPeakRssMib = typeof p.peak_rss_mib === 'number' ? p.peak_rss_mib : null;
    return out;
  } finally {
    for (const s of servers) s.kill();
  }
}

/** A row's PyTorch figures from its median step (wall and CPU seconds) and peak RSS. */
function torchFigures(medianS: number, cpuMedianS: number | null, peakRssMib: number | null, gflop: number) {
  return {
    torch_median_s: +medianS.toFixed(4),
    torch_cpu_median_s: cpuMedianS === null ? null : +cpuMedianS.toFixed(4),
    torch_steps_per_s: +(1 / medianS).toPrecision(4),
    torch_gflops: +(gflop / medianS).toFixed(1),
    torch_peak_rss_mib: peakRssMib,
  };
}

/** Configs under this many GFLOP per step count as small: more repetitions, torch also on 1 thread. */
const SMALL_GFLOP = 100;

/** `trm bench step`: one row per (preset, precision). json prints one JSON line; repeats = timed trm
 *  steps after one warm-up (small configs 30, else 3); torch = false skips the PyTorch reference;
 *  torchRepeats = its timed steps per variant (small configs 10 after 2 warm-ups, else 1 without).
 *  interleave (default: small configs, on the CPU) then runs `repeats` rounds of one trm step and
 *  one step of PyTorch's fastest variant, alternating, and compares those: on a shared machine the
 *  speed drifts between one process's run and the next. */
export async function benchStep(opts: {
  json: boolean;
  presets?: string[];
  precisions?: string[];
  batch?: number;
  repeats?: number;
  torch?: boolean;
  torchRepeats?: number;
  /** seconds of PyTorch's timed steps per variant and per interleaved run (TORCH_BUDGET_S; 0: no limit) */
  torchBudget?: number;
  backend?: string;
  /** alternate trm's and PyTorch's steps (default: for small configs) */
  interleave?: boolean;
}): Promise<void> {
  const threads = backendInfo().threads;
  const chosen = (opts.presets ?? ['paper-sudoku-mlp', 'paper-sudoku-att']).map(p => benchPreset(p, opts.batch));
  const precisions = opts.precisions ?? ['fp32'];
  const backend = await useBackendChoice(opts.backend),
    gpu = device().name === 'webgpu' ? (device() as WebGpuDevice) : null;
  if (gpu && !opts.json)
    process.stdout.write(
      `backend ${backend}${gpu.isSwiftShader ? ': SwiftShader numbers are correctness only, not GPU speed' : ''}\n`,
    );
  // whether the CPUs ran alike before and after the runs (bench/vcpus.ts): one vCPU slowed by a
  // neighbour makes a two-thread figure read low for reasons the code does not have
  const cpuCheck = gpu ? null : checkVcpusSaying('before the runs', opts.json);
  const rows: StepRow[] = [];
  const log = (s: string) => {
    if (!opts.json) process.stdout.write(`${s}\n`);
  };
  // what a long run is doing, on stderr (stdout is the result, JSON with --json): each PyTorch variant
  // as it ends, the interleaved rounds every PROGRESS_S
  const progress = (s: string) => process.stderr.write(`bench step: ${s}\n`);
  const budgetS = opts.torchBudget ?? TORCH_BUDGET_S;
  log(
    `trm bench step: backend ${backendInfo().backend} (${backendInfo().isa}, ${threads} threads), load average ${loadavg()
      .map(v => v.toFixed(1))
      .join(' ')}`,
  );
  for (const p of chosen)
    for (const precision of precisions) {
      const B = p.B,
        small = stepFlops(p.config, B) / 1e9 < SMALL_GFLOP;
      const gflop = stepFlops(p.config, B) / 1e9;
      const row: StepRow = {
        preset: p.name,
        config: `D=${p.config.hidden_size} n=${p.config.L_cycles} T=${p.config.H_cycles} layers=${p.config.L_layers} S=${dims(p.config, B).S} ${p.config.mlp_t ? 'mlp_t' : p.config.pos_encodings}`,
        B,
        precision,
        threads,
        peak_gflops: NaN,
        loadavg: [],
        trm_median_s: NaN,
        trm_times_s: [],
        trm_cpu_median_s: NaN,
        trm_steps_per_s: NaN,
        gflop: +gflop.toFixed(2),
        trm_gflops: NaN,
        peak_fraction: NaN,
        acts_mib: NaN,
        trm_peak_rss_mib: null,
        torch_median_s: null,
        torch_cpu_median_s: null,
        torch_steps_per_s: null,
        torch_gflops: null,
        torch_peak_rss_mib: null,
        speedup_vs_torch: null,
      };
      const cfg = PRECISIONS[precision].trm(p.config);
      // PyTorch's variants first, each on its own: the fastest is the one compared (and, when the
      // run interleaves, the one that alternates with trm's steps below)
      let bestTorch: TorchRun | undefined;
      if (opts.torch === false) row.torch_note = 'skipped';
      else {
        const cores = cpus().length,
          runs: TorchRun[] = [];
        // small configs: also one thread, and torch's threads over one BLAS thread (where waking
        // OpenBLAS's pool for each small product costs more than it gains: cpu-sudoku9 fp32 on a
        // 2-vCPU Zen 5, 0.163 s against 0.171 s on one thread and 0.32 s with both pools on two)
        const variants: [number, number][] =
          small && cores > 1
            ? [
                [cores, cores],
                [cores, 1],
                [1, 1],
              ]
            : [[cores, cores]];
        const todo = torchCoreTypes().flatMap(core => variants.map(([t, bt]) => ({ core, t, bt })));
        for (const [i, { core, t, bt }] of todo.entries()) {
          const t0 = performance.now();
          const r = runTorch(
            p.config,
            B,
            precision,
            core,
            t,
            bt,
            small ? 2 : 0,
            opts.torchRepeats ?? (small ? 10 : 1),
            budgetS,
          );
          runs.push(r);
          progress(
            `${p.name} ${precision}: PyTorch variant ${i + 1}/${todo.length} (OPENBLAS_CORETYPE ${r.openblas_coretype}, ${torchThreadsText(t, bt)}): ${r.error ? 'failed' : `${r.median_s} s/step over ${r.times_s?.length} timed steps`} (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
          );
        }
        row.torch_variants = runs;
        const ok = runs.filter(r => r.median_s !== undefined).sort((a, b) => a.median_s! - b.median_s!);
        if (!ok.length)
          row.torch_note = [...new Set(runs.map(r => r.error))].join('; '); // (often one error, every variant)
        else {
          const best = ok[0];
          bestTorch = best;
          Object.assign(row, torchFigures(best.median_s!, best.cpu_median_s ?? null, best.peak_rss_mib ?? null, gflop));
          row.torch_blas = `${best.blas} (OPENBLAS_CORETYPE ${best.openblas_coretype})`;
          row.torch_threads = best.threads;
          row.torch_blas_threads = best.blas_threads;
        }
      }
      if ('unsupported' in cfg) {
        row.trm_note = cfg.unsupported;
        rows.push(row);
        log(`  ${p.name} ${precision}: trm cannot run it here: ${cfg.unsupported}`);
        continue;
      }
      const repeats = opts.repeats ?? (small ? 30 : 3);
      const peakBefore = gpu ? await gpuPeak(gpu.gpu) : measurePeak(threads);
      let times: number[] = [],
        cpuTimes: number[] = [],
        actsMib = NaN;
      if (!gpu && bestTorch && (opts.interleave ?? small)) {
        try {
          let shown = performance.now();
          const iv = await interleaveSteps(
            cfg,
            p.config,
            B,
            threads,
            precision,
            bestTorch,
            small ? 2 : 1,
            repeats,
            budgetS,
            (r, a, b) => {
              if (performance.now() - shown < PROGRESS_S * 1000) return;
              shown = performance.now();
              progress(
                `${p.name} ${precision}: round ${r + 1}/${repeats} (trm ${a.s.toFixed(4)} s, PyTorch ${b.s.toFixed(4)} s)`,
              );
            },
          );
          times = iv.trm.map(x => x.s);
          cpuTimes = iv.trm.map(x => x.cpu);
          actsMib = iv.trmActsMib;
          row.trm_peak_rss_mib = iv.trmMaxRssMib;
          const ratios = iv.trm.map((x, i) => iv.torch[i].s / x.s);
          Object.assign(
            row,
            torchFigures(median(iv.torch.map(x => x.s)), median(iv.torch.map(x => x.cpu)), iv.torchPeakRssMib, gflop),
            {
              torch_times_s: iv.torch.map(x => +x.s.toFixed(4)),
              interleaved_rounds: iv.trm.length,
              speedup_round_median: +median(ratios).toFixed(2),
              speedup_round_quartiles: [quantile(ratios, 0.25), quantile(ratios, 0.75)].map(x => +x.toFixed(2)),
            },
          );
          if (iv.trm.length < repeats) {
            row.interleave_note = `stopped after ${iv.trm.length} of ${repeats} rounds: PyTorch's timed steps reached the ${budgetS} s budget (--torch-budget)`;
            log(`    ${row.interleave_note}`);
          }
        } catch (e) {
          row.interleave_note = `the interleaved run failed (${(e as Error).message}); trm timed on its own`;
          log(`    ${row.interleave_note}`);
        }
      }
      if (gpu) {
        ({ times, cpuTimes, actsMib } = await timeTrm(cfg, B, repeats));
      } else if (!times.length) {
        const r = timeTrmChild(cfg, B, repeats, threads, PRECISIONS[precision].gemm);
        if (typeof r === 'string') {
          row.trm_note = r;
          rows.push(row);
          log(`  ${p.name} ${precision}: ${r}`);
          continue;
        }
        ({ times, cpuTimes, actsMib } = r);
        row.trm_peak_rss_mib = r.maxRssMib;
      }
      const med = median(times);
      const peak = Math.max(peakBefore, gpu ? await gpuPeak(gpu.gpu) : measurePeak(threads)); // the device's best around the timing
      if (gpu && nativeDevice) {
        // the same step on this host's native CPU kernels, for the GPU / CPU ratio
        const prev = setDevice(nativeDevice);
        const cpu = median((await timeTrm(cfg, B, 1)).times);
        setDevice(prev ?? gpu);
        log(`    native CPU on this host: ${cpu.toFixed(3)} s/step; webgpu is ${(cpu / med).toFixed(1)}x`);
      }
      Object.assign(row, {
        peak_gflops: +peak.toFixed(1),
        loadavg: loadavg().map(v => +v.toFixed(2)),
        trm_median_s: +med.toFixed(4),
        trm_times_s: times.map(x => +x.toFixed(4)),
        trm_cpu_median_s: +median(cpuTimes).toFixed(4),
        trm_steps_per_s: +(1 / med).toPrecision(4),
        trm_gflops: +(gflop / med).toFixed(1),
        peak_fraction: +(gflop / med / peak).toFixed(3),
        acts_mib: Math.round(actsMib),
      });
      if (row.torch_median_s !== null) row.speedup_vs_torch = +(row.torch_median_s / med).toFixed(2);
      log(
        `  ${p.name} (${row.config}, B=${B}, ${precision}): trm ${med.toFixed(4)} s/step = ${row.trm_steps_per_s} steps/s (${row.trm_gflops} GFLOP/s, ${(100 * row.peak_fraction).toFixed(0)}% of the measured fp32 peak ${peak.toFixed(0)} GFLOP/s; ${gflop.toFixed(1)} GFLOP; activations ${row.acts_mib} MiB; peak RSS ${row.trm_peak_rss_mib ?? '-'} MiB; CPU ${row.trm_cpu_median_s} s/step)`,
      );
      log(
        row.torch_note
          ? `    pytorch: ${row.torch_note}`
          : `    pytorch ${row.torch_median_s} s/step = ${row.torch_steps_per_s} steps/s (${row.torch_gflops} GFLOP/s, ${row.torch_blas}, ${torchThreadsText(row.torch_threads, row.torch_blas_threads)}; peak RSS ${row.torch_peak_rss_mib} MiB; CPU ${row.torch_cpu_median_s} s/step): trm is ${row.speedup_vs_torch}x faster${row.interleaved_rounds ? ` (${row.interleaved_rounds} rounds, trm and PyTorch alternating; per round: median ${row.speedup_round_median}x, quartiles ${row.speedup_round_quartiles?.join('-')}x)` : ''}`,
      );
      for (const v of row.torch_variants ?? [])
        log(
          `      torch OPENBLAS_CORETYPE ${v.openblas_coretype}, ${torchThreadsText(v.threads, v.blas_threads)}, on its own: ${v.error ?? `${v.median_s} s/step (${v.blas})`}`,
        );
      rows.push(row);
    }
  const cpuAfter = cpuCheck ? checkVcpusSaying('after the runs', opts.json) : null;
  if (opts.json)
    process.stdout.write(
      `${JSON.stringify({ bench: 'step', backend: backendInfo(), threads, cpus_before: cpuCheck, cpus_after: cpuAfter, rows })}\n`,
    );
}
