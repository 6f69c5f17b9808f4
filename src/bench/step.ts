/**
 * bench/step.ts: time one training supervision step (embedding, T(n+1) net calls of which the
 * last n+1 keep activations, heads, loss, backward through n+1 calls; no optimizer) for the paper's
 * Sudoku configs (D 512, n 6, T 3; MLP token mixer and RoPE attention) at batch B (default 64).
 * Reports GFLOP/s of matrix work (the FLOP estimate of tools/torch_step_bench.py) against the
 * measured fp32 FMA peak, and the same step in the PyTorch reference (tools/torch_step_bench.py,
 * run with Debian's python3, torch threads = cores, OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset) as a
 * ratio. Called by `trm bench step [--json]`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import {
  addon,
  backendInfo,
  device,
  fill,
  nativeDevice,
  packageRoot,
  setDevice,
  sizeOf,
  upload,
} from '../kernels/index.js';
import { useBackendChoice } from '../cli/backend.js';
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

interface Row {
  config: string;
  B: number;
  peak_gflops: number;
  loadavg: number[];
  trm_median_s: number;
  trm_times_s: number[];
  gflop: number;
  trm_gflops: number;
  peak_fraction: number;
  acts_mib: number;
  torch_median_s: number | null;
  torch_gflops: number | null;
  speedup_vs_torch: number | null;
  torch_note?: string;
  torch_blas?: string;
}

/** fp32 FMA peak of `threads` threads now (GFLOP/s): the best of three short register-only runs. */
function measurePeak(threads: number): number {
  if (!addon) return NaN;
  return Math.max(addon.fmaPeak(0.3, threads), addon.fmaPeak(0.3, threads), addon.fmaPeak(0.3, threads));
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function timeTrm(c: TrmConfig, B: number, repeats: number): Promise<{ times: number[]; actsMib: number }> {
  const w = createParams(c, 0),
    g = weightsView(c),
    a = allocActs(c, B);
  const { L, S } = a.d;
  const batch: Batch = {
    inputs: upload(Int32Array.from({ length: B * L }, (_, i) => (i * 7 + 3) % c.vocab_size)),
    labels: upload(Int32Array.from({ length: B * L }, (_, i) => 1 + ((i * 5) % (c.vocab_size - 1)))),
    puzzleIds: upload(new Int32Array(B)),
  };
  const times: number[] = [];
  for (let r = 0; r <= repeats; r++) {
    // the first run is warm-up
    const carry = startCarry(c, w, B, S, { mode: 'static', scale: 1, training: false }, null);
    fill(g.data, 0, sizeOf(g.data));
    await device().flush();
    const t0 = performance.now();
    supervisionStep(c, w, a, carry, batch, g, 1 / B);
    await device().flush(); // a GPU device runs the recorded step here
    if (r > 0) times.push((performance.now() - t0) / 1000);
  }
  return { times, actsMib: actsBytes(a) / 2 ** 20 };
}

/**
 * The environment of the PyTorch process: OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE from the caller are
 * dropped so OpenBLAS picks its kernels itself. But Debian 12's OpenBLAS (0.3.21) does not know
 * Sapphire/Emerald Rapids and falls back to its SSE3 "Prescott" kernels there (measured: 21 vs 87
 * GFLOP/s on one thread), so on an AVX-512 CPU we name its AVX-512 kernels (SkylakeX) to compare
 * against PyTorch at its best. TRM_TORCH_OPENBLAS_CORETYPE overrides ('' = let OpenBLAS choose).
 */
export function torchEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const forced = process.env.TRM_TORCH_OPENBLAS_CORETYPE;
  const avx512 = addon?.info().features.avx512f && addon?.info().features.osAvx512;
  const core = forced !== undefined ? forced : avx512 ? 'SkylakeX' : '';
  if (core) env.OPENBLAS_CORETYPE = core;
  env.OPENBLAS_VERBOSE = '2'; // OpenBLAS prints "Core: <name>" on stderr: reported with the result
  return env;
}

/** The OpenBLAS kernel set a PyTorch run used, read from its OPENBLAS_VERBOSE output. */
function blasCore(stderr: string): string {
  const m = /Core: (\S+)/.exec(stderr);
  return m ? `OpenBLAS ${m[1]}` : 'not OpenBLAS (reference BLAS is slow: apt-get install libopenblas0-pthread)';
}

