/**
 * Milestones of Sudoku puzzles (src/data/sudoku/milestones.ts): a hand-checked 4x4 case, a naive
 * reference (candidates recomputed from the grid every round, singles only) on generated puzzles,
 * the sequence's properties (monotone, consistent with the solution, every round non-empty, the last
 * is the solution), locked candidates on harder puzzles, invariance under augmentation, and the files
 * the builder writes / the trainer reads.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readDatasetSplit } from '../../src/data/dataset.js';
import { readNpy } from '../../src/data/npy.js';
import { buildSudokuDataset } from '../../src/data/sudoku/build.js';
import { csvHeader, formatCsvRow } from '../../src/data/sudoku/csv.js';
import { generateSudoku } from '../../src/data/sudoku/generate-file.js';
import type { GeneratedPuzzle } from '../../src/data/sudoku/generate.js';
import { type Geometry, geometry, parseGrid } from '../../src/data/sudoku/grid.js';
import { readSplitMilestones } from '../../src/data/sudoku/milestones-files.js';
import { logicRounds, milestoneGrid, splitMilestones } from '../../src/data/sudoku/milestones.js';
import { tempDir, trm } from './helpers.js';

const tmp = tempDir();

/** Singles only, candidates recomputed from the grid each round: the rounds (or where it stalls). */
function naiveRounds(geo: Geometry, puzzle: Uint8Array): Uint8Array {
  const { n, cells, units, peers, nPeers } = geo;
  const grid = puzzle.slice(),
    out = new Uint8Array(cells); // 0: given or never reached
  const allowed = (c: number, d: number) => {
    for (let k = c * nPeers; k < (c + 1) * nPeers; k++) if (grid[peers[k]] === d) return false;
    return true;
  };
  for (let round = 1; ; round++) {
    const place = new Map<number, number>();
    for (let c = 0; c < cells; c++) {
      if (grid[c]) continue;
      const ds = [];
      for (let d = 1; d <= n; d++) if (allowed(c, d)) ds.push(d);
      if (ds.length === 1) place.set(c, ds[0]);
    }
    for (let u = 0; u < 3 * n; u++) {
      const cs = Array.from(units.subarray(u * n, (u + 1) * n));
      for (let d = 1; d <= n; d++) {
        if (cs.some(c => grid[c] === d)) continue;
        const at = cs.filter(c => !grid[c] && allowed(c, d));
        if (at.length === 1) place.set(at[0], d);
      }
    }
    if (place.size === 0) return out;
    for (const [c, d] of place) {
      grid[c] = d;
      out[c] = round;
    }
  }
}

async function puzzles(size: 4 | 9, count: number, seed: number, minRating: number, maxRating: number) {
  const r = await generateSudoku({ size, count, seed, minRating, maxRating, perChain: 1, maxSteps: 2000, threads: 1 });
  return r.puzzles;
}

function checkSequence(geo: Geometry, p: GeneratedPuzzle, rounds: Uint8Array, last: number): void {
  let prev = p.question;
  for (let k = 1; k <= last; k++) {
    const m = milestoneGrid(p.answer, rounds, k);
    let added = 0;
    for (let c = 0; c < geo.cells; c++) {
      if (prev[c]) expect(m[c]).toBe(prev[c]); // monotone: what was filled stays, with the same digit
      if (m[c]) expect(m[c]).toBe(p.answer[c]); // consistent with the solution
      if (m[c] && !prev[c]) added++;
    }
    expect(added, `milestone ${k} adds cells`).toBeGreaterThan(0);
    prev = m;
  }
  expect(Array.from(prev)).toEqual(Array.from(p.answer)); // the last milestone is the solution
  for (let c = 0; c < geo.cells; c++) expect(rounds[c] === 0).toBe(p.question[c] !== 0);
}

