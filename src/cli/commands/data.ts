/**
 * `trm data`: Sudoku data. Subcommands as positionals:
 *   trm data generate sudoku   hard puzzles offline (seeded, all cores) -> Sudoku-Extreme CSV
 *   trm data build sudoku      CSVs -> the official dataset directory (augmented, seeded)
 *   trm data download sudoku-extreme   the real CSVs from the Hugging Face hub (cached, resumable)
 *   trm data inspect PATH      summary of a dataset directory, split or CSV
 * The work lives in src/data/; this file parses, reports progress and prints summaries.
 */
import { tokensText } from '../../data/sudoku/tokens.js';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { defineCommand, intOption, type OptionSpec, type ParsedArgs } from '../command.js';
import { TrmError, UsageError } from '../../errors.js';
import { readDatasetSplit } from '../../data/dataset.js';
import { defaultCacheDir, downloadSudokuExtreme } from '../../data/download.js';
import { progressBar, type Progress } from '../../data/progress.js';
import { buildSudokuDataset } from '../../data/sudoku/build.js';
import { readSudokuCsv } from '../../data/sudoku/csv.js';
import { DEFAULT_CHAIN, generateSudokuFile } from '../../data/sudoku/generate-file.js';
import { formatGrid, type SudokuSize } from '../../data/sudoku/grid.js';
import { MILESTONE_KINDS, type MilestoneKind } from '../../data/sudoku/milestones.js';
import { MILESTONES_JSON } from '../../data/sudoku/milestones-files.js';
import { readFile, stat } from 'node:fs/promises';

const ACTIONS: Record<string, { target: string; flags: string[] }> = {
  generate: {
    target: 'sudoku',
    flags: ['size', 'count', 'min-rating', 'max-rating', 'seed', 'out', 'threads', 'per-chain', 'max-steps'],
  },
  build: {
    target: 'sudoku',
    flags: [
      'train',
      'test',
      'out',
      'subsample',
      'test-subsample',
      'aug',
      'min-rating',
      'max-rating',
      'seed',
      'skip-invalid',
      'force',
      'milestones',
    ],
  },
  download: { target: 'sudoku-extreme', flags: ['split', 'dir', 'force'] },
  inspect: { target: 'PATH', flags: ['skip-invalid', 'json'] },
};

const dataOptions = {
  size: { type: 'string', argument: 'N', description: 'generate: grid size 4, 6 or 9 (default: 9)' },
  count: { type: 'string', argument: 'N', description: 'generate: puzzles to write (default: 100)' },
  'min-rating': {
    type: 'string',
    argument: 'R',
    description:
      'generate/build: keep puzzles rated >= R guesses (generate default: 20 for 9x9, 0 otherwise; build: 0)',
  },
  'max-rating': {
    type: 'string',
    argument: 'R',
    description: 'generate/build: keep puzzles rated <= R (default: no limit)',
  },
  seed: {
    type: 'string',
    argument: 'S',
    description: 'generate/build: random seed; same seed, same files (default: 0)',
  },
  out: { type: 'string', argument: 'PATH', description: 'generate: CSV file to write; build: dataset directory' },
  threads: {
    type: 'string',
    argument: 'N',
    description: `generate: worker threads (default: all cores, ${availableParallelism()} here)`,
  },
  'per-chain': {
    type: 'string',
    argument: 'K',
    description: `generate: puzzles one hill-climbing chain may yield (default: ${DEFAULT_CHAIN.perChain}; more is faster, less diverse)`,
  },
  'max-steps': {
    type: 'string',
    argument: 'N',
    description: `generate: climbing steps before a chain gives up (default: ${DEFAULT_CHAIN.maxSteps})`,
  },
  train: { type: 'string', argument: 'CSV', description: 'build: training CSV (source,question,answer,rating)' },
  test: { type: 'string', argument: 'CSV', description: 'build: test CSV' },
  subsample: { type: 'string', argument: 'N', description: 'build: training puzzles drawn at random (default: all)' },
  'test-subsample': {
    type: 'string',
    argument: 'N',
    description: 'build: test puzzles drawn at random (default: all, as upstream)',
  },
  aug: { type: 'string', argument: 'N', description: 'build: shuffled copies per training puzzle (default: 0)' },
  'skip-invalid': { type: 'boolean', description: 'build/inspect: count and skip bad CSV rows instead of stopping' },
  force: { type: 'boolean', description: 'build: replace an existing --out; download: fetch again' },
  milestones: {
    type: 'string',
    argument: 'KIND',
    description: `build: also store milestone targets per row (${MILESTONE_KINDS.join(', ')}; docs/DATA.md)`,
  },
  split: { type: 'string', argument: 'train|test', description: 'download: one split (default: both)' },
  dir: {
    type: 'string',
    argument: 'DIR',
    description: 'download: cache directory (default: ~/.cache/trm; files go to DIR/sudoku-extreme/)',
  },
  json: { type: 'boolean', description: 'inspect: print JSON' },
} as const satisfies Record<string, OptionSpec>;
type DataArgs = ParsedArgs<typeof dataOptions>;