function runTorch(
  kind: 'mlp' | 'att',
  B: number,
  repeats: number,
  threads: number,
): { median_s: number; blas: string } | string {
  const script = join(packageRoot, 'tools', 'torch_step_bench.py');
  const py = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
  if (!existsSync(script)) return `${script} not found`;
  const env = torchEnv();
  const res = spawnSync(
    py,
    [
      script,
      '--config',
      kind,
      '--batch',
      String(B),
      '--warmup',
      '0',
      '--repeats',
      String(repeats),
      '--threads',
      String(threads),
    ],
    { env, encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  if (res.status !== 0) {
    const why = res.signal
      ? `killed by ${res.signal}${res.signal === 'SIGKILL' ? ' (out of memory?)' : ''}`
      : `exit ${res.status}`;
    return `torch reference failed (${why}): ${(res.stderr || res.error?.message || '').trim().split('\n').pop()}`;
  }
  try {
    return {
      ...(JSON.parse(res.stdout.trim().split('\n').pop()!) as { median_s: number }),
      blas: blasCore(res.stderr),
    };
  } catch {
    return `cannot parse torch output: ${res.stdout.slice(0, 200)}`;
  }
}

/** `trm bench step`: json prints one JSON line; repeats = timed trm steps after one warm-up (3);
 *  torch = false skips the PyTorch reference; torchRepeats = its timed steps (1, no warm-up). */
export async function benchStep(opts: {
  json: boolean;
  batch?: number;
  repeats?: number;
  torch?: boolean;
  torchRepeats?: number;
  configs?: Array<'mlp' | 'att'>;
  backend?: string;
}): Promise<void> {
  const B = opts.batch ?? 64,
    repeats = opts.repeats ?? 3,
    threads = backendInfo().threads;
  const backend = await useBackendChoice(opts.backend),
    gpu = device().name === 'webgpu' ? (device() as WebGpuDevice) : null;
  if (gpu && !opts.json)
    process.stdout.write(
      `backend ${backend}${gpu.isSwiftShader ? ': SwiftShader numbers are correctness only, not GPU speed' : ''}\n`,
    );
  const rows: Row[] = [];
  const log = (s: string) => {
    if (!opts.json) process.stdout.write(s + '\n');
  };
  log(
    `trm bench step: B=${B}, backend ${backendInfo().backend} (${backendInfo().isa}, ${threads} threads), load average ${loadavg()
      .map(v => v.toFixed(1))
      .join(' ')}`,
  );
  for (const kind of opts.configs ?? (['mlp', 'att'] as const)) {
    const c = resolveConfig(kind === 'mlp' ? presets.sudokuMlp : presets.sudokuAtt);
    const gflop = stepFlops(c, B) / 1e9;
    // PyTorch first, so the two processes never hold their activations (several GB each) at once
    const t = opts.torch === false ? 'skipped' : runTorch(kind, B, opts.torchRepeats ?? 1, cpus().length);
    const peakBefore = gpu ? await gpuPeak(gpu.gpu) : measurePeak(threads);
    const { times, actsMib } = await timeTrm(c, B, repeats);
    const med = median(times);
    const peak = Math.max(peakBefore, gpu ? await gpuPeak(gpu.gpu) : measurePeak(threads)); // the device's best around the timing
    if (gpu && nativeDevice) {
      // the same step on this host's native CPU kernels, for the GPU / CPU ratio
      const prev = setDevice(nativeDevice);
      const cpu = median((await timeTrm(c, B, 1)).times);
      setDevice(prev ?? gpu);
      log(`    native CPU on this host: ${cpu.toFixed(2)} s/step; webgpu is ${(cpu / med).toFixed(1)}x`);
    }
    const row: Row = {
      config: `sudoku-${kind} D=${c.hidden_size} n=${c.L_cycles} T=${c.H_cycles}`,
      B,
      peak_gflops: +peak.toFixed(1),
      loadavg: loadavg().map(v => +v.toFixed(2)),
      trm_median_s: +med.toFixed(3),
      trm_times_s: times.map(x => +x.toFixed(3)),
      gflop: +gflop.toFixed(1),
      trm_gflops: +(gflop / med).toFixed(1),
      peak_fraction: +(gflop / med / peak).toFixed(3),
      acts_mib: Math.round(actsMib),
      torch_median_s: null,
      torch_gflops: null,
      speedup_vs_torch: null,
    };
    if (typeof t === 'string') row.torch_note = t;
    else {
      row.torch_median_s = +t.median_s.toFixed(3);
      row.torch_blas = t.blas;
      row.torch_gflops = +(gflop / t.median_s).toFixed(1);
      row.speedup_vs_torch = +(t.median_s / med).toFixed(2);
    }
    log(
      `  ${row.config}: trm ${med.toFixed(2)} s/step (${row.trm_gflops} GFLOP/s, ${(100 * row.peak_fraction).toFixed(0)}% of the measured fp32 peak ${peak.toFixed(0)} GFLOP/s; ${gflop.toFixed(0)} GFLOP; activations ${row.acts_mib} MiB)`,
    );
    log(
      row.torch_note
        ? `    pytorch: ${row.torch_note}`
        : `    pytorch ${row.torch_median_s} s/step (${row.torch_gflops} GFLOP/s, ${row.torch_blas}): trm is ${row.speedup_vs_torch}x faster`,
    );
    rows.push(row);
  }
  if (opts.json) process.stdout.write(JSON.stringify({ bench: 'step', backend: backendInfo(), threads, rows }) + '\n');
}
