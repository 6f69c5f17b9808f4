/**
 * tokens.ts: the one Sudoku token codec (the official builder's: build_sudoku_dataset.py), used by
 * the dataset builder, solve, the demo and inspection. A grid value v (0 = blank, 1..n = digit)
 * is token v + 1: pad 0, blank 1, digits 2..n+1; the vocabulary is n + 2. Device-free.
 */

export const PAD_TOKEN = 0;
export const BLANK_TOKEN = 1;

/** Token of a grid value (0 blank, 1..n digit). */
export const tokenOf = (v: number): number => v + 1;

/** Grid value of a token: its digit, or 0 (blank) for pad, blank and tokens outside 1..n. */
export const digitOf = (t: number, n: number): number => (t >= 2 && t <= n + 1 ? t - 1 : 0);

/** Vocabulary size of n x n Sudoku. */
export const vocabSize = (n: number): number => n + 2;

/** Tokens of a grid (values 0..n). */
export function encodeGrid(grid: ArrayLike<number>): Int32Array {
  return Int32Array.from(grid, tokenOf);
}

/** A grid (values 0..n) from tokens. */
export function decodeGrid(tokens: ArrayLike<number>, n: number): Uint8Array {
  return Uint8Array.from(tokens, t => digitOf(t, n));
}

/** Puzzle text ('.' for blanks, digits) of tokens. */
export function tokensText(tokens: ArrayLike<number>, n: number): string {
  return Array.from(tokens, t => (digitOf(t, n) === 0 ? '.' : String(digitOf(t, n)))).join('');
}