export const dataCommand = defineCommand({
  name: 'data',
  summary: 'generate, download, build and inspect Sudoku datasets',
  usage: 'generate sudoku | build sudoku | download sudoku-extreme | inspect PATH  [options]',
  options: dataOptions,

  details: [
    'Examples:',
    '  trm data generate sudoku --size 9 --count 1000 --min-rating 20 --seed 1 --out data/train.csv',
    '  trm data download sudoku-extreme --split test',
    '  trm data build sudoku --train train.csv --test test.csv --subsample 1000 --aug 1000 --seed 0 --out data/sudoku-1k-aug-1000',
    '  trm data inspect data/sudoku-1k-aug-1000',
    'Rating = guesses of a uniqueness-proving search (docs/DATA.md). HF_ENDPOINT overrides https://huggingface.co;',
    'TRM_DOWNLOAD_TIMEOUT=SECONDS (default 30) is how long a download waits for an answer or for more bytes.',
  ].join('\n'),
  async run(args) {
    const [action, target, ...extra] = args.positionals;
    const spec = action ? ACTIONS[action] : undefined;
    if (!spec)
      throw new UsageError(
        `data: expected one of ${Object.keys(ACTIONS)
          .map(a => `'${a}'`)
          .join(', ')}${action ? `, got '${action}'` : ''} (see 'trm data --help')`,
      );
    if (spec.target !== 'PATH' && target !== spec.target)
      throw new UsageError(
        `data ${action}: expected '${spec.target}'${target ? `, got '${target}'` : ''} (e.g. 'trm data ${action} ${spec.target}')`,
      );
    if (spec.target === 'PATH' && !target) throw new UsageError(`data ${action}: expected a PATH`);
    if (extra.length) throw new UsageError(`data ${action}: unexpected argument '${extra[0]}'`);
    for (const [k, v] of Object.entries(args.values))
      if (v !== undefined && !spec.flags.includes(k))
        throw new UsageError(
          `data ${action}: --${k} does not apply (options: ${spec.flags.map(f => `--${f}`).join(' ')})`,
        );
    if (action === 'generate') return generate(args);
    if (action === 'build') return build(args);
    if (action === 'download') return download(args);
    return inspect(args, target);
  },
});

function requireString(args: DataArgs, name: 'out' | 'train' | 'test', action: string): string {
  const v = args.values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`data ${action}: --${name} is required`);
  return v;
}

function ratingBand(args: DataArgs, minDefault: number): { min: number; max: number } {
  const min = intOption(args, 'min-rating', 0) ?? minDefault,
    max = intOption(args, 'max-rating', 0) ?? Infinity;
  if (max < min) throw new UsageError(`--max-rating ${max} is below --min-rating ${min}`);
  return { min, max };
}

