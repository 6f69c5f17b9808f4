/**
 * bench/sudoku.ts: speed of the Sudoku solver and generator, per core (one thread).
 *   generator  puzzles/s at --min-rating 20 on 9x9 (one chain per puzzle, as `trm data generate`)
 *   solver     puzzles/s and median time per puzzle of a uniqueness-proving solve (limit 2, the
 *              rater's search) and of a first-solution solve (limit 1), on the generated set
 * Targets (issue): solver >= 5,000 puzzles/s per core; generator >= 1 puzzle/s per core.
 */
import { generateSudoku, DEFAULT_CHAIN } from '../data/sudoku/generate-file.js';
import { geometry } from '../data/sudoku/grid.js';
import { Solver } from '../data/sudoku/solver.js';

export interface SudokuBenchResult {
  generator: { minRating: number; puzzles: number; seconds: number; perSecond: number; meanRating: number };
  solver: { limit: number; puzzles: number; perSecond: number; medianMicros: number }[];
}

function timeSolves(
  solver: Solver,
  set: Uint8Array[],
  limit: number,
  seconds: number,
): { perSecond: number; medianMicros: number } {
  for (const p of set) solver.solve(p, limit); // warm up
  const times: number[] = [];
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < seconds * 1000) {
    for (const p of set) {
      const t = performance.now();
      solver.solve(p, limit);
      times.push(performance.now() - t);
      n++;
    }
  }
  const elapsed = (performance.now() - t0) / 1000;
  times.sort((a, b) => a - b);
  return { perSecond: n / elapsed, medianMicros: times[times.length >> 1] * 1000 };
}

export async function runSudokuBench(opts: { puzzles?: number; seconds?: number } = {}): Promise<SudokuBenchResult> {
  const count = opts.puzzles ?? 40,
    seconds = opts.seconds ?? 3,
    minRating = 20;
  const gen = await generateSudoku({
    size: 9,
    count,
    seed: 2024,
    minRating,
    maxRating: Infinity,
    ...DEFAULT_CHAIN,
    threads: 1,
  });
  const set = gen.puzzles.map(p => p.question);
  const solver = new Solver(geometry(9));
  return {
    generator: {
      minRating,
      puzzles: set.length,
      seconds: gen.seconds,
      perSecond: set.length / gen.seconds,
      meanRating: gen.puzzles.reduce((a, p) => a + p.rating, 0) / set.length,
    },
    solver: [2, 1].map(limit => ({ limit, puzzles: set.length, ...timeSolves(solver, set, limit, seconds) })),
  };
}

export async function benchSudoku(opts: { json: boolean }): Promise<void> {
  const r = await runSudokuBench();
  if (opts.json) {
    console.log(JSON.stringify({ suite: 'sudoku', ...r }, null, 2));
    return;
  }
  const g = r.generator;
  console.log(
    `sudoku (one thread; set: ${g.puzzles} generated 9x9 puzzles rated >= ${g.minRating}, mean rating ${g.meanRating.toFixed(1)})`,
  );
  console.log('  what                          puzzles/s   median/puzzle   target');
  for (const s of r.solver)
    console.log(
      `  solve, limit ${s.limit}${s.limit === 2 ? ' (rate+unique)' : ' (first sol.) '}    ${s.perSecond.toFixed(0).padStart(9)}   ${s.medianMicros.toFixed(1).padStart(10)} us   ${s.limit === 2 ? '>= 5000/s' : ''}`,
    );
  console.log(
    `  generate, min-rating ${g.minRating}         ${g.perSecond.toFixed(2).padStart(9)}   ${(1000 / g.perSecond).toFixed(0).padStart(10)} ms   >= 1/s`,
  );
}
