/**
 * build.ts: `trm data build sudoku`, the official Sudoku dataset builder (HRM/TRM
 * dataset/build_sudoku_dataset.py) with its semantics, seeded:
 *
 *   read     every row of train/test CSV with minRating <= rating (<= maxRating), validated
 *   sample   train only (and test with testSubsample): `subsample` rows uniformly without
 *            replacement (reservoir sampling, Rng stream 1 / 3), kept in file order
 *   augment  train only: each original, then `aug` shuffles of it (augment.ts, Rng stream 2);
 *            every copy is a puzzle of one example, an original and its copies one group
 *   encode   token = value + 1: pad 0, blank 1, digits 2..n+1; vocab n+2, seq_len n*n
 *   write    <out>/{train,test}/ (dataset.ts) and identifiers.json, built in <out>.tmp-<pid>
 *            and renamed into place; build.json records the options and counts. SIGINT/SIGTERM
 *            remove the temp directory; one left by a killed build (dead pid) is removed by the
 *            next build of the same <out>; a failing disk is `cannot write <out>: reason`
 *
 * Upstream draws the subsample unseeded; here the same seed gives byte-identical files.
 */
import { tokenOf, vocabSize } from './tokens.js';
import { rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { TrmError } from '../../errors.js';
import { writeError } from '../../io/files.js';
import { removeOnSignal, removeStaleTemps, tempPath } from '../../io/tmp.js';
import { checkWritable } from '../files.js';
import { writeDatasetSplit, writeIdentifiers, type DatasetSplit } from '../dataset.js';
import { Rng, STREAM } from '../rng.js';
import { applyTransform, randomTransform } from './augment.js';
import { readSudokuCsv, type CsvReadReport } from './csv.js';
import { geometry, type Geometry, type SudokuSize } from './grid.js';
import { type MilestoneKind, type MilestoneSummary, splitMilestones } from './milestones.js';
import { writeSplitMilestones } from './milestones-files.js';

export interface BuildOptions {
  train: string;
  test: string;
  out: string;
  seed: number;
  aug: number; // shuffled copies per training puzzle
  subsample?: number; // training puzzles kept (default all)
  testSubsample?: number; // test puzzles kept (default all, as upstream)
  minRating?: number;
  maxRating?: number;
  skipInvalid?: boolean;
  force?: boolean; // replace an existing <out>
  /** also write milestone targets for every row of both splits (milestones.ts) */
  milestones?: MilestoneKind;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface SplitReport {
  file: string;
  rowsRead: number; // valid rows in the file
  skipped: number; // invalid rows skipped (skipInvalid)
  firstSkipped?: string;
  inBand: number; // rows passing the rating filter
  kept: number; // rows after subsampling = groups
  examples: number; // rows written = kept * (1 + aug)
}

export interface BuildReport {
  out: string;
  size: SudokuSize;
  train: SplitReport;
  test: SplitReport;
  /** with `milestones`: the summaries of the train and test splits */
  milestones?: { train: MilestoneSummary; test: MilestoneSummary };
  seconds: number;
}

/** Selected puzzles of one split, as flat (rows, cells) digit arrays in file order. */
interface Selection {
  q: Uint8Array;
  a: Uint8Array;
  rows: number;
  csv: CsvReadReport;
  inBand: number;
}

async function select(
  file: string,
  stage: string,
  size: SudokuSize | undefined,
  limit: number | undefined,
  rng: Rng,
  opts: BuildOptions,
): Promise<Selection> {
  const lo = opts.minRating ?? 0,
    hi = opts.maxRating ?? Infinity;
  let cells = 0,
    cap = 0,
    rows = 0,
    inBand = 0;
  let q = new Uint8Array(0),
    a = new Uint8Array(0),
    line = new Float64Array(0);
  const csv = await readSudokuCsv(
    file,
    { size, skipInvalid: opts.skipInvalid, onProgress: (d, t) => opts.onProgress?.(stage, d, t) },
    row => {
      if (row.rating < lo || row.rating > hi) return;
      if (cells === 0) {
        cells = row.question.length;
        cap = limit ?? 1024;
        q = new Uint8Array(cap * cells);
        a = new Uint8Array(cap * cells);
        line = new Float64Array(cap);
      }
      inBand++;
      let slot = rows;
      if (limit !== undefined && rows >= limit) {
        slot = rng.int(inBand); // Algorithm R: keep the new row with probability limit/inBand
        if (slot >= limit) return;
      } else if (rows === cap) {
        cap *= 2;
        const q2 = new Uint8Array(cap * cells),
          a2 = new Uint8Array(cap * cells),
          l2 = new Float64Array(cap);
        q2.set(q);
        a2.set(a);
        l2.set(line);
        q = q2;
        a = a2;
        line = l2;
      }
      if (slot === rows) rows++;
      q.set(row.question, slot * cells);
      a.set(row.answer, slot * cells);
      line[slot] = row.line;
    },
  );
  if (rows === 0) {
    const band = opts.maxRating !== undefined ? `in [${lo}, ${hi}]` : `>= ${lo}`;
    throw new TrmError(
      'TRM_BUILD',
      `${file}: no valid rows rated ${band} (${csv.rows} valid rows read); widen --min-rating/--max-rating`,
    );
  }
  // Back to file order (reservoir replacement scrambles it).
  const order = Array.from({ length: rows }, (_, i) => i).sort((i, j) => line[i] - line[j]);
  const qs = new Uint8Array(rows * cells),
    as = new Uint8Array(rows * cells);
  order.forEach((src, dst) => {
    qs.set(q.subarray(src * cells, (src + 1) * cells), dst * cells);
    as.set(a.subarray(src * cells, (src + 1) * cells), dst * cells);
  });
  return { q: qs, a: as, rows, csv, inBand };
}

/** Encode the selection (plus `aug` shuffles per puzzle) into the official arrays. */
function encode(sel: Selection, geo: Geometry, aug: number, rng: Rng): DatasetSplit {
  const S = geo.cells,
    G = sel.rows,
    N = G * (1 + aug);
  const inputs = new Uint8Array(N * S),
    labels = new Uint8Array(N * S);
  const puzzleIndices = new Int32Array(N + 1),
    groupIndices = new Int32Array(G + 1),
    puzzleIdentifiers = new Int32Array(N);
  const tq = new Uint8Array(S),
    ta = new Uint8Array(S);
  let e = 0;
  for (let g = 0; g < G; g++) {
    const q = sel.q.subarray(g * S, (g + 1) * S),
      a = sel.a.subarray(g * S, (g + 1) * S);
    for (let k = 0; k <= aug; k++, e++) {
      let qq = q,
        aa = a;
      if (k > 0) {
        const t = randomTransform(geo, rng);
        qq = applyTransform(t, q, geo, tq);
        aa = applyTransform(t, a, geo, ta);
      }
      for (let i = 0; i < S; i++) {
        inputs[e * S + i] = tokenOf(qq[i]);
        labels[e * S + i] = tokenOf(aa[i]);
      }
      puzzleIndices[e + 1] = e + 1;
    }
    groupIndices[g + 1] = e;
  }
  const meta = {
    pad_id: 0,
    ignore_label_id: 0,
    blank_identifier_id: 0,
    vocab_size: vocabSize(geo.n),
    seq_len: S,
    num_puzzle_identifiers: 1,
    total_groups: G,
    mean_puzzle_examples: 1,
    total_puzzles: G,
    sets: ['all'],
  };
  return { meta, inputs, labels, puzzleIdentifiers, puzzleIndices, groupIndices };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

export async function buildSudokuDataset(opts: BuildOptions): Promise<BuildReport> {
  const t0 = performance.now();
  if ((await exists(opts.out)) && !opts.force)
    throw new TrmError('TRM_BUILD', `${opts.out} already exists; pass --force to replace it`);
  await checkWritable(opts.out);
  const train = await select(
    opts.train,
    'read train',
    undefined,
    opts.subsample,
    new Rng(opts.seed, STREAM.build, 1),
    opts,
  );
  const size = train.csv.size!;
  const test = await select(
    opts.test,
    'read test',
    size,
    opts.testSubsample,
    new Rng(opts.seed, STREAM.build, 3),
    opts,
  );
  const geo = geometry(size);

  const tmp = tempPath(opts.out),
    release = removeOnSignal(tmp);
  try {
    removeStaleTemps(dirname(opts.out), `${basename(opts.out)}.tmp-`);
    await rm(tmp, { recursive: true, force: true });
    opts.onProgress?.('augment', 0, 1);
    const trainSplit = encode(train, geo, opts.aug, new Rng(opts.seed, STREAM.build, 2));
    const testSplit = encode(test, geo, 0, new Rng(opts.seed, STREAM.build, 4));
    await writeDatasetSplit(join(tmp, 'train'), trainSplit);
    await writeDatasetSplit(join(tmp, 'test'), testSplit);
    let milestones: BuildReport['milestones'];
    if (opts.milestones) {
      // per stored row, i.e. after augmentation
      opts.onProgress?.('milestones', 0, 2);
      const m = (split: DatasetSplit, name: string) => splitMilestones(geo, split.inputs, split.labels, name);
      const tr = m(trainSplit, 'train'),
        te = m(testSplit, 'test');
      await writeSplitMilestones(join(tmp, 'train'), tr.rounds, tr.summary, geo.cells);
      await writeSplitMilestones(join(tmp, 'test'), te.rounds, te.summary, geo.cells);
      milestones = { train: tr.summary, test: te.summary };
      opts.onProgress?.('milestones', 2, 2);
    }
    await writeIdentifiers(tmp);
    opts.onProgress?.('augment', 1, 1);
    const report: BuildReport = {
      out: opts.out,
      size,
      train: splitReport(train, 1 + opts.aug),
      test: splitReport(test, 1),
      ...(milestones ? { milestones } : {}),
      seconds: (performance.now() - t0) / 1000,
    };
    const { onProgress: _, force: __, ...options } = opts;
    await writeFile(
      join(tmp, 'build.json'),
      JSON.stringify(
        {
          builder: 'trm data build sudoku',
          options,
          size,
          train: report.train,
          test: report.test,
          ...(milestones ? { milestones } : {}),
        },
        null,
        2,
      ) + '\n',
    );
    if (await exists(opts.out)) await rm(opts.out, { recursive: true });
    await rename(tmp, opts.out);
    return report;
  } catch (e) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw isFsError(e) ? writeError(opts.out, e) : e;
  } finally {
    release();
  }
}

/** A Node filesystem error (it names a syscall and a path), as opposed to a bug or a TrmError. */
const isFsError = (e: unknown) => typeof (e as NodeJS.ErrnoException)?.syscall === 'string';

function splitReport(sel: Selection, copies: number): SplitReport {
  return {
    file: sel.csv.file,
    rowsRead: sel.csv.rows,
    skipped: sel.csv.skipped,
    firstSkipped: sel.csv.firstSkipped,
    inBand: sel.inBand,
    kept: sel.rows,
    examples: sel.rows * copies,
  };
}
