import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDatasetSplit } from '../../src/data/dataset.js';
import { inverseTransform } from '../../src/data/sudoku/augment.js';
import { buildSudokuDataset } from '../../src/data/sudoku/build.js';
import { formatCsvRow, csvHeader } from '../../src/data/sudoku/csv.js';
import { generateSudoku } from '../../src/data/sudoku/generate-file.js';
import { consistencyProblem, geometry, solutionProblem } from '../../src/data/sudoku/grid.js';
import { FIXTURES, tempDir } from './helpers.js';
import { writeFileSync } from 'node:fs';

const tmp = tempDir();
const mini = join(FIXTURES, 'sudoku-mini.csv');
const FILES = [
  'all__group_indices.npy',
  'all__inputs.npy',
  'all__labels.npy',
  'all__puzzle_identifiers.npy',
  'all__puzzle_indices.npy',
  'dataset.json',
];
const bytes = (dir: string) =>
  Object.fromEntries(FILES.flatMap(f => ['train', 'test'].map(s => [`${s}/${f}`, readFileSync(join(dir, s, f))])));
const grid = (tokens: Uint8Array) => Uint8Array.from(tokens, t => t - 1);

describe('the official dataset directory', () => {
  it('loads data written by the (numpy) official builder', async () => {
    const train = await readDatasetSplit(join(FIXTURES, 'official-mini/train'));
    expect(train.meta).toMatchObject({ vocab_size: 11, seq_len: 81, total_groups: 3, total_puzzles: 3, sets: ['all'] });
    expect(Array.from(train.puzzleIndices)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(Array.from(train.groupIndices)).toEqual([0, 3, 6, 9]);
    const geo = geometry(9);
    for (let e = 0; e < 9; e++) {
      const q = grid(train.inputs.subarray(e * 81, (e + 1) * 81)),
        a = grid(train.labels.subarray(e * 81, (e + 1) * 81));
      expect(solutionProblem(a, geo)).toBeNull();
      expect(consistencyProblem(q, a, geo)).toBeNull();
    }
  });

  it('matches the official layout byte for byte where no randomness is involved', async () => {
    const out = join(tmp, 'ours-mini');
    await buildSudokuDataset({ train: mini, test: mini, out, seed: 0, subsample: 3, aug: 2 });
    const theirs = join(FIXTURES, 'official-mini');
    for (const f of FILES) {
      const a = readFileSync(join(out, 'test', f)),
        b = readFileSync(join(theirs, 'test', f));
      expect(a.equals(b), `test/${f}`).toBe(true); // test split: whole files equal
      // Train: same headers and sizes. One difference is upstream's: with aug > 0 its int64 digit map
      // promotes the train inputs/labels to int64 ('<i8'); we keep the documented uint8 ('|u1').
      const c = readFileSync(join(out, 'train', f)),
        d = readFileSync(join(theirs, 'train', f));
      const wide = f === 'all__inputs.npy' || f === 'all__labels.npy';
      const theirHeader = d.subarray(0, 128).toString('latin1');
      if (f.endsWith('.npy'))
        expect(c.subarray(0, 128).toString('latin1'), `train/${f} header`).toBe(
          wide ? theirHeader.replace("'<i8'", "'|u1'") : theirHeader,
        );
      else expect(c.equals(d), `train/${f}`).toBe(true);
      expect(c.length, `train/${f} size`).toBe(wide ? 128 + (d.length - 128) / 8 : d.length);
    }
    expect(readFileSync(join(out, 'identifiers.json'), 'utf8')).toBe(
      readFileSync(join(theirs, 'identifiers.json'), 'utf8'),
    );
  });

  it('is reproducible: same seed, identical files; another seed, other shuffles', async () => {
    const a = join(tmp, 'a'),
      b = join(tmp, 'b'),
      c = join(tmp, 'c');
    for (const [out, seed] of [
      [a, 1],
      [b, 1],
      [c, 2],
    ] as const)
      await buildSudokuDataset({ train: mini, test: mini, out, seed, subsample: 4, aug: 5 });
    const [x, y, z] = [bytes(a), bytes(b), bytes(c)];
    for (const k of Object.keys(x)) expect(x[k].equals(y[k]), k).toBe(true);
    expect(x['train/all__inputs.npy'].equals(z['train/all__inputs.npy'])).toBe(false);
  });

  it('writes originals followed by valid, consistent shuffles, one group each', async () => {
    const out = join(tmp, 'aug');
    const r = await buildSudokuDataset({ train: mini, test: mini, out, seed: 3, aug: 20, testSubsample: 2 });
    expect(r.train).toMatchObject({ rowsRead: 5, kept: 5, examples: 105 });
    expect(r.test).toMatchObject({ kept: 2, examples: 2 });
    const s = await readDatasetSplit(join(out, 'train')),
      geo = geometry(9);
    expect(Array.from(s.groupIndices)).toEqual([0, 21, 42, 63, 84, 105]);
    const rows = readFileSync(mini, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map(l => l.split(','));
    for (let e = 0; e < 105; e++) {
      const q = grid(s.inputs.subarray(e * 81, (e + 1) * 81)),
        a = grid(s.labels.subarray(e * 81, (e + 1) * 81));
      expect(solutionProblem(a, geo)).toBeNull();
      expect(consistencyProblem(q, a, geo)).toBeNull();
      if (e % 21 === 0) expect(Array.from(q, d => (d ? String(d) : '.')).join('')).toBe(rows[e / 21][1]);
    }
    expect(JSON.parse(readFileSync(join(out, 'build.json'), 'utf8')).options).toMatchObject({ seed: 3, aug: 20 });
    await expect(buildSudokuDataset({ train: mini, test: mini, out, seed: 3, aug: 0 })).rejects.toThrow(
      /already exists; pass --force/,
    );
    await buildSudokuDataset({ train: mini, test: mini, out, seed: 3, aug: 0, force: true });
    expect(readdirSync(tmp).some(f => f.includes('.tmp-'))).toBe(false);
  });

  it('filters by rating band and refuses an empty band', async () => {
    const out = join(tmp, 'band');
    const r = await buildSudokuDataset({ train: mini, test: mini, out, seed: 0, aug: 0, minRating: 25, maxRating: 30 });
    const ratings = readFileSync(mini, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map(l => Number(l.split(',')[3]));
    expect(r.train.kept).toBe(ratings.filter(x => x >= 25 && x <= 30).length);
    await expect(
      buildSudokuDataset({ train: mini, test: mini, out: join(tmp, 'none'), seed: 0, aug: 0, minRating: 10000 }),
    ).rejects.toThrow(/sudoku-mini\.csv: no valid rows rated >= 10000/);
  });

  it.each([
    [4, 16, 6],
    [6, 36, 8],
  ] as const)('builds %ix%i datasets (seq_len %i, vocab %i)', async (n, seqLen, vocab) => {
    const { puzzles } = await generateSudoku({
      size: n,
      count: 6,
      seed: 1,
      minRating: 0,
      maxRating: Infinity,
      perChain: 1,
      maxSteps: 0,
      threads: 1,
    });
    const csv = join(tmp, `s${n}.csv`);
    writeFileSync(
      csv,
      [csvHeader(), ...puzzles.map(p => formatCsvRow('t', p.question, p.answer, p.rating))].join('\n') + '\n',
    );
    const out = join(tmp, `d${n}`);
    await buildSudokuDataset({ train: csv, test: csv, out, seed: 0, aug: 10 });
    const s = await readDatasetSplit(join(out, 'train')),
      geo = geometry(n);
    expect(s.meta).toMatchObject({ seq_len: seqLen, vocab_size: vocab, total_groups: 6 });
    for (let e = 0; e < 66; e++) {
      const q = grid(s.inputs.subarray(e * seqLen, (e + 1) * seqLen)),
        a = grid(s.labels.subarray(e * seqLen, (e + 1) * seqLen));
      expect(solutionProblem(a, geo)).toBeNull();
      expect(consistencyProblem(q, a, geo)).toBeNull();
    }
    expect(inverseTransform).toBeDefined();
  });

  it('names the file when a split is inconsistent', async () => {
    const out = join(tmp, 'broken');
    await buildSudokuDataset({ train: mini, test: mini, out, seed: 0, aug: 0 });
    writeFileSync(
      join(out, 'test', 'dataset.json'),
      readFileSync(join(out, 'test', 'dataset.json'), 'utf8').replace('"seq_len": 81', '"seq_len": 80'),
    );
    await expect(readDatasetSplit(join(out, 'test'))).rejects.toThrow(
      /all__inputs\.npy: expected shape \(N, 80\) from seq_len, got \(5, 81\)/,
    );
    await expect(readDatasetSplit(join(tmp, 'nowhere'))).rejects.toThrow(/dataset\.json: no such file/);
  });
});
