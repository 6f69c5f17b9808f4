/**
 * `trm demo` (npm run demo): the README's main command. Watches a TRM learn Sudoku on this CPU in
 * a few minutes: generates seeded 4x4 puzzles (train and held-out test), measures the untrained
 * model, trains the cpu-sudoku4 preset with the progress display, measures again, and solves one
 * held-out puzzle step by step. The kernel self-check lives in `trm selfcheck`.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineCommand } from '../command.js';
import { backendInfo } from '../../kernels/index.js';
import { readDatasetSplit } from '../../data/dataset.js';
import { buildSudokuDataset } from '../../data/sudoku/build.js';
import { generateSudokuFile } from '../../data/sudoku/generate-file.js';
import {
  createTrainState,
  evaluate,
  evalWeights,
  resolveTrainConfig,
  type SolveResult,
  solvePuzzle,
  trainPresets,
} from '../../train/index.js';
import { geometry } from '../../data/sudoku/grid.js';
import { decodeGrid } from '../../data/sudoku/tokens.js';
import { printSolve } from './solve.js';
import { pct } from '../format.js';
import { runTraining } from './train.js';

const PRESET = 'cpu-sudoku4';

export const demoCommand = defineCommand({
  name: 'demo',
  summary: 'watch a TRM learn 4x4 Sudoku on this CPU in a few minutes (data, training, eval, a solve)',
  usage: '[--out DIR]',
  options: {
    out: {
      type: 'string',
      argument: 'DIR',
      description: 'where the data and the run go (default: a new directory under the system temp dir)',
    },
  },
  async run(args) {
    const info = backendInfo();
    console.log(`trm demo: a Tiny Recursive Model learns Sudoku on this CPU`);
    console.log(
      `kernels: ${info.backend}, ${info.gemmKernel} (${info.isa}), ${info.threads} threads${info.backend !== 'native' ? ` (${info.reason}; slow)` : ''}\n`,
    );
    const root = args.values.out ?? mkdtempSync(join(tmpdir(), 'trm-demo-'));

    console.log('1. data: seeded 4x4 puzzles, 400 for training (x21 with shuffled copies) and 200 held out');
    const chain = { size: 4 as const, minRating: 0, maxRating: Infinity, perChain: 1, maxSteps: 2000 };
    await generateSudokuFile({ ...chain, count: 400, seed: 1, out: join(root, 'train.csv') });
    await generateSudokuFile({ ...chain, count: 200, seed: 2, out: join(root, 'test.csv') });
    const data = join(root, 'sudoku4');
    await buildSudokuDataset({
      train: join(root, 'train.csv'),
      test: join(root, 'test.csv'),
      out: data,
      seed: 0,
      aug: 20,
      force: true,
    });
    const test = await readDatasetSplit(join(data, 'test'));

    const cfg = resolveTrainConfig(PRESET);
    const fresh = createTrainState(cfg, test.meta);
    const before = await evaluate(fresh.model, evalWeights(fresh), test, { batchSize: 100 });
    console.log(
      `\n2. before training: ${pct(before.exact_acc)} of held-out puzzles solved, ${pct(before.token_acc)} of cells right`,
    );

    console.log(`\n3. training preset ${PRESET} (${trainPresets[PRESET].summary}):`);
    const run = await runTraining({ preset: PRESET, out: join(root, 'run') }, data, {
      quiet: true,
      evalLine: (step, e) =>
        `   step ${String(step).padStart(3)}: held-out exact ${pct(e.exact_acc).padStart(6)}, cells ${pct(e.token_acc)}`,
    });
    if (run.stopped) return 130;

    const st = run.state;
    const after = await evaluate(st.model, evalWeights(st), test, { batchSize: 100 });
    console.log(
      `\n4. after training: ${pct(after.exact_acc)} of the 200 held-out puzzles solved (was ${pct(before.exact_acc)}), ${pct(after.token_acc)} of cells right`,
    );
    console.log(`   exact after each supervision step: ${after.exact_by_step.map(v => pct(v)).join(', ')}`);

    // Show a held-out puzzle the model refined after its first step and then solved, if one of the
    // first 50 is (else one it refined and did not solve, else the first): the recursion at work.
    const geo = geometry(4),
      L = test.meta.seq_len,
      w = evalWeights(st);
    const puzzleAt = (i: number) => decodeGrid(test.inputs.subarray(i * L, (i + 1) * L), geo.n);
    type Shown = { r: SolveResult; i: number };
    let solved: Shown | null = null,
      refined: Shown | null = null;
    for (let i = 0; i < Math.min(50, test.inputs.length / L) && !solved; i++) {
      const r = await solvePuzzle(st.model, w, geo, puzzleAt(i));
      if (!r.steps.slice(1).some(s => s.changed.length > 0)) continue;
      if (r.problem === null) solved = { r, i };
      else refined ??= { r, i };
    }
    const pick = solved ?? refined,
      shown = pick?.r ?? (await solvePuzzle(st.model, w, geo, puzzleAt(0)));
    const which = solved
      ? `held-out puzzle #${solved.i + 1}, one the model changed after step 1 and solved`
      : refined
        ? `held-out puzzle #${refined.i + 1}, one the model changed after step 1 (none of the first 50 it changed was solved)`
        : 'the first held-out puzzle';
    console.log(`\n5. ${which}, step by step (* = cell changed by that step):`);
    printSolve(shown, line => console.log('   ' + line));
    console.log(`\nrun directory: ${run.runDir}`);
    console.log(`try: trm solve --checkpoint ${run.runDir} "<16 cells, . for blanks>"`);
    console.log(`     trm eval --checkpoint ${run.runDir} --data ${data}`);
    return 0;
  },
});
