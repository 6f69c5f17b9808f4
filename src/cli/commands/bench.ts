/** `trm bench <suite>`: the benchmarks (speed lives here, never in tests). */
import type { Command } from '../command.js';
import { intOption } from '../command.js';
import { UsageError } from '../../errors.js';

type Suite = (opts: { json: boolean; reps?: number; quick?: boolean; backend?: string }) => Promise<void>;

const suites: Record<string, { summary: string; load: () => Promise<Suite> }> = {
  gemm: { summary: 'GEMM GFLOP/s at the TRM shapes vs the measured FMA peak', load: async () => (await import('../../bench/gemm.js')).benchGemm },
  sudoku: { summary: 'Sudoku solver puzzles/s and generator puzzles/s per core', load: async () => (await import('../../bench/sudoku.js')).benchSudoku },
  step: {
    summary: 'one TRM training supervision step (paper Sudoku configs, B = 64) vs the PyTorch reference',
    load: async () => {
      const { benchStep } = await import('../../bench/step.js');
      return opts => benchStep({ json: opts.json, repeats: opts.reps });
    },
  },
};

export const benchCommand: Command = {
  name: 'bench',
  summary: 'run a benchmark suite (gemm, sudoku, step)',
  usage: '<suite> [--json] [--reps N] [--backend native|webgpu]',
  options: {
    json: { type: 'boolean', description: 'print JSON instead of a table' },
    reps: { type: 'string', argument: 'N', description: 'timed repetitions per measurement (median reported)' },
    backend: { type: 'string', argument: 'NAME', description: 'gemm: native (default) or webgpu' },
  },
  get details() { return 'Suites:\n' + Object.entries(suites).map(([k, v]) => `  ${k.padEnd(8)}${v.summary}`).join('\n'); },
  async run(args) {
    const name = args.positionals[0];
    if (!name) throw new UsageError(`bench: name a suite (${Object.keys(suites).join(', ')})`);
    const suite = suites[name];
    if (!suite) throw new UsageError(`bench: unknown suite '${name}' (suites: ${Object.keys(suites).join(', ')})`);
    const backend = args.values.backend as string | undefined;
    if (backend !== undefined && !['native', 'webgpu'].includes(backend)) throw new UsageError(`bench: --backend must be native or webgpu, got '${backend}'`);
    if (backend === 'webgpu' && name !== 'gemm') throw new UsageError(`bench: --backend webgpu is available for the gemm suite`);
    const fn = await suite.load();
    await fn({ json: Boolean(args.values.json), reps: intOption(args, 'reps', 1, 1000), backend });
  },
};
