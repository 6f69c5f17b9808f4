/**
 * grid.ts: Sudoku geometry and grids. A grid is a row-major Uint8Array of n·n cells holding 0 for
 * a blank and 1..n for a digit. Sizes 4 (2x2 boxes), 6 (2 rows x 3 columns per box) and 9 (3x3)
 * share every table here, so the solver, generator, augmentation and CSV code are size-agnostic.
 * Text form (the Sudoku-Extreme CSV cells): one character per cell, '.' or '0' for a blank.
 */
import { TrmError } from '../../errors.js';

export type SudokuSize = 4 | 6 | 9;
export const SUDOKU_SIZES: readonly SudokuSize[] = [4, 6, 9];

export interface Geometry {
  n: SudokuSize; // digits and cells per row, column and box
  boxRows: number; // rows per box (a band is boxRows rows)
  boxCols: number; // columns per box (a stack is boxCols columns)
  cells: number; // n * n
  units: Int32Array; // (3n, n) cell indices: rows, then columns, then boxes
  peers: Int32Array; // (cells, nPeers) the other cells sharing a row, column or box
  nPeers: number; // 2(n-1) + (boxRows-1)(boxCols-1)
}

const cache = new Map<number, Geometry>();

/** The shared tables for an n x n Sudoku; n must be 4, 6 or 9. */
export function geometry(n: number): Geometry {
  const hit = cache.get(n);
  if (hit) return hit;
  if (n !== 4 && n !== 6 && n !== 9)
    throw new TrmError('TRM_SUDOKU_SIZE', `unsupported Sudoku size ${n} (use 4, 6 or 9)`);
  const boxRows = n === 9 ? 3 : 2,
    boxCols = n / boxRows,
    cells = n * n;
  const units = new Int32Array(3 * n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      units[i * n + j] = i * n + j; // row i
      units[(n + i) * n + j] = j * n + i; // column i
      const br = Math.floor(i / (n / boxCols)) * boxRows,
        bc = (i % (n / boxCols)) * boxCols;
      units[(2 * n + i) * n + j] = (br + Math.floor(j / boxCols)) * n + bc + (j % boxCols); // box i
    }
  }
  const nPeers = 2 * (n - 1) + (boxRows - 1) * (boxCols - 1);
  const peers = new Int32Array(cells * nPeers);
  for (let c = 0; c < cells; c++) {
    const r = Math.floor(c / n),
      col = c % n;
    let k = 0;
    for (let p = 0; p < cells; p++) {
      if (p === c) continue;
      const pr = Math.floor(p / n),
        pc = p % n;
      const sameBox =
        Math.floor(pr / boxRows) === Math.floor(r / boxRows) && Math.floor(pc / boxCols) === Math.floor(col / boxCols);
      if (pr === r || pc === col || sameBox) peers[c * nPeers + k++] = p;
    }
  }
  const g: Geometry = { n, boxRows, boxCols, cells, units, peers, nPeers };
  cache.set(n, g);
  return g;
}

/** The size whose grids have `cells` cells (16, 36, 81), or undefined. */
export function sizeForCells(cells: number): SudokuSize | undefined {
  return SUDOKU_SIZES.find(n => n * n === cells);
}

/** 'r3c7' (1-based) for a cell index: how error messages name a cell. */
export function cellName(geo: Geometry, cell: number): string {
  return `r${Math.floor(cell / geo.n) + 1}c${(cell % geo.n) + 1}`;
}

/** Grid text: digits, '.' for blanks. */
export function formatGrid(grid: Uint8Array): string {
  let s = '';
  for (let i = 0; i < grid.length; i++) s += grid[i] === 0 ? '.' : String(grid[i]);
  return s;
}

/** Parse grid text ('.' or '0' for blank); throws on a wrong length or character. */
export function parseGrid(text: string, geo: Geometry): Uint8Array {
  if (text.length !== geo.cells) throw new TrmError('TRM_BAD_GRID', `expected ${geo.cells} cells, got ${text.length}`);
  const g = new Uint8Array(geo.cells);
  for (let i = 0; i < geo.cells; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 46) continue; // '.'
    const d = ch - 48;
    if (d < 0 || d > geo.n) throw new TrmError('TRM_BAD_GRID', `bad character '${text[i]}' at ${cellName(geo, i)}`);
    g[i] = d;
  }
  return g;
}

/** The first problem that keeps `grid` from being a complete valid solution, or null. */
export function solutionProblem(grid: Uint8Array, geo: Geometry): string | null {
  const { n, units } = geo,
    kinds = ['row', 'column', 'box'];
  for (let c = 0; c < geo.cells; c++)
    if (grid[c] < 1 || grid[c] > n) return `${cellName(geo, c)} is not a digit 1-${n}`;
  for (let u = 0; u < 3 * n; u++) {
    let seen = 0;
    for (let i = 0; i < n; i++) {
      const bit = 1 << grid[units[u * n + i]];
      if (seen & bit) return `digit ${grid[units[u * n + i]]} twice in ${kinds[Math.floor(u / n)]} ${(u % n) + 1}`;
      seen |= bit;
    }
  }
  return null;
}

/** The first pair of equal givens in one row, column or box (a puzzle with no solution), or null. */
export function givensProblem(puzzle: Uint8Array, geo: Geometry): string | null {
  const { n, units } = geo,
    kinds = ['row', 'column', 'box'];
  for (let u = 0; u < 3 * n; u++) {
    const at = new Int32Array(n + 1).fill(-1);
    for (let i = 0; i < n; i++) {
      const c = units[u * n + i],
        d = puzzle[c];
      if (d === 0) continue;
      if (at[d] >= 0)
        return `digit ${d} twice in ${kinds[Math.floor(u / n)]} ${(u % n) + 1} (${cellName(geo, at[d])} and ${cellName(geo, c)})`;
      at[d] = c;
    }
  }
  return null;
}

/** The first given of `puzzle` that disagrees with `solution`, as a message, or null. */
export function consistencyProblem(puzzle: Uint8Array, solution: Uint8Array, geo: Geometry): string | null {
  for (let c = 0; c < geo.cells; c++)
    if (puzzle[c] !== 0 && puzzle[c] !== solution[c])
      return `given ${puzzle[c]} at ${cellName(geo, c)} disagrees with answer ${solution[c]}`;
  return null;
}

/** Number of givens (non-blank cells). */
export function countClues(grid: Uint8Array): number {
  let k = 0;
  for (let i = 0; i < grid.length; i++) if (grid[i] !== 0) k++;
  return k;
}
