import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readSudokuCsv } from '../../src/data/sudoku/csv.js';
import { generateSudoku, generateSudokuFile } from '../../src/data/sudoku/generate-file.js';
import { formatGrid, geometry } from '../../src/data/sudoku/grid.js';
import { Solver } from '../../src/data/sudoku/solver.js';
import { ROOT, tempDir } from './helpers.js';

const tmp = tempDir();
const base = { size: 9 as const, minRating: 10, maxRating: Infinity, perChain: 1, maxSteps: 2000 };

/** The worker compiled on the fly (vitest runs sources; Node 20 workers cannot load .ts). */
async function bundledWorker(): Promise<URL | undefined> {
  try {
    const esbuild = await import('esbuild');
    const outfile = join(tmp, 'generate-worker.mjs');
    await esbuild.build({
      entryPoints: [join(ROOT, 'src/data/sudoku/generate-worker.ts')],
      bundle: true,
      format: 'esm',
      platform: 'node',
      outfile,
      logLevel: 'silent',
    });
    return pathToFileURL(outfile);
  } catch {
    return undefined;
  }
}

describe('generateSudoku', () => {
  it('writes unique-solution puzzles rated >= the minimum, in the CSV schema (property)', async () => {
    const out = join(tmp, 'g.csv'),
      solver = new Solver(geometry(9));
    const r = await generateSudokuFile({ ...base, count: 6, seed: 4, threads: 1, out });
    expect(r.puzzles.length).toBe(6);
    expect(readFileSync(out, 'utf8').split('\n')[0]).toBe('source,question,answer,rating');
    const seen = new Set<string>();
    const report = await readSudokuCsv(out, {}, row => {
      const s = solver.solve(row.question, 2);
      expect(s.solutions).toBe(1);
      expect(s.guesses).toBe(row.rating);
      expect(row.rating).toBeGreaterThanOrEqual(10);
      expect(row.source).toMatch(/^synthetic-4-\d+$/);
      seen.add(formatGrid(row.question));
    });
    expect(report.rows).toBe(6);
    expect(seen.size).toBe(6);
    expect(readdirSync(tmp).filter(f => f.includes('.tmp-'))).toEqual([]);
  });

  it('gives the same puzzles for a seed whatever the thread count', async () => {
    const workerUrl = await bundledWorker();
    const one = await generateSudoku({ ...base, count: 8, seed: 9, threads: 1 });
    const progress: number[] = [];
    const two = await generateSudoku({
      ...base,
      count: 8,
      seed: 9,
      threads: 2,
      workerUrl,
      onProgress: d => progress.push(d),
    });
    if (workerUrl) expect(two.threads).toBe(2);
    expect(two.puzzles.map(p => formatGrid(p.question))).toEqual(one.puzzles.map(p => formatGrid(p.question)));
    expect(progress.at(-1)).toBe(8);
    const other = await generateSudoku({ ...base, count: 2, seed: 10, threads: 1 });
    expect(formatGrid(other.puzzles[0].question)).not.toBe(formatGrid(one.puzzles[0].question));
  });

  it('makes 4x4 and 6x6 puzzles without duplicates', async () => {
    for (const size of [4, 6] as const) {
      const r = await generateSudoku({ ...base, size, minRating: 0, count: 30, seed: 1, threads: 1 });
      expect(new Set(r.puzzles.map(p => formatGrid(p.question))).size).toBe(30);
    }
  });

  it('gives up with a clear error when the band is out of reach', async () => {
    await expect(
      generateSudoku({ ...base, size: 4, minRating: 50, maxSteps: 20, count: 1, seed: 1, threads: 1 }),
    ).rejects.toThrow(/no 4x4 puzzle rated >= 50 found in 64 chains of 20 steps; lower --min-rating/);
  });
});