async function generate(args: DataArgs): Promise<void> {
  const size = (intOption(args, 'size', 4, 9) ?? 9) as SudokuSize;
  if (![4, 6, 9].includes(size)) throw new UsageError(`--size: expected 4, 6 or 9, got ${size}`);
  const out = requireString(args, 'out', 'generate');
  const count = intOption(args, 'count', 1) ?? 100;
  const { min, max } = ratingBand(args, size === 9 ? 20 : 0);
  const seed = intOption(args, 'seed', 0, 0xffffffff) ?? 0;
  const bar = progressBar('generate', 'puzzles', count);
  const r = await generateSudokuFile({
    size,
    count,
    minRating: min,
    maxRating: max,
    seed,
    out,
    threads: intOption(args, 'threads', 1, 256),
    perChain: intOption(args, 'per-chain', 1) ?? DEFAULT_CHAIN.perChain,
    maxSteps: intOption(args, 'max-steps', 0) ?? DEFAULT_CHAIN.maxSteps,
    onProgress: done => bar.update(done),
  }).catch(e => {
    bar.stop();
    throw e;
  });
  const ratings = r.puzzles.map(p => p.rating).sort((a, b) => a - b);
  bar.stop(
    `generate: wrote ${r.puzzles.length} ${size}x${size} puzzles to ${out} in ${r.seconds.toFixed(1)} s ` +
      `(${(r.puzzles.length / r.seconds).toFixed(2)}/s on ${r.threads} thread${r.threads > 1 ? 's' : ''}, ${r.chains} chains); ` +
      `rating min ${ratings[0]}, median ${ratings[ratings.length >> 1]}, max ${ratings[ratings.length - 1]}`,
  );
}

async function build(args: DataArgs): Promise<void> {
  const { min, max } = ratingBand(args, 0);
  const milestones = args.values.milestones as string | undefined;
  if (milestones !== undefined && !(MILESTONE_KINDS as readonly string[]).includes(milestones))
    throw new UsageError(`--milestones: expected one of ${MILESTONE_KINDS.join(', ')}, got '${milestones}'`);
  let bar: Progress | undefined,
    stage = '';
  const r = await buildSudokuDataset({
    train: requireString(args, 'train', 'build'),
    test: requireString(args, 'test', 'build'),
    out: requireString(args, 'out', 'build'),
    seed: intOption(args, 'seed', 0, 0xffffffff) ?? 0,
    aug: intOption(args, 'aug', 0) ?? 0,
    subsample: intOption(args, 'subsample', 1),
    testSubsample: intOption(args, 'test-subsample', 1),
    minRating: args.values['min-rating'] !== undefined ? min : undefined,
    maxRating: Number.isFinite(max) ? max : undefined,
    skipInvalid: args.values['skip-invalid'] === true,
    force: args.values.force === true,
    milestones: milestones as MilestoneKind | undefined,
    onProgress: (s, done, total) => {
      if (s !== stage) {
        bar?.stop(`${stage}: done`);
        stage = s;
        bar = progressBar(s, s.startsWith('read') ? 'MB' : 'steps', 1);
      }
      bar!.update(
        s.startsWith('read') ? Math.round(done / 1e5) / 10 : done,
        s.startsWith('read') ? Math.round(total / 1e5) / 10 : total,
      );
    },
  }).catch(e => {
    bar?.stop();
    throw e;
  });
  bar?.stop(`${stage}: done`);
  for (const [name, s] of [
    ['train', r.train],
    ['test', r.test],
  ] as const) {
    console.error(
      `build: ${name}: ${s.rowsRead} rows read, ${s.inBand} in rating band, ${s.kept} kept, ${s.examples} examples` +
        (s.skipped ? `; skipped ${s.skipped} invalid rows (first: ${s.firstSkipped})` : ''),
    );
  }
  if (r.milestones)
    for (const [name, m] of Object.entries(r.milestones))
      console.error(
        `build: ${name}: ${m.kind} milestones: mean ${m.mean_milestones.toFixed(2)}, max ${m.max_milestones} per row; ` +
          `${m.rows_with_locked_candidates} rows used locked candidates, ${m.rows_with_jump} end in a jump to the solution`,
      );
  console.error(`build: wrote ${r.size}x${r.size} dataset to ${r.out} in ${r.seconds.toFixed(1)} s`);
}

