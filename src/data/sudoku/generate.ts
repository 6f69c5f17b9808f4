/**
 * generate.ts: hard Sudoku puzzles, offline and seeded. One "chain" is a hill-climb over puzzles
 * of one random solution grid (the {-d+m} mutation of the enjoysudoku forum and tdoku's generate):
 *
 *   grid  = random full grid (randomised solve of the empty grid)
 *   p     = minimise(grid)                     random clue order; drop a clue if still unique
 *   repeat maxSteps times:
 *     q = p minus 1-2 random clues; add clues of the grid where a second solution differs, until unique
 *     q = minimise(q); accept q if rating(q) >= rating(p) and <= maxRating
 *       (or rating(q) <= rating(p) while p is still above maxRating)
 *     emit q when minRating <= rating(q) <= maxRating, new, and the chain still wants puzzles
 *
 * A chain is a pure function of (seed, chain index): the parallel driver (generate-file.ts) runs
 * chains in any order on any number of threads and assembles them by index, so the output
 * depends on the seed alone. Every puzzle has a unique solution and is minimal.
 */
import { Rng, STREAM } from '../rng.js';
import { geometry, type Geometry, type SudokuSize } from './grid.js';
import { Solver } from './solver.js';

export interface ChainOptions {
  size: SudokuSize;
  minRating: number;
  maxRating: number; // Infinity for no upper bound
  perChain: number; // puzzles a chain may emit before it stops
  maxSteps: number; // climbing steps before a chain gives up
}

export interface GeneratedPuzzle {
  question: Uint8Array; // (cells) 0 = blank
  answer: Uint8Array; // (cells)
  rating: number;
}

export interface ChainResult {
  chain: number;
  puzzles: GeneratedPuzzle[];
  steps: number;
}

/** A random complete grid: the first solution of the empty grid with values tried in random order. */
export function randomGrid(solver: Solver, rng: Rng): Uint8Array {
  return solver.solve(new Uint8Array(solver.geo.cells), 1, rng).solution!;
}

/** Remove clues of a unique puzzle in random order while it stays unique; returns the rating. */
export function minimize(solver: Solver, puzzle: Uint8Array, rng: Rng): number {
  const order = rng.permutation(puzzle.length);
  let rating = -1;
  for (const c of order) {
    const v = puzzle[c];
    if (v === 0) continue;
    puzzle[c] = 0;
    const r = solver.solve(puzzle, 2);
    if (r.solutions === 1) rating = r.guesses;
    else puzzle[c] = v;
  }
  return rating >= 0 ? rating : solver.solve(puzzle, 2).guesses;
}

/** Add clues from `answer` until `puzzle` has a unique solution, each at a cell where a second solution differs. */
function makeUnique(solver: Solver, puzzle: Uint8Array, answer: Uint8Array, rng: Rng): void {
  const diff: number[] = [];
  for (;;) {
    const r = solver.solve(puzzle, 2);
    if (r.solutions === 1) return;
    const other = r.solution!.every((d, i) => d === answer[i]) ? r.second! : r.solution!;
    diff.length = 0;
    for (let c = 0; c < puzzle.length; c++) if (other[c] !== answer[c]) diff.push(c);
    const c = diff[rng.int(diff.length)];
    puzzle[c] = answer[c];
  }
}

function sameGrid(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Run chain `chain` of `seed`: a deterministic function of (seed, chain, opts). */
export function runChain(
  seed: number,
  chain: number,
  opts: ChainOptions,
  solver = new Solver(geometry(opts.size)),
): ChainResult {
  const rng = new Rng(seed, STREAM.generate, chain);
  const answer = randomGrid(solver, rng);
  let p = answer.slice();
  let rating = minimize(solver, p, rng);
  const puzzles: GeneratedPuzzle[] = [];
  const inBand = (r: number) => r >= opts.minRating && r <= opts.maxRating;
  if (inBand(rating)) puzzles.push({ question: p.slice(), answer, rating });
  const clues: number[] = [];
  let steps = 0;
  while (puzzles.length < opts.perChain && steps < opts.maxSteps) {
    steps++;
    const q = p.slice();
    clues.length = 0;
    for (let c = 0; c < q.length; c++) if (q[c] !== 0) clues.push(c);
    for (let d = 1 + rng.int(2); d > 0 && clues.length > 0; d--) {
      const k = rng.int(clues.length);
      q[clues[k]] = 0;
      clues[k] = clues[clues.length - 1];
      clues.pop();
    }
    makeUnique(solver, q, answer, rng);
    const r = minimize(solver, q, rng);
    // Climb towards the band: up while below maxRating, down when the start was above it.
    if (rating > opts.maxRating ? r > rating : r < rating || r > opts.maxRating) continue;
    p = q;
    rating = r;
    if (inBand(r) && !puzzles.some(x => sameGrid(x.question, q)))
      puzzles.push({ question: q.slice(), answer, rating: r });
  }
  return { chain, puzzles, steps };
}

export type { Geometry };
