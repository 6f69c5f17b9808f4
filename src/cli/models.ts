/**
 * The shipped models (models/ in the package): `trm solve PUZZLE` without --checkpoint picks the one
 * for the puzzle's size, `trm eval --model NAME` scores one (on its shipped held-out set when no
 * --data is given). Each is `models/NAME.safetensors` (EMA weights, model config in the metadata),
 * `models/NAME.md` (its card: command, data, wall time, accuracy) and `models/NAME.test.csv` (held-out
 * puzzles, none of them in its training data).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TrmError, UsageError } from '../errors.js';
import type { DatasetSplit } from '../data/dataset.js';
import { readSudokuCsv } from '../data/sudoku/csv.js';
import { tokenOf, vocabSize } from '../data/sudoku/tokens.js';
import { packageRoot } from '../kernels/index.js';

/** The shipped model of each grid size. */
export const SHIPPED_MODELS: Readonly<Record<4 | 6 | 9, string>> = { 4: 'sudoku4', 6: 'sudoku6', 9: 'sudoku9' };

export const modelsDir = join(packageRoot, 'models');

export interface ShippedModel {
  name: string;
  weights: string; // models/NAME.safetensors
  card: string; // models/NAME.md
  testSet: string; // models/NAME.test.csv
}

/** A shipped model by name ('sudoku9'); a name that is not shipped is a usage error naming those that are. */
export function shippedModel(name: string): ShippedModel {
  const names = Object.values(SHIPPED_MODELS);
  if (!names.includes(name)) throw new UsageError(`--model: unknown model '${name}' (shipped: ${names.join(', ')})`);
  const m = {
    name,
    weights: join(modelsDir, `${name}.safetensors`),
    card: join(modelsDir, `${name}.md`),
    testSet: join(modelsDir, `${name}.test.csv`),
  };
  if (!existsSync(m.weights))
    throw new TrmError('TRM_NO_FILE', `${m.weights}: the shipped model ${name} is missing from this installation`);
  return m;
}

/** The shipped model for an n x n puzzle. */
export function modelForSize(n: 4 | 6 | 9): ShippedModel {
  return shippedModel(SHIPPED_MODELS[n]);
}

/** A Sudoku CSV as one test split (no augmentation), as `trm data build` encodes its test split. */
export async function csvSplit(file: string): Promise<DatasetSplit> {
  const qs: Uint8Array[] = [],
    as: Uint8Array[] = [];
  const rep = await readSudokuCsv(file, {}, row => {
    qs.push(row.question);
    as.push(row.answer);
  });
  if (!rep.size || qs.length === 0) throw new TrmError('TRM_BUILD', `${file}: no puzzles`);
  const S = rep.size * rep.size,
    N = qs.length;
  const inputs = new Uint8Array(N * S),
    labels = new Uint8Array(N * S);
  for (let e = 0; e < N; e++)
    for (let i = 0; i < S; i++) {
      inputs[e * S + i] = tokenOf(qs[e][i]);
      labels[e * S + i] = tokenOf(as[e][i]);
    }
  const seq = Int32Array.from({ length: N + 1 }, (_, i) => i);
  return {
    meta: {
      pad_id: 0,
      ignore_label_id: 0,
      blank_identifier_id: 0,
      vocab_size: vocabSize(rep.size),
      seq_len: S,
      num_puzzle_identifiers: 1,
      total_groups: N,
      mean_puzzle_examples: 1,
      total_puzzles: N,
      sets: ['all'],
    },
    inputs,
    labels,
    puzzleIdentifiers: new Int32Array(N),
    puzzleIndices: seq,
    groupIndices: seq.slice(),
  };
}