async function download(args: DataArgs): Promise<void> {
  const split = args.values.split;
  if (split !== undefined && split !== 'train' && split !== 'test')
    throw new UsageError(`--split: expected train or test, got '${split}'`);
  const dir = args.values.dir ?? defaultCacheDir();
  let bar: Progress | undefined,
    current = '';
  const reports = await downloadSudokuExtreme({
    split: split as 'train' | 'test' | undefined,
    dir,
    force: args.values.force === true,
    onProgress: (file, done, total) => {
      if (file !== current) {
        bar?.stop(`download: ${current} done`);
        current = file;
        bar = progressBar(`download ${file}`, 'MB', 0);
      }
      bar!.update(Math.round(done / 1e5) / 10, Math.round(total / 1e5) / 10);
    },
  }).catch(e => {
    bar?.stop();
    throw e;
  });
  bar?.stop(`download: ${current} done`);
  for (const r of reports)
    console.error(
      `download: ${r.path} (${(r.bytes / 1e6).toFixed(1)} MB${r.cached ? ', cached' : r.resumedFrom ? `, resumed at ${(r.resumedFrom / 1e6).toFixed(1)} MB` : ''})`,
    );
}

async function inspect(args: DataArgs, path: string): Promise<void> {
  const st = await stat(path).catch(() => {
    throw new TrmError('TRM_NO_FILE', `${path}: no such file or directory`);
  });
  let info: Record<string, unknown>;
  if (st.isFile()) {
    const ratings: number[] = [];
    let sample = '';
    const r = await readSudokuCsv(path, { skipInvalid: args.values['skip-invalid'] === true }, row => {
      ratings.push(row.rating);
      if (!sample) sample = formatGrid(row.question);
    });
    ratings.sort((a, b) => a - b);
    const bands = [
      [0, 0],
      [1, 2],
      [3, 10],
      [11, 50],
      [51, Infinity],
    ].map(([lo, hi]) => [
      `${lo}${hi === lo ? '' : hi === Infinity ? '+' : `-${hi}`}`,
      ratings.filter(x => x >= lo && x <= hi).length,
    ]);
    info = {
      file: path,
      size: r.size,
      rows: r.rows,
      skipped: r.skipped,
      ratingMedian: ratings[ratings.length >> 1] ?? null,
      ratingMean: ratings.length ? +(ratings.reduce((a, b) => a + b, 0) / ratings.length).toFixed(2) : null,
      ratingBands: Object.fromEntries(bands),
      sample,
    };
  } else {
    const splits: Record<string, unknown> = {};
    const dirs = (await stat(join(path, 'dataset.json')).then(
      () => true,
      () => false,
    ))
      ? { [path]: path }
      : { train: join(path, 'train'), test: join(path, 'test') };
    for (const [name, d] of Object.entries(dirs)) {
      const s = await readDatasetSplit(d);
      splits[name] = {
        ...s.meta,
        examples: s.inputs.length / s.meta.seq_len,
        puzzles: s.puzzleIndices.length - 1,
        groups: s.groupIndices.length - 1,
        firstInput: tokensText(s.inputs.subarray(0, s.meta.seq_len), s.meta.vocab_size - 2),
      };
      // built with --milestones: their summary (data/sudoku/milestones.ts)
      const ms = await readFile(join(d, MILESTONES_JSON), 'utf8').then(
        t => JSON.parse(t) as Record<string, unknown>,
        () => null,
      );
      if (ms) {
        const { histogram: _, ...summary } = ms;
        (splits[name] as Record<string, unknown>).milestones = summary;
      }
    }
    info = { dir: path, splits };
  }
  if (args.values.json) {
    console.log(JSON.stringify(info, null, 2));
    return;
  }
  for (const [k, v] of Object.entries(info))
    console.log(`${k.padEnd(14)}${typeof v === 'object' ? JSON.stringify(v) : v}`);
}
