/**
 * embedding.ts: the input embedding x (trm.py:162-182): sqrt(D) * [puzzle prefix | token embeddings].
 * The puzzle row (puzzle_emb_ndim wide) is right-padded with zeros to P*D and laid over the first P
 * positions; tokens fill positions P..S-1. Both are gathered into contiguous scratch by the
 * embedding kernel and placed with one strided copy each; the zero padding is never written (x
 * is allocated zero). Backward copies dx's two parts out and scatters into embed_tokens and the
 * puzzle rows, rows in batch order. Puzzle ids are checked on the host batch (checkPuzzleIds).
 */
import { ShapeError } from '../errors.js';
import { copy2d, embeddingBackward, embeddingForward, type F32T, type I32T, view } from '../kernels/core.js';

export interface EmbedSizes {
  B: number;
  L: number;
  P: number;
  S: number;
  D: number;
  V: number;
  ndim: number;
  numIds: number;
}

/** Scratch of the embedding (reused by its backward). */
export interface EmbedScratch {
  tok: F32T; // (B, L, D) token embeddings / their gradient
  puz: F32T; // (B, ndim) puzzle rows / their gradient
}

/** Host check of a batch's puzzle ids against the table, naming the row. */
export function checkPuzzleIds(puzzleIds: Int32Array, B: number, numIds: number): void {
  if (puzzleIds.length < B)
    throw new ShapeError(`input embedding: puzzleIds has ${puzzleIds.length} ids, batch is ${B}`);
  for (let b = 0; b < B; b++) {
    const id = puzzleIds[b];
    if (!(id >= 0 && id < numIds))
      throw new ShapeError(`input embedding: puzzle id ${id} at batch row ${b} is outside [0, ${numIds})`);
  }
}

/** x (B, S, D) from inputs (B, L) token ids and puzzleIds (B). */
export function inputEmbeddingForward(
  x: F32T,
  inputs: I32T,
  puzzleIds: I32T,
  embedTokens: F32T,
  puzzleEmb: F32T | null,
  z: EmbedSizes,
  s: EmbedScratch,
): void {
  const { B, L, P, S, D, V, ndim, numIds } = z,
    scale = Math.fround(Math.sqrt(D));
  embeddingForward(s.tok, inputs, embedTokens, B * L, D, V, scale);
  copy2d(view(x, P * D, (B - 1) * S * D + L * D), s.tok, B, L * D, S * D, L * D);
  if (P > 0 && ndim > 0) {
    embeddingForward(s.puz, puzzleIds, puzzleEmb!, B, ndim, numIds, scale);
    copy2d(x, s.puz, B, ndim, S * D, ndim);
  }
}

/** dEmbedTokens (V, D) +=, dPuzzleEmb (numIds, ndim) += (rows summed per id), from dx (B, S, D). */
export function inputEmbeddingBackward(
  dEmbedTokens: F32T,
  dPuzzleEmb: F32T | null,
  dx: F32T,
  inputs: I32T,
  puzzleIds: I32T,
  z: EmbedSizes,
  s: EmbedScratch,
): void {
  const { B, L, P, S, D, V, ndim, numIds } = z,
    scale = Math.fround(Math.sqrt(D));
  copy2d(s.tok, view(dx, P * D, (B - 1) * S * D + L * D), B, L * D, L * D, S * D);
  embeddingBackward(dEmbedTokens, s.tok, inputs, B * L, D, V, scale);
  if (P > 0 && ndim > 0 && dPuzzleEmb) {
    copy2d(s.puz, dx, B, ndim, ndim, S * D);
    embeddingBackward(dPuzzleEmb, s.puz, puzzleIds, B, ndim, numIds, scale);
  }
}
