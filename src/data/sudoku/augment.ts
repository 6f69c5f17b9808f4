/**
 * augment.ts: validity-preserving Sudoku shuffles, as in the official builder's shuffle_sudoku
 * (HRM/TRM dataset/build_sudoku_dataset.py), but drawn from a seeded Rng and for any size:
 *
 *   digit map  map = [0] + permutation(1..n)            (blanks stay 0)
 *   transpose  with p = 0.5 (square boxes only: a 6x6 box is 2x3, its transpose 3x2)
 *   rows       bands in random order, rows within each band shuffled
 *   columns    stacks in random order, columns within each stack shuffled
 *   apply      g' = transpose ? g^T : g;  out[r][c] = map[g'[rowPerm[r]][colPerm[c]]]
 *
 * Draws happen in the official order (digits, transpose, bands, rows per band, stacks, columns per
 * stack). The same transform is applied to a puzzle and its solution; inverseTransform undoes it.
 */
import type { Rng } from '../rng.js';
import type { Geometry } from './grid.js';

export interface Transform {
  digitMap: Uint8Array; // (n+1) digitMap[0] = 0
  transpose: boolean;
  rowPerm: Int32Array; // (n) output row r reads row rowPerm[r] (after the transpose)
  colPerm: Int32Array; // (n) output column c reads column colPerm[c]
}

/** Blocks of `size` in random order, each block's members shuffled: a band/stack-preserving permutation. */
function blockPermutation(blocks: number, size: number, rng: Rng): Int32Array {
  const order = rng.permutation(blocks),
    p = new Int32Array(blocks * size);
  for (let b = 0; b < blocks; b++) {
    const inner = rng.permutation(size);
    for (let i = 0; i < size; i++) p[b * size + i] = order[b] * size + inner[i];
  }
  return p;
}

export function randomTransform(geo: Geometry, rng: Rng): Transform {
  const { n, boxRows, boxCols } = geo;
  const perm = rng.permutation(n),
    digitMap = new Uint8Array(n + 1);
  for (let d = 0; d < n; d++) digitMap[d + 1] = perm[d] + 1;
  const transpose = boxRows === boxCols && rng.float() < 0.5;
  const rowPerm = blockPermutation(n / boxRows, boxRows, rng);
  const colPerm = blockPermutation(n / boxCols, boxCols, rng);
  return { digitMap, transpose, rowPerm, colPerm };
}

/** out = t(grid); `out` may be given to avoid an allocation (it must not alias `grid`). */
export function applyTransform(
  t: Transform,
  grid: Uint8Array,
  geo: Geometry,
  out = new Uint8Array(geo.cells),
): Uint8Array {
  const { n } = geo,
    { digitMap, rowPerm, colPerm } = t;
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      const sr = rowPerm[r],
        sc = colPerm[c];
      out[r * n + c] = digitMap[grid[t.transpose ? sc * n + sr : sr * n + sc]];
    }
  }
  return out;
}

function inverse(p: ArrayLike<number>, out: Int32Array | Uint8Array): void {
  for (let i = 0; i < p.length; i++) out[p[i]] = i;
}

/**
 * The transform u with u(t(g)) = g. From out[r][c] = map[g'[rowPerm[r]][colPerm[c]]]:
 * g'[i][j] = map^-1[out[rowInv[i]][colInv[j]]]; when transposed, g[i][j] = g'[j][i], which is
 * "transpose, then rows colInv and columns rowInv".
 */
export function inverseTransform(t: Transform): Transform {
  const n = t.rowPerm.length;
  const digitMap = new Uint8Array(n + 1),
    rowInv = new Int32Array(n),
    colInv = new Int32Array(n);
  inverse(t.digitMap, digitMap);
  inverse(t.rowPerm, rowInv);
  inverse(t.colPerm, colInv);
  return t.transpose
    ? { digitMap, transpose: true, rowPerm: colInv, colPerm: rowInv }
    : { digitMap, transpose: false, rowPerm: rowInv, colPerm: colInv };
}
