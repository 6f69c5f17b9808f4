/**
 * csv.ts: the Sudoku-Extreme CSV schema, read and written. Header `source,question,answer,rating`;
 * `question` has one character per cell ('.' or '0' blank), `answer` all digits, `rating` a
 * non-negative integer. The same schema carries 4x4 and 6x6 grids (16 and 36 characters).
 *
 * The reader streams (train.csv is 3.8M rows, ~700 MB) and validates every row: cell count,
 * characters, answer a valid full grid, givens equal to the answer. A bad row throws a CsvError
 * naming file, line and field, or, with skipInvalid, is counted and skipped. RFC-4180 quotes are
 * accepted; a field spanning lines is not.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { TrmError } from '../../errors.js';
import { requireFile } from '../files.js';
import {
  cellName,
  consistencyProblem,
  geometry,
  sizeForCells,
  solutionProblem,
  type Geometry,
  type SudokuSize,
} from './grid.js';

export const CSV_COLUMNS = ['source', 'question', 'answer', 'rating'] as const;

export class CsvError extends TrmError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly field: string,
    problem: string,
  ) {
    super('TRM_BAD_CSV', `${file}:${line}: ${field}: ${problem}`);
    this.name = 'CsvError';
  }
}

export interface SudokuRow {
  source: string;
  question: Uint8Array; // (cells) 0 = blank
  answer: Uint8Array; // (cells)
  rating: number;
  line: number; // 1-based line in the file (the header is line 1)
}

export interface CsvReadOptions {
  /** Grid size; default: taken from the first row (16, 36 or 81 cells). */
  size?: SudokuSize;
  /** Count and skip bad rows instead of throwing. */
  skipInvalid?: boolean;
  /** Called now and then with bytes read so far and the file size. */
  onProgress?: (bytes: number, total: number) => void;
}

export interface CsvReadReport {
  file: string;
  size: SudokuSize | undefined; // undefined for a file with a header only
  rows: number; // valid rows handed to the callback
  skipped: number; // bad rows skipped (skipInvalid)
  firstSkipped?: string; // the first skipped row's error message
}

export function csvHeader(): string {
  return CSV_COLUMNS.join(',');
}

export function formatCsvRow(source: string, question: Uint8Array, answer: Uint8Array, rating: number): string {
  let q = '',
    a = '';
  for (let i = 0; i < question.length; i++) {
    q += question[i] === 0 ? '.' : String(question[i]);
    a += String(answer[i]);
  }
  return `${source},${q},${a},${rating}`;
}

/** Split one CSV line into fields (RFC 4180 quoting); a string describing the problem on failure. */
export function splitCsvLine(line: string): string[] | string {
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let f = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return 'unterminated quoted field (fields spanning lines are not supported)';
        f += line.slice(i, q);
        if (line[q + 1] === '"') {
          f += '"';
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      out.push(f);
      if (i === line.length) return out;
      if (line[i] !== ',') return `unexpected character '${line[i]}' after a quoted field`;
      i++;
    } else {
      const c = line.indexOf(',', i);
      if (c < 0) {
        out.push(line.slice(i));
        return out;
      }
      out.push(line.slice(i, c));
      i = c + 1;
    }
  }
}

/** Parse a question ('.' or '0' blank) or answer (digits only); a problem string on failure. */
function parseCells(text: string, geo: Geometry, blanksAllowed: boolean): Uint8Array | string {
  if (text.length !== geo.cells) return `expected ${geo.cells} cells, got ${text.length}`;
  const g = new Uint8Array(geo.cells);
  for (let i = 0; i < geo.cells; i++) {
    const ch = text.charCodeAt(i);
    const d = ch === 46 ? 0 : ch - 48; // '.' -> 0
    if (d < 0 || d > geo.n || (d === 0 && !blanksAllowed))
      return `bad character '${text[i]}' at ${cellName(geo, i)} (cell ${i + 1}); expected ${blanksAllowed ? `'.', '0' or ` : ''}1-${geo.n}`;
    g[i] = d;
  }
  return g;
}

/**
 * Stream the rows of a Sudoku CSV to `onRow`, validating each. Throws CsvError on the first bad
 * row unless `skipInvalid`. Returns counts.
 */
export async function readSudokuCsv(
  file: string,
  opts: CsvReadOptions,
  onRow: (row: SudokuRow) => void,
): Promise<CsvReadReport> {
  await requireFile(
    file,
    "download one with 'trm data download sudoku-extreme' or make one with 'trm data generate sudoku'",
  );
  const total = (await stat(file)).size;
  const report: CsvReadReport = { file, size: opts.size, rows: 0, skipped: 0 };
  let geo: Geometry | undefined = opts.size ? geometry(opts.size) : undefined;
  const input = createReadStream(file, { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let lineNo = 0;
  const fail = (field: string, problem: string) => {
    const err = new CsvError(file, lineNo, field, problem);
    if (!opts.skipInvalid) throw err;
    if (report.skipped++ === 0) report.firstSkipped = err.message;
  };
  try {
    for await (const raw of lines) {
      lineNo++;
      if ((lineNo & 0xffff) === 0) opts.onProgress?.(input.bytesRead, total);
      const line = lineNo === 1 ? raw.replace(/^\uFEFF/, '').trimEnd() : raw;
      if (lineNo === 1) {
        if (line !== csvHeader())
          throw new CsvError(file, 1, 'header', `expected '${csvHeader()}', got '${line.slice(0, 80)}'`);
        continue;
      }
      if (line.trim() === '') continue;
      const fields = splitCsvLine(line);
      if (typeof fields === 'string') {
        fail('row', fields);
        continue;
      }
      if (fields.length !== 4) {
        fail('row', `expected 4 fields (${csvHeader()}), got ${fields.length}`);
        continue;
      }
      const [source, qText, aText, rText] = fields;
      if (!geo) {
        const n = sizeForCells(qText.length);
        if (!n) {
          fail('question', `expected 16, 36 or 81 cells (4x4, 6x6, 9x9), got ${qText.length}`);
          continue;
        }
        geo = geometry(n);
        report.size = n;
      }
      const question = parseCells(qText, geo, true);
      if (typeof question === 'string') {
        fail('question', question);
        continue;
      }
      const answer = parseCells(aText, geo, false);
      if (typeof answer === 'string') {
        fail('answer', answer);
        continue;
      }
      const bad = solutionProblem(answer, geo);
      if (bad) {
        fail('answer', `not a valid solution: ${bad}`);
        continue;
      }
      const clash = consistencyProblem(question, answer, geo);
      if (clash) {
        fail('question', clash);
        continue;
      }
      const r = rText.trim();
      if (!/^\d+$/.test(r)) {
        fail('rating', `expected a non-negative integer, got '${r.slice(0, 20)}'`);
        continue;
      }
      report.rows++;
      onRow({ source, question, answer, rating: Number(r), line: lineNo });
    }
  } finally {
    input.destroy();
  }
  opts.onProgress?.(total, total);
  if (lineNo === 0) throw new CsvError(file, 1, 'header', `empty file; expected '${csvHeader()}'`);
  return report;
}
