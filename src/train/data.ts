/**
 * data.ts: batches from a dataset split (reference/trm-algorithm.md 10; official puzzle_dataset.py).
 * Training: one epoch = the groups in a shuffled order, one random puzzle (augmentation) per
 * group, that puzzle's examples; epochs follow each other as one stream, cut into batches of B.
 * The order of epoch e comes from Rng(seed, STREAM.data, e) alone, so the cursor {epoch, pos} is the whole
 * sampler state (a checkpoint stores it; nothing else). Unlike the official iterator, the last
 * partial batch of an epoch is not dropped: the stream runs on into the next epoch.
 * Test: sequential chunks; the last is padded with pad tokens and ignored labels.
 * Labels equal to ignore_label_id become IGNORE_LABEL (-100).
 */
import type { DatasetSplit } from '../data/dataset.js';
import { TrmError } from '../errors.js';
import { Rng, STREAM } from '../data/rng.js';
import { type HostBatch as Batch, IGNORE_LABEL } from '../model/step.js';

/** Position in the training stream: example `pos` of epoch `epoch`'s order. */
export interface DataCursor {
  epoch: number;
  pos: number;
}

export function newBatch(B: number, L: number): Batch {
  return { inputs: new Int32Array(B * L), labels: new Int32Array(B * L), puzzleIds: new Int32Array(B) };
}

/** Copy example `ex` of the split into slot `b` of `out`. */
export function copyExample(split: DatasetSplit, ex: number, out: Batch, b: number): void {
  const L = split.meta.seq_len,
    ignore = split.meta.ignore_label_id;
  for (let t = 0; t < L; t++) {
    out.inputs[b * L + t] = split.inputs[ex * L + t];
    const y = split.labels[ex * L + t];
    out.labels[b * L + t] = ignore !== null && y === ignore ? IGNORE_LABEL : y;
  }
  out.puzzleIds[b] = split.puzzleIdentifiers[puzzleOf(split, ex)];
}

/** The puzzle holding example ex (binary search in puzzle_indices). */
function puzzleOf(split: DatasetSplit, ex: number): number {
  const idx = split.puzzleIndices;
  let lo = 0,
    hi = idx.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (idx[mid] <= ex) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Consecutive empty epochs after which the sampler gives up (a split whose puzzles hold no examples). */
const MAX_EMPTY_EPOCHS = 64;

export class TrainSampler {
  private epochCached = -1;
  private order = new Int32Array(0);

  /** `name` names the split in errors (its directory). Refuses a split without examples: its stream would never yield one. */
  constructor(
    readonly split: DatasetSplit,
    readonly seed: number,
    readonly name = 'the training split',
  ) {
    if (splitSize(split) === 0 || split.groupIndices.length < 2)
      throw new TrmError(
        'TRM_DATASET',
        `${name}: the training split holds no examples; rebuild it with 'trm data build'`,
      );
  }

  /** Examples of epoch e, in training order: shuffled groups, one random puzzle each. */
  epochOrder(epoch: number): Int32Array {
    if (epoch === this.epochCached) return this.order;
    const { groupIndices: gi, puzzleIndices: pi } = this.split;
    const rng = new Rng(this.seed, STREAM.data, epoch);
    const groups = rng.permutation(gi.length - 1);
    const out: number[] = [];
    for (const g of groups) {
      const p = gi[g] + rng.int(gi[g + 1] - gi[g]);
      for (let ex = pi[p]; ex < pi[p + 1]; ex++) out.push(ex);
    }
    this.order = Int32Array.from(out);
    this.epochCached = epoch;
    return this.order;
  }

  /** Fill `out` with the next B examples, advancing `cursor` in place; `examples` (B) receives
   *  their indices in the split. */
  next(cursor: DataCursor, out: Batch, examples?: Int32Array): void {
    const B = out.puzzleIds.length;
    for (let b = 0; b < B; b++) {
      let order = this.epochOrder(cursor.epoch),
        empty = 0;
      while (cursor.pos >= order.length) {
        // an epoch can be empty only when the drawn puzzles hold no examples; a split where that keeps happening is refused, never spun on
        if (order.length === 0 && ++empty > MAX_EMPTY_EPOCHS)
          throw new TrmError(
            'TRM_DATASET',
            `${this.name}: ${MAX_EMPTY_EPOCHS} epochs in a row drew no examples (its puzzles hold none: check puzzle_indices); rebuild it with 'trm data build'`,
          );
        cursor.epoch++;
        cursor.pos = 0;
        order = this.epochOrder(cursor.epoch);
      }
      if (examples) examples[b] = order[cursor.pos];
      copyExample(this.split, order[cursor.pos++], out, b);
    }
  }

  /** Examples per epoch (groups x examples of one puzzle; exact for Sudoku). */
  get examplesPerEpoch(): number {
    return Math.round((this.split.groupIndices.length - 1) * this.split.meta.mean_puzzle_examples);
  }
}

/** Number of examples in a split. */
export function splitSize(split: DatasetSplit): number {
  return split.inputs.length / split.meta.seq_len;
}

/** Test chunk starting at example `start`: fills `out`, pads past the end; returns the real count. */
export function testBatch(split: DatasetSplit, start: number, end: number, out: Batch): number {
  const B = out.puzzleIds.length,
    L = split.meta.seq_len,
    n = Math.max(0, Math.min(B, end - start));
  for (let b = 0; b < n; b++) copyExample(split, start + b, out, b);
  out.inputs.fill(split.meta.pad_id, n * L);
  out.labels.fill(IGNORE_LABEL, n * L);
  out.puzzleIds.fill(split.meta.blank_identifier_id, n);
  return n;
}
