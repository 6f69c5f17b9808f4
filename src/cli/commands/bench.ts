/** `trm bench <suite>`: the benchmarks (speed lives here, never in tests). */
import { defineCommand, intOption } from '../command.js';
import { UsageError } from '../../errors.js';

import type { Precision } from '../../kernels/index.js';

interface SuiteOpts {
  json: boolean;
  reps?: number;
  quick?: boolean;
  backend?: string;
  presets?: string[];
  /** gemm: the GEMM precisions; step: the step precisions (PRECISIONS in bench/step.ts) */
  precisions?: Precision[];
  batch?: number;
  torch?: boolean;
  torchReps?: number;
  torchBudget?: number;
  interleave?: boolean;
}
type Suite = (opts: SuiteOpts) => Promise<void>;

const suites: Record<string, { summary: string; load: () => Promise<Suite> }> = {
  gemm: {
    summary: 'GEMM GFLOP/s at the TRM shapes vs the measured FMA peak',
    load: async () => (await import('../../bench/gemm.js')).benchGemm,
  },
  sudoku: {
    summary: 'Sudoku solver puzzles/s and generator puzzles/s per core',
    load: async () => (await import('../../bench/sudoku.js')).benchSudoku,
  },
  vcpus: {
    summary: 'whether the CPUs run alike now: each pinned alone, its FMA peak and a cached GEMM (--reps N: N s each)',
    load: async () => (await import('../../bench/vcpus.js')).benchVcpus,
  },
  step: {
    summary: 'one TRM training supervision step (any preset; paper Sudoku configs at B = 64 by default) vs PyTorch',
    load: async () => {
      const { benchStep } = await import('../../bench/step.js');
      return opts =>
        benchStep({
          json: opts.json,
          repeats: opts.reps,
          backend: opts.backend,
          presets: opts.presets,
          precisions: opts.precisions,
          batch: opts.batch,
          torch: opts.torch,
          torchRepeats: opts.torchReps,
          torchBudget: opts.torchBudget,
          interleave: opts.interleave,
        });
    },
  },
};

export const benchCommand = defineCommand({
  name: 'bench',
  summary: 'run a benchmark suite (gemm, sudoku, step, vcpus)',
  usage:
    '<suite> [--json] [--reps N] [--backend native|webgpu] [--precision P[,P]] [step: --preset NAME[,NAME] --batch B --no-torch --torch-reps N --torch-budget S --interleave|--no-interleave]',
  options: {
    json: { type: 'boolean', description: 'print JSON instead of a table' },
    reps: {
      type: 'string',
      argument: 'N',
      description:
        'timed repetitions per measurement (median reported; gemm default: 3, more for short products, up to 0.25 s); vcpus: seconds of GEMM calls per CPU',
    },
    backend: {
      type: 'string',
      argument: 'NAME',
      description: 'gemm, step: native (default, or TRM_BACKEND) or webgpu',
    },
    preset: {
      type: 'string',
      argument: 'NAME[,NAME]',
      description: 'step: presets to time (train presets, e.g. cpu-sudoku4; default paper-sudoku-mlp,paper-sudoku-att)',
    },
    precision: {
      type: 'string',
      argument: 'P[,P]',
      description: 'gemm: fp32 (default), bf16 or fp32,bf16 (bf16 operands, fp32 sums); step: the precisions to time',
    },
    batch: { type: 'string', argument: 'B', description: "step: batch size (default: the preset's; paper presets 64)" },
    'no-torch': { type: 'boolean', description: 'step: skip the PyTorch reference' },
    'torch-reps': { type: 'string', argument: 'N', description: 'step: timed PyTorch steps per variant' },
    'torch-budget': {
      type: 'string',
      argument: 'S',
      description:
        "step: seconds of PyTorch's timed steps per variant and per interleaved run, after 3 steps (default 60; 0: no limit)",
    },
    interleave: {
      type: 'boolean',
      description:
        "step: compare in rounds of one trm and one PyTorch step, alternating (default for small configs; both processes' memory at once)",
    },
    'no-interleave': { type: 'boolean', description: 'step: time trm and PyTorch one after the other' },
  },
  get details() {
    return (
      'Suites:\n' +
      Object.entries(suites)
        .map(([k, v]) => `  ${k.padEnd(8)}${v.summary}`)
        .join('\n')
    );
  },
  async run(args) {
    const name = args.positionals[0];
    if (!name) throw new UsageError(`bench: name a suite (${Object.keys(suites).join(', ')})`);
    const suite = suites[name];
    if (!suite) throw new UsageError(`bench: unknown suite '${name}' (suites: ${Object.keys(suites).join(', ')})`);
    const backend = args.values.backend ?? process.env.TRM_BACKEND;
    if (backend !== undefined && !['native', 'webgpu'].includes(backend))
      throw new UsageError(`bench: --backend must be native or webgpu, got '${backend}'`);
    if (backend === 'webgpu' && (name === 'sudoku' || name === 'vcpus'))
      throw new UsageError(`bench: the ${name} suite runs on the CPU only (--backend webgpu is for gemm and step)`);
    const v = args.values;
    if (
      name !== 'step' &&
      (v.preset !== undefined ||
        v.batch !== undefined ||
        v['no-torch'] ||
        v['torch-reps'] !== undefined ||
        v['torch-budget'] !== undefined ||
        v.interleave ||
        v['no-interleave'])
    )
      throw new UsageError(
        `bench: --preset, --batch, --no-torch, --torch-reps, --torch-budget and --interleave are options of the step suite`,
      );
    if (v.interleave && v['no-interleave'])
      throw new UsageError(`bench: --interleave and --no-interleave exclude each other`);
    let presets: string[] | undefined, precisions: Precision[] | undefined;
    if (name === 'step') {
      const step = await import('../../bench/step.js');
      presets = v.preset?.split(',').map(s => s.trim());
      for (const p of presets ?? []) step.benchPreset(p); // a usage error names the known presets
      precisions = step.parsePrecisions(v.precision) as Precision[];
    } else if (v.precision !== undefined) {
      precisions = v.precision.split(',').map(p => p.trim()) as Precision[];
      for (const p of precisions)
        if (p !== 'fp32' && p !== 'bf16')
          throw new UsageError(`bench: --precision takes fp32, bf16 or fp32,bf16, got '${v.precision}'`);
      if (name !== 'gemm') throw new UsageError(`bench: --precision is for the gemm and step suites`);
    }
    const fn = await suite.load();
    await fn({
      json: Boolean(v.json),
      reps: intOption(args, 'reps', 1, 1000),
      backend,
      presets,
      precisions,
      batch: intOption(args, 'batch', 1, 1 << 20),
      torch: !v['no-torch'],
      torchReps: intOption(args, 'torch-reps', 1, 1000),
      torchBudget: intOption(args, 'torch-budget', 0, 86400),
      interleave: v.interleave ? true : v['no-interleave'] ? false : undefined,
    });
  },
});