describe('sudoku-logic milestones', () => {
  it('a hand-checked 4x4 puzzle: two rounds of singles', () => {
    const geo = geometry(4);
    // solution 1234/3412/2143/4321; puzzle ..3. / 3..2 / 2..3 / 4321. Round 1 from the givens' candidates:
    // naked singles r1c1 {1}, r1c4 {4}, r3c2 {1}, r3c3 {4}; hidden singles r1c2 (2 in row 1) and r2c3
    // (1 in column 3). r2c2 has {1, 4} and 4 two places in its column and box: round 2, once r2c3 = 1.
    const answer = parseGrid('1234341221434321', geo);
    const puzzle = parseGrid('..3.3..22..34321', geo);
    const out = new Uint8Array(16);
    const r = logicRounds(geo, puzzle, answer, out);
    expect(Array.from(out)).toEqual([1, 1, 0, 1, 0, 2, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0]);
    expect(r).toEqual({ milestones: 2, lockedRounds: 0, jump: false });
    expect(Array.from(milestoneGrid(answer, out, 0))).toEqual(Array.from(puzzle));
    expect(Array.from(milestoneGrid(answer, out, 1))).toEqual(Array.from(parseGrid('12343.1221434321', geo)));
    expect(Array.from(milestoneGrid(answer, out, 2))).toEqual(Array.from(answer));
  });

  it('matches a naive singles-only reference round by round on singles-solvable 4x4 and 9x9 puzzles', async () => {
    for (const [size, count] of [
      [4, 40],
      [9, 30],
    ] as const) {
      const geo = geometry(size);
      for (const p of await puzzles(size, count, 3, 0, 0)) {
        const out = new Uint8Array(geo.cells);
        const r = logicRounds(geo, p.question, p.answer, out);
        expect(Array.from(out)).toEqual(Array.from(naiveRounds(geo, p.question)));
        expect(r.jump).toBe(false);
        expect(r.lockedRounds).toBe(0);
        checkSequence(geo, p, out, r.milestones);
      }
    }
  });

  it('harder 9x9 puzzles: singles as the reference until they stall, then locked candidates, then a jump', async () => {
    const geo = geometry(9);
    let locked = 0,
      jumps = 0,
      beyondSingles = 0;
    for (const p of await puzzles(9, 40, 5, 3, 30)) {
      const out = new Uint8Array(81);
      const r = logicRounds(geo, p.question, p.answer, out);
      checkSequence(geo, p, out, r.milestones);
      const naive = naiveRounds(geo, p.question);
      let stall = 0;
      for (let c = 0; c < 81; c++) stall = Math.max(stall, naive[c]);
      // identical while singles alone progress
      for (let c = 0; c < 81; c++) if (naive[c]) expect(out[c]).toBe(naive[c]);
      if (r.lockedRounds > 0) {
        locked++;
        expect(r.milestones).toBeGreaterThanOrEqual(stall + 1); // locked candidates got logic past the stall
        beyondSingles++;
      }
      if (r.jump) {
        jumps++;
        // the jump is the last milestone only: every cell logic never reached has the last index
        for (let c = 0; c < 81; c++) if (!p.question[c] && out[c] === r.milestones) expect(naive[c]).toBe(0);
      }
    }
    expect(locked).toBeGreaterThan(0);
    expect(jumps).toBeGreaterThan(0);
    expect(beyondSingles).toBeGreaterThan(0);
  });

  it('an inconsistent row (a solution logic contradicts) is an error naming the row and cell', () => {
    const geo = geometry(4);
    const answer = parseGrid('1234341221434321', geo);
    const wrong = answer.slice();
    [wrong[0], wrong[1]] = [wrong[1], wrong[0]]; // not the puzzle's solution
    expect(() =>
      logicRounds(geo, parseGrid('...4.41221434321', geo), wrong, new Uint8Array(16), 'train row 7'),
    ).toThrow(/train row 7: logic places \d at r\dc\d but the solution has \d \(the row is inconsistent\)/);
  });
});

