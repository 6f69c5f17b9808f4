import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCommandArgs } from '../../src/cli/command.js';
import { dataCommand } from '../../src/cli/commands/data.js';
import { ANSWER, FIXTURES, PUZZLE, tempDir, trm, writeCsv } from './helpers.js';

const tmp = tempDir();
const run = (argv: string[]) => dataCommand.run(parseCommandArgs(dataCommand, argv));

describe('trm data (parsed in-process)', () => {
  it.each([
    [['frobnicate'], /data: expected one of 'generate', 'build', 'download', 'inspect', got 'frobnicate'/],
    [['generate', 'kakuro'], /data generate: expected 'sudoku', got 'kakuro'/],
    [['generate', 'sudoku'], /data generate: --out is required/],
    [['generate', 'sudoku', '--out', 'x.csv', '--size', '5'], /--size: expected 4, 6 or 9, got 5/],
    [['generate', 'sudoku', '--out', 'x.csv', '--count', 'many'], /--count: expected an integer/],
    [
      ['generate', 'sudoku', '--out', 'x.csv', '--min-rating', '9', '--max-rating', '3'],
      /--max-rating 3 is below --min-rating 9/,
    ],
    [['generate', 'sudoku', '--out', 'x.csv', '--aug', '3'], /data generate: --aug does not apply/],
    [['build', 'sudoku', '--train', 'a.csv'], /data build: --test is required/],
    [['download', 'sudoku-extreme', '--split', 'dev'], /--split: expected train or test, got 'dev'/],
    [['inspect'], /data inspect: expected a PATH/],
  ])('rejects %j', async (argv, re) => {
    await expect(run(argv)).rejects.toThrow(re);
  });

  it('rejects unknown flags at parse time', () => {
    expect(() => parseCommandArgs(dataCommand, ['generate', 'sudoku', '--bogus'])).toThrow(/Unknown option '--bogus'/);
  });
});

describe('trm data (spawned)', () => {
  it('generates, builds and inspects end to end', () => {
    const csv = join(tmp, 'g.csv'),
      out = join(tmp, 'ds');
    const g = trm([
      'data',
      'generate',
      'sudoku',
      '--size',
      '6',
      '--count',
      '12',
      '--seed',
      '3',
      '--out',
      csv,
      '--threads',
      '1',
    ]);
    expect(g.code).toBe(0);
    expect(g.stderr).toMatch(
      /^generate: wrote 12 6x6 puzzles to .*g\.csv in .* s \(.*\/s on 1 thread, \d+ chains\); rating min 0/m,
    );
    expect(readFileSync(csv, 'utf8').trim().split('\n').length).toBe(13);
    const b = trm([
      'data',
      'build',
      'sudoku',
      '--train',
      csv,
      '--test',
      csv,
      '--aug',
      '3',
      '--subsample',
      '5',
      '--out',
      out,
    ]);
    expect(b.code).toBe(0);
    expect(b.stderr).toMatch(/build: train: 12 rows read, 12 in rating band, 5 kept, 20 examples/);
    const i = trm(['data', 'inspect', out, '--json']);
    expect(i.code).toBe(0);
    expect(JSON.parse(i.stdout).splits.train).toMatchObject({ seq_len: 36, vocab_size: 8, examples: 20, groups: 5 });
  });

  it.each([
    ['an unknown flag', ['data', 'generate', 'sudoku', '--bogus'], 2, /^trm: data: Unknown option '--bogus'/],
    [
      'a missing file',
      ['data', 'build', 'sudoku', '--train', 'nope.csv', '--test', 'nope.csv', '--out', 'x'],
      1,
      /^trm: nope\.csv: no such file; download one with/,
    ],
    [
      'a malformed row',
      ['data', 'inspect', 'BAD'],
      1,
      /^trm: .*bad\.csv:3: question: given 1 at r1c1 disagrees with answer 7$/,
    ],
    [
      'an impossible band',
      [
        'data',
        'generate',
        'sudoku',
        '--size',
        '4',
        '--min-rating',
        '40',
        '--max-steps',
        '5',
        '--count',
        '1',
        '--out',
        'x.csv',
      ],
      1,
      /^trm: no 4x4 puzzle rated >= 40/,
    ],
  ])('reports %s in one line without a stack', (_name, argv, code, re) => {
    const bad = writeCsv(join(tmp, 'bad.csv'), [`a,${PUZZLE},${ANSWER},1`, `b,1${PUZZLE.slice(1)},${ANSWER},1`]);
    const r = trm(
      argv.map(a => (a === 'BAD' ? bad : a)),
      tmp,
    );
    expect(r.code).toBe(code);
    const lines = r.stderr
      .trim()
      .split('\n')
      .filter(l => l.startsWith('trm:') || /^\s+at /.test(l));
    expect(lines.length).toBe(1);
    expect(lines[0]).toMatch(re);
  });

  it('--skip-invalid counts bad rows instead', () => {
    writeFileSync(
      join(tmp, 'mixed.csv'),
      readFileSync(join(FIXTURES, 'sudoku-mini.csv'), 'utf8') + `x,${PUZZLE},${ANSWER},bad\n`,
    );
    const r = trm(['data', 'inspect', join(tmp, 'mixed.csv'), '--skip-invalid', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ rows: 5, skipped: 1, size: 9 });
  });
});
