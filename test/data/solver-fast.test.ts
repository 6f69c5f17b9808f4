/**
 * solver-fast.test.ts: the 9x9 bitboard search (solver9.ts) against answers recorded from the
 * generic mask solver before it existed (test/fixtures/data/solver-cases.json): solution counts,
 * guesses (ratings), first and second solutions at limits 1, 2 and 5, for generated puzzles rated
 * >= 20, minimised random puzzles, ambiguous and contradictory variants, the empty grid, all three
 * sizes; and random full grids drawn with an Rng (same grid, same guesses, same draws consumed).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/data/rng.js';
import { formatGrid, geometry, parseGrid } from '../../src/data/sudoku/grid.js';
import { Solver } from '../../src/data/sudoku/solver.js';
import { applyTransform, randomTransform } from '../../src/data/sudoku/augment.js';
import { FIXTURES } from './helpers.js';

interface Case {
  n: number;
  puzzle: string;
  limit: number;
  solutions: number;
  guesses: number;
  solution: string | null;
  second: string | null;
}
interface Random {
  n: number;
  seed: number;
  stream: number;
  grid: string;
  guesses: number;
  next: number;
}
const fixture = JSON.parse(readFileSync(join(FIXTURES, 'solver-cases.json'), 'utf8')) as {
  cases: Case[];
  random: Random[];
};
const solvers = new Map([4, 6, 9].map(n => [n, new Solver(geometry(n))]));

describe('solver against recorded answers', () => {
  it.each([4, 6, 9])('%ix%i: same solutions, guesses and solution grids', n => {
    const s = solvers.get(n)!,
      cases = fixture.cases.filter(c => c.n === n);
    expect(cases.length).toBeGreaterThan(10);
    for (const c of cases) {
      const r = s.solve(parseGrid(c.puzzle, geometry(n)), c.limit);
      expect({
        puzzle: c.puzzle,
        limit: c.limit,
        solutions: r.solutions,
        guesses: r.guesses,
        solution: r.solution && formatGrid(r.solution),
        second: r.second && formatGrid(r.second),
      }).toEqual({
        puzzle: c.puzzle,
        limit: c.limit,
        solutions: c.solutions,
        guesses: c.guesses,
        solution: c.solution,
        second: c.second,
      });
    }
  });

  it('covers hard 9x9 ratings (>= 20), ambiguous and contradictory puzzles', () => {
    const nine = fixture.cases.filter(c => c.n === 9);
    expect(nine.filter(c => c.limit === 2 && c.solutions === 1 && c.guesses >= 20).length).toBeGreaterThan(10);
    expect(nine.some(c => c.solutions === 0 && c.guesses > 0)).toBe(true);
    expect(nine.some(c => c.limit === 5 && c.solutions === 5)).toBe(true);
  });

  it('random full grids: same grid, guesses and random draws', () => {
    for (const c of fixture.random) {
      const rng = new Rng(c.seed, c.stream),
        r = solvers.get(c.n)!.solve(new Uint8Array(c.n * c.n), 1, rng);
      expect([formatGrid(r.solution!), r.guesses, rng.nextU32()]).toEqual([c.grid, c.guesses, c.next]);
    }
  });

  it('9x9 ratings are unchanged by digit relabelling and by solver reuse order', () => {
    const rated = fixture.cases
      .filter(c => c.n === 9 && c.limit === 2 && c.solutions === 1 && c.guesses >= 20)
      .slice(0, 6);
    const geo = geometry(9),
      s = solvers.get(9)!,
      rng = new Rng(9);
    for (const c of rated.reverse()) {
      const t = randomTransform(geo, rng);
      t.transpose = false;
      t.rowPerm = Int32Array.from({ length: 9 }, (_, i) => i);
      t.colPerm = t.rowPerm;
      expect(s.solve(applyTransform(t, parseGrid(c.puzzle, geo), geo), 2).guesses).toBe(c.guesses);
    }
  });

  it('9x9 rejects bad input like the generic solver', () => {
    const s = solvers.get(9)!,
      p = new Uint8Array(81);
    p[10] = 10;
    expect(() => s.solve(p, 2)).toThrow(/digit 10 at r2c2 exceeds 9/);
    expect(() => s.solve(new Uint8Array(80), 2)).toThrow(/expected 81 cells, got 80/);
  });
});
