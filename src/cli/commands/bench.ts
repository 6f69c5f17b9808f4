/** `trm bench <suite>`: the benchmarks (speed lives here, never in tests). */
import { defineCommand, intOption } from '../command.js';
import { UsageError } from '../../errors.js';

import type { Precision } from '../../kernels/index.js';

type Suite = (opts: {
  json: boolean;
  reps?: number;
  quick?: boolean;
  backend?: string;
  precisions?: Precision[];
}) => Promise<void>;

const suites: Record<string, { summary: string; load: () => Promise<Suite> }> = {
  gemm: {
    summary: 'GEMM GFLOP/s at the TRM shapes vs the measured FMA peak',
    load: async () => (await import('../../bench/gemm.js')).benchGemm,
  },
  sudoku: {
    summary: 'Sudoku solver puzzles/s and generator puzzles/s per core',
    load: async () => (await import('../../bench/sudoku.js')).benchSudoku,
  },
  step: {
    summary: 'one TRM training supervision step (paper Sudoku configs, B = 64) vs the PyTorch reference',
    load: async () => {
      const { benchStep } = await import('../../bench/step.js');
      return opts => benchStep({ json: opts.json, repeats: opts.reps, backend: opts.backend });
    },
  },
};

export const benchCommand = defineCommand({
  name: 'bench',
  summary: 'run a benchmark suite (gemm, sudoku, step)',
  usage: '<suite> [--json] [--reps N] [--backend native|webgpu] [--precision fp32,bf16]',
  options: {
    json: { type: 'boolean', description: 'print JSON instead of a table' },
    reps: { type: 'string', argument: 'N', description: 'timed repetitions per measurement (median reported)' },
    backend: {
      type: 'string',
      argument: 'NAME',
      description: 'gemm, step: native (default, or TRM_BACKEND) or webgpu',
    },
    precision: {
      type: 'string',
      argument: 'LIST',
      description: 'gemm: fp32 (default), bf16, or fp32,bf16 (bf16 operands, fp32 sums)',
    },
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
    if (backend === 'webgpu' && name === 'sudoku')
      throw new UsageError(`bench: the sudoku suite runs on the CPU only (--backend webgpu is for gemm and step)`);
    const precisions = (args.values.precision ?? 'fp32').split(',').map(p => p.trim());
    for (const p of precisions)
      if (p !== 'fp32' && p !== 'bf16')
        throw new UsageError(`bench: --precision takes fp32, bf16 or fp32,bf16, got '${args.values.precision}'`);
    if (precisions.includes('bf16') && name !== 'gemm')
      throw new UsageError(`bench: --precision bf16 is for the gemm suite`);
    const fn = await suite.load();
    await fn({
      json: Boolean(args.values.json),
      reps: intOption(args, 'reps', 1, 1000),
      backend,
      precisions: precisions as Precision[],
    });
  },
});
