import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/data/rng.js';
import { applyTransform, inverseTransform, randomTransform } from '../../src/data/sudoku/augment.js';
import { runChain } from '../../src/data/sudoku/generate.js';
import { consistencyProblem, formatGrid, geometry, solutionProblem } from '../../src/data/sudoku/grid.js';
import { Solver } from '../../src/data/sudoku/solver.js';

describe.each([4, 6, 9] as const)('augmentation %ix%i (property)', n => {
  const geo = geometry(n);
  const pairs = Array.from(
    { length: 4 },
    (_, chain) =>
      runChain(5, chain, { size: n, minRating: 0, maxRating: Infinity, perChain: 1, maxSteps: 0 }).puzzles[0],
  );

  it('keeps every pair a valid grid consistent with its puzzle, uniquely solvable, and invertible', () => {
    const rng = new Rng(99),
      solver = new Solver(geo);
    for (const { question, answer } of pairs) {
      for (let k = 0; k < 50; k++) {
        const t = randomTransform(geo, rng);
        const q = applyTransform(t, question, geo),
          a = applyTransform(t, answer, geo);
        expect(solutionProblem(a, geo)).toBeNull();
        expect(consistencyProblem(q, a, geo)).toBeNull();
        if (k < 5) expect(formatGrid(solver.solve(q, 2).solution!)).toBe(formatGrid(a));
        const inv = inverseTransform(t);
        expect(formatGrid(applyTransform(inv, q, geo))).toBe(formatGrid(question));
        expect(formatGrid(applyTransform(inv, a, geo))).toBe(formatGrid(answer));
      }
    }
  });

  it('draws from the whole group: transposes half the time (square boxes), moves bands and digits', () => {
    const rng = new Rng(1);
    let transposed = 0,
      bandMoved = 0;
    for (let k = 0; k < 400; k++) {
      const t = randomTransform(geo, rng);
      if (t.transpose) transposed++;
      if (t.rowPerm[0] >= geo.boxRows) bandMoved++;
      expect(t.digitMap[0]).toBe(0);
      expect(new Set(t.digitMap).size).toBe(n + 1);
    }
    if (geo.boxRows === geo.boxCols) expect(transposed).toBeGreaterThan(150);
    else expect(transposed).toBe(0);
    expect(transposed).toBeLessThan(250);
    expect(bandMoved).toBeGreaterThan(100);
  });
});