describe('milestone files', () => {
  let dir: string;
  beforeAll(async () => {
    const rows = (ps: GeneratedPuzzle[], tag: string) =>
      [csvHeader(), ...ps.map((p, i) => formatCsvRow(`${tag}-${i}`, p.question, p.answer, p.rating))].join('\n') + '\n';
    writeFileSync(join(tmp, 'm-train.csv'), rows(await puzzles(9, 12, 7, 0, 6), 'tr'));
    writeFileSync(join(tmp, 'm-test.csv'), rows(await puzzles(9, 6, 8, 0, 6), 'te'));
    dir = join(tmp, 'm-data');
    await buildSudokuDataset({
      train: join(tmp, 'm-train.csv'),
      test: join(tmp, 'm-test.csv'),
      out: dir,
      seed: 0,
      aug: 3,
      milestones: 'sudoku-logic',
    });
  });

  it('the builder stores (N, L) |u1 indices per stored row (after augmentation), the same as logicRounds of that row', async () => {
    for (const s of ['train', 'test']) {
      const split = await readDatasetSplit(join(dir, s));
      const arr = await readNpy(join(dir, s, 'all__milestones.npy'));
      const N = split.inputs.length / 81;
      expect(arr.dtype).toBe('|u1');
      expect(arr.shape).toEqual([N, 81]);
      const again = splitMilestones(geometry(9), split.inputs, split.labels, s);
      expect(Array.from(arr.data as Uint8Array)).toEqual(Array.from(again.rounds));
      const summary = JSON.parse(readFileSync(join(dir, s, 'milestones.json'), 'utf8'));
      expect(summary).toMatchObject({ kind: 'sudoku-logic', format: 'first-milestone-per-cell', rows: N });
      expect(summary.max_milestones).toBe(Math.max(...(arr.data as Uint8Array)));
      expect(await readSplitMilestones(join(dir, s), split, 'sudoku-logic')).toEqual(arr.data);
    }
    const build = JSON.parse(readFileSync(join(dir, 'build.json'), 'utf8'));
    expect(build.milestones.train.rows).toBe(48);
  });

  it('augmented copies of a puzzle have the same number of milestones (the techniques are symmetric)', async () => {
    const split = await readDatasetSplit(join(dir, 'train'));
    const rounds = await readSplitMilestones(join(dir, 'train'), split, 'sudoku-logic');
    const lastOf = (e: number) => Math.max(...rounds.subarray(e * 81, (e + 1) * 81));
    for (let g = 0; g + 1 < split.groupIndices.length; g++) {
      const lasts = [];
      for (let e = split.groupIndices[g]; e < split.groupIndices[g + 1]; e++) lasts.push(lastOf(e));
      expect(new Set(lasts).size, `group ${g}: ${lasts}`).toBe(1);
    }
  });

  it('the official loader ignores the files; a split without them is a clear error for the trainer', async () => {
    const split = await readDatasetSplit(join(dir, 'test'));
    expect(split.milestones).toBeUndefined();
    const bare = join(tmp, 'bare');
    await buildSudokuDataset({
      train: join(tmp, 'm-train.csv'),
      test: join(tmp, 'm-test.csv'),
      out: bare,
      seed: 0,
      aug: 0,
    });
    expect(existsSync(join(bare, 'train', 'all__milestones.npy'))).toBe(false);
    await expect(readSplitMilestones(join(bare, 'train'), split, 'sudoku-logic')).rejects.toThrow(
      /all__milestones.npy.*--milestones sudoku-logic/,
    );
    // a milestone file of another build (rows do not match the inputs) is refused
    const other = await readDatasetSplit(join(bare, 'train'));
    await expect(readSplitMilestones(join(dir, 'test'), other, 'sudoku-logic')).rejects.toThrow(
      /expected a \|u1 array of shape|belongs to another build/,
    );
    rmSync(bare, { recursive: true });
  });

  it('trm data build --milestones: an unknown kind is a usage error; a known one prints the summary', () => {
    const bad = trm([
      'data',
      'build',
      'sudoku',
      '--train',
      join(tmp, 'm-train.csv'),
      '--test',
      join(tmp, 'm-test.csv'),
      '--out',
      join(tmp, 'cli-bad'),
      '--milestones',
      'magic',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--milestones: expected one of sudoku-logic, got 'magic'/);
    const ok = trm([
      'data',
      'build',
      'sudoku',
      '--train',
      join(tmp, 'm-train.csv'),
      '--test',
      join(tmp, 'm-test.csv'),
      '--out',
      join(tmp, 'cli-ok'),
      '--milestones',
      'sudoku-logic',
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toMatch(/train: sudoku-logic milestones: mean [\d.]+, max \d+ per row/);
    expect(existsSync(join(tmp, 'cli-ok', 'train', 'all__milestones.npy'))).toBe(true);
    const info = trm(['data', 'inspect', join(tmp, 'cli-ok'), '--json']);
    expect(JSON.parse(info.stdout).splits.train.milestones).toMatchObject({ kind: 'sudoku-logic', rows: 12 });
  });
});
