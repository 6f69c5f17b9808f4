import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/data/rng.js';
import { formatGrid, geometry, parseGrid, solutionProblem, consistencyProblem } from '../../src/data/sudoku/grid.js';
import { ratePuzzle, Solver } from '../../src/data/sudoku/solver.js';
import { minimize, randomGrid, runChain } from '../../src/data/sudoku/generate.js';
import { applyTransform, randomTransform } from '../../src/data/sudoku/augment.js';
import { ANSWER, PUZZLE } from './helpers.js';

describe('geometry', () => {
  it.each([
    [4, 2, 2, 7],
    [6, 2, 3, 12],
    [9, 3, 3, 20],
  ])('%i x %i: boxes %ix%i, %i peers', (n, br, bc, peers) => {
    const g = geometry(n);
    expect([g.boxRows, g.boxCols, g.nPeers]).toEqual([br, bc, peers]);
    // Every unit is a permutation of n distinct cells, and every cell lies in exactly 3 units.
    const count = new Int32Array(g.cells);
    for (let u = 0; u < 3 * n; u++) {
      const cells = new Set(Array.from(g.units.subarray(u * n, (u + 1) * n)));
      expect(cells.size).toBe(n);
      for (const c of cells) count[c]++;
    }
    expect(Array.from(count).every(k => k === 3)).toBe(true);
  });
  it('rejects other sizes', () => expect(() => geometry(5)).toThrow(/unsupported Sudoku size 5/));
});

describe('Solver', () => {
  const geo = geometry(9),
    solver = new Solver(geo);

  it('solves a hard 9x9 puzzle, proves it unique and rates it', () => {
    const r = solver.solve(parseGrid(PUZZLE, geo), 2);
    expect(r.solutions).toBe(1);
    expect(formatGrid(r.solution!)).toBe(ANSWER);
    expect(r.guesses).toBe(22);
    expect(ratePuzzle(solver, parseGrid(PUZZLE, geo))).toBe(22);
  });

  it('finds no solution for a contradictory puzzle and two for an ambiguous one', () => {
    const bad = parseGrid(PUZZLE, geo);
    bad[0] = 6; // row 1 already... column 1 holds a 6 in r2
    expect(solver.solve(bad, 2).solutions).toBe(0);
    expect(() => ratePuzzle(solver, bad)).toThrow(/no solution/);
    const open = parseGrid(PUZZLE, geo);
    open[8] = 0;
    open[9] = 0;
    open[10] = 0;
    const r = solver.solve(open, 2);
    expect(r.solutions).toBe(2);
    expect(formatGrid(r.solution!)).not.toBe(formatGrid(r.second!));
    expect(() => ratePuzzle(solver, open)).toThrow(/more than one/);
  });

  it('rates a singles-only puzzle 0 and an empty grid has many solutions', () => {
    const easy = parseGrid(ANSWER, geo);
    for (let c = 0; c < 81; c += 3) easy[c] = 0;
    expect(solver.solve(easy, 2)).toMatchObject({ solutions: 1, guesses: 0 });
    expect(solver.solve(new Uint8Array(81), 2).solutions).toBe(2);
  });

  it('gives the same rating for every digit relabelling (full-tree search)', () => {
    const p = parseGrid(PUZZLE, geo),
      rng = new Rng(3);
    for (let k = 0; k < 5; k++) {
      const t = randomTransform(geo, rng);
      t.transpose = false;
      t.rowPerm = Int32Array.from({ length: 9 }, (_, i) => i);
      t.colPerm = t.rowPerm;
      expect(ratePuzzle(solver, applyTransform(t, p, geo))).toBe(22);
    }
  });

  it.each([4, 6, 9])('%ix%i: random grids are valid and minimised puzzles unique', n => {
    const g = geometry(n),
      s = new Solver(g),
      rng = new Rng(7);
    for (let k = 0; k < 5; k++) {
      const grid = randomGrid(s, rng);
      expect(solutionProblem(grid, g)).toBeNull();
      const p = grid.slice();
      const rating = minimize(s, p, rng);
      const r = s.solve(p, 2);
      expect(r.solutions).toBe(1);
      expect(r.guesses).toBe(rating);
      expect(consistencyProblem(p, grid, g)).toBeNull();
      // Minimal: removing any clue breaks uniqueness.
      for (let c = 0; c < g.cells; c++) {
        if (!p[c]) continue;
        const q = p.slice();
        q[c] = 0;
        expect(s.solve(q, 2).solutions).toBe(2);
      }
    }
  });
});

describe('generator chains (property)', () => {
  it('emit unique-solution puzzles rated within the band, deterministically', () => {
    const opts = { size: 9 as const, minRating: 8, maxRating: Infinity, perChain: 2, maxSteps: 400 };
    const solver = new Solver(geometry(9));
    let total = 0;
    for (let chain = 0; chain < 4; chain++) {
      const r = runChain(11, chain, opts, solver);
      expect(runChain(11, chain, opts).puzzles.map(p => formatGrid(p.question))).toEqual(
        r.puzzles.map(p => formatGrid(p.question)),
      );
      for (const p of r.puzzles) {
        const s = solver.solve(p.question, 2);
        expect(s.solutions).toBe(1);
        expect(formatGrid(s.solution!)).toBe(formatGrid(p.answer));
        expect(s.guesses).toBe(p.rating);
        expect(p.rating).toBeGreaterThanOrEqual(8);
        total++;
      }
    }
    expect(total).toBeGreaterThan(0);
  });

  it('respects a maximum rating (bands)', () => {
    const r = runChain(2, 0, { size: 9, minRating: 1, maxRating: 2, perChain: 3, maxSteps: 300 });
    expect(r.puzzles.length).toBeGreaterThan(0);
    for (const p of r.puzzles) expect(p.rating === 1 || p.rating === 2).toBe(true);
  });
});
