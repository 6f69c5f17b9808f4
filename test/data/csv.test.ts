import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CsvError, readSudokuCsv, splitCsvLine, type SudokuRow } from '../../src/data/sudoku/csv.js';
import { formatGrid } from '../../src/data/sudoku/grid.js';
import { ANSWER, FIXTURES, PUZZLE, tempDir, writeCsv } from './helpers.js';

const dir = tempDir();
let k = 0;
const read = async (rows: string[], opts = {}, header?: string) => {
  const file = writeCsv(join(dir, `t${k++}.csv`), rows, header);
  const got: SudokuRow[] = [];
  const report = await readSudokuCsv(file, opts, r => got.push(r));
  return { file, got, report };
};
const good = `a,${PUZZLE},${ANSWER},22`;

describe('readSudokuCsv', () => {
  it('reads the fixture, with . or 0 blanks, CRLF and quoted fields', async () => {
    const rows: SudokuRow[] = [];
    const r = await readSudokuCsv(join(FIXTURES, 'sudoku-mini.csv'), {}, x => rows.push(x));
    expect(r).toMatchObject({ size: 9, rows: 5, skipped: 0 });
    expect(rows[0].line).toBe(2);
    const { got } = await read([good, `"b,c",${PUZZLE.replaceAll('.', '0')},"${ANSWER}",3\r`]);
    expect(got.map(x => [x.source, formatGrid(x.question), x.rating])).toEqual([
      ['a', PUZZLE, 22],
      ['b,c', PUZZLE, 3],
    ]);
  });

  it('infers 4x4 and 6x6 from the cell count', async () => {
    const { report } = await read(['s,1.3.3.1.2.4.4.2.,1234341221434321,0']);
    expect(report.size).toBe(4);
  });

  const bad = (line: number, field: string, re: RegExp) => ({ line, field, re });
  it.each([
    ['wrong field count', `x,${PUZZLE},${ANSWER}`, bad(3, 'row', /expected 4 fields .* got 3/)],
    ['unterminated quote', `"x,${PUZZLE},${ANSWER},1`, bad(3, 'row', /unterminated quoted field/)],
    ['short question', `x,${PUZZLE.slice(1)},${ANSWER},1`, bad(3, 'question', /expected 81 cells, got 80/)],
    [
      'letter in question',
      `x,${PUZZLE.slice(0, 4)}x${PUZZLE.slice(5)},${ANSWER},1`,
      bad(3, 'question', /bad character 'x' at r1c5/),
    ],
    ['blank in answer', `x,${PUZZLE},.${ANSWER.slice(1)},1`, bad(3, 'answer', /bad character '\.' at r1c1/)],
    [
      'invalid answer grid',
      `x,${PUZZLE},${ANSWER.slice(0, 80)}${ANSWER[0]},1`,
      bad(3, 'answer', /not a valid solution: digit 7 twice in row 9/),
    ],
    [
      'given disagrees',
      `x,${'1'}${PUZZLE.slice(1)},${ANSWER},1`,
      bad(3, 'question', /given 1 at r1c1 disagrees with answer 7/),
    ],
    ['bad rating', `x,${PUZZLE},${ANSWER},-3`, bad(3, 'rating', /expected a non-negative integer, got '-3'/)],
    ['odd size', `x,123,123,1`, bad(3, 'question', /expected 81 cells, got 3/)],
  ])('rejects %s naming file, line and field', async (_name, row, want) => {
    const err = await read([good, row]).catch(e => e);
    expect(err).toBeInstanceOf(CsvError);
    expect(err.line).toBe(want.line);
    expect(err.field).toBe(want.field);
    expect(err.message).toMatch(want.re);
    expect(err.message).toMatch(/t\d+\.csv:3: /);
    expect(err.code).toBe('TRM_BAD_CSV');
  });

  it('rejects a size it cannot infer from the first row', async () => {
    await expect(read(['x,123,123,1'])).rejects.toThrow(/:2: question: expected 16, 36 or 81 cells/);
  });

  it('skips and counts bad rows with skipInvalid', async () => {
    const { got, report } = await read([good, `x,${PUZZLE},${ANSWER},oops`, good, 'short'], { skipInvalid: true });
    expect(got.length).toBe(2);
    expect(report.skipped).toBe(2);
    expect(report.firstSkipped).toMatch(/:3: rating:/);
  });

  it('checks the header and the file', async () => {
    await expect(read([good], {}, 'question,answer')).rejects.toThrow(
      /:1: header: expected 'source,question,answer,rating'/,
    );
    await expect(readSudokuCsv(join(dir, 'missing.csv'), {}, () => {})).rejects.toThrow(
      /missing\.csv: no such file; download one/,
    );
  });

  it('splits RFC 4180 lines', () => {
    expect(splitCsvLine('a,"b ""q"", c",d')).toEqual(['a', 'b "q", c', 'd']);
    expect(splitCsvLine('a,"b"x')).toMatch(/unexpected character 'x'/);
  });
});
