/** fixture.ts: small generated 4x4 Sudoku datasets for the training tests (seeded, built once per directory). */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDatasetSplit, type DatasetSplit } from '../../src/data/dataset.js';
import { buildSudokuDataset } from '../../src/data/sudoku/build.js';
import { generateSudokuFile } from '../../src/data/sudoku/generate-file.js';

export interface Sudoku4 {
  dir: string;
  train: DatasetSplit;
  test: DatasetSplit;
}

/** Generate `trainCount` + `testCount` 4x4 puzzles (different seeds) and build them with `aug` copies. */
export async function makeSudoku4(
  trainCount: number,
  testCount: number,
  aug: number,
  root = mkdtempSync(join(tmpdir(), 'trm-train-')),
): Promise<Sudoku4> {
  const dir = join(root, 'sudoku4');
  if (!existsSync(dir)) {
    const chain = { size: 4 as const, minRating: 0, maxRating: Infinity, perChain: 1, maxSteps: 2000, threads: 1 };
    await generateSudokuFile({ ...chain, count: trainCount, seed: 11, out: join(root, 'train.csv') });
    await generateSudokuFile({ ...chain, count: testCount, seed: 12, out: join(root, 'test.csv') });
    await buildSudokuDataset({ train: join(root, 'train.csv'), test: join(root, 'test.csv'), out: dir, seed: 0, aug });
  }
  return { dir, train: await readDatasetSplit(join(dir, 'train')), test: await readDatasetSplit(join(dir, 'test')) };
}
