/**
 * embedding.ts: the input embedding x (trm.py:162-182): sqrt(D) * [puzzle prefix | token embeddings].
 * The puzzle row (puzzle_emb_ndim wide) is right-padded with zeros to P*D and laid over the first P
 * positions; tokens fill positions P..S-1. Backward scatters into embed_tokens and the puzzle rows.
 */
import { ShapeError } from '../errors.js';
import { embeddingBackward, embeddingForward } from '../kernels/index.js';

export interface EmbedSizes { B: number; L: number; P: number; S: number; D: number; V: number; ndim: number; numIds: number }

function checkIds(puzzleIds: Int32Array, z: EmbedSizes): void {
  if (puzzleIds.length < z.B) throw new ShapeError(`input embedding: puzzleIds has ${puzzleIds.length} ids, batch is ${z.B}`);
  for (let b = 0; b < z.B; b++) {
    const id = puzzleIds[b];
    if (!(id >= 0 && id < z.numIds)) throw new ShapeError(`input embedding: puzzle id ${id} at batch row ${b} is outside [0, ${z.numIds})`);
  }
}

/** x (B, S, D) from inputs (B, L) token ids and puzzleIds (B). */
export function inputEmbeddingForward(x: Float32Array, inputs: Int32Array, puzzleIds: Int32Array, embedTokens: Float32Array,
  puzzleEmb: Float32Array | null, z: EmbedSizes): void {
  const { B, L, P, S, D, V, ndim } = z, scale = Math.fround(Math.sqrt(D));
  if (inputs.length !== B * L) throw new ShapeError(`input embedding: inputs has ${inputs.length} ids, expected B*L = ${B}*${L}`);
  if (P > 0) checkIds(puzzleIds, z);
  for (let b = 0; b < B; b++) {
    const xb = x.subarray(b * S * D, (b + 1) * S * D);
    if (P > 0) {
      const row = puzzleEmb!.subarray(puzzleIds[b] * ndim, (puzzleIds[b] + 1) * ndim);
      for (let i = 0; i < ndim; i++) xb[i] = scale * row[i];
      xb.fill(0, ndim, P * D);
    }
    embeddingForward(xb.subarray(P * D), inputs.subarray(b * L, (b + 1) * L), embedTokens, L, D, V, scale);
  }
}

/** dEmbedTokens (V, D) +=, dPuzzleEmb (numIds, ndim) += (rows summed per id), from dx (B, S, D). */
export function inputEmbeddingBackward(dEmbedTokens: Float32Array, dPuzzleEmb: Float32Array | null, dx: Float32Array,
  inputs: Int32Array, puzzleIds: Int32Array, z: EmbedSizes): void {
  const { B, L, P, S, D, V, ndim } = z, scale = Math.fround(Math.sqrt(D));
  for (let b = 0; b < B; b++) {
    const dxb = dx.subarray(b * S * D, (b + 1) * S * D);
    embeddingBackward(dEmbedTokens, dxb.subarray(P * D), inputs.subarray(b * L, (b + 1) * L), L, D, V, scale);
    if (P > 0 && dPuzzleEmb) {
      const row = dPuzzleEmb.subarray(puzzleIds[b] * ndim, (puzzleIds[b] + 1) * ndim);
      for (let i = 0; i < ndim; i++) row[i] += scale * dxb[i];
    }
  }
}
