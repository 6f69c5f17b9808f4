/** `trm bench <suite>`: the benchmarks (speed lives here, never in tests). */
import { defineCommand, intOption } from '../command.js';
import { UsageError } from '../../errors.js';

type Suite = (opts: { json: boolean; reps?: number; quick?: boolean; backend?: string }) => Promise<void>;

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
  usage: '<suite> [--json] [--reps N] [--backend native|webgpu]',
  options: {
    json: { type: 'boolean', description: 'print JSON instead of a table' },
    reps: { type: 'string', argument: 'N', description: 'timed repetitions per measurement (median reported)' },
    backend: {
      type: 'string',
      argument: 'NAME',
      description: 'gemm, step: native (default, or TRM_BACKEND) or webgpu',
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
    const fn = await suite.load();
    await fn({ json: Boolean(args.values.json), reps: intOption(args, 'reps', 1, 1000), backend });
  },
});
