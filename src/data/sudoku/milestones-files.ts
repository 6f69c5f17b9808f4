/**
 * milestones-files.ts: the milestone files of a dataset split (Node only; the construction is
 * milestones.ts): <split>/all__milestones.npy (N, L) |u1, the first milestone filling each cell, and
 * <split>/milestones.json, its kind, format and summary. docs/DATA.md section 5.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TrmError } from '../../errors.js';
import type { DatasetSplit } from '../dataset.js';
import { requireFile } from '../files.js';
import { readNpy, writeNpy } from '../npy.js';
import type { MilestoneKind, MilestoneSummary } from './milestones.js';

export const MILESTONES_NPY = 'all__milestones.npy';
export const MILESTONES_JSON = 'milestones.json';

/** Write a split's milestones beside its arrays (the official loader never opens these files). */
export async function writeSplitMilestones(
  dir: string,
  rounds: Uint8Array,
  summary: MilestoneSummary,
  L: number,
): Promise<void> {
  await writeNpy(join(dir, MILESTONES_NPY), { dtype: '|u1', shape: [rounds.length / L, L], data: rounds });
  await writeFile(join(dir, MILESTONES_JSON), `${JSON.stringify(summary, null, 2)}\n`);
}

/**
 * Read a split's milestone indices (N * L), checked against the split: the kind, the shape, and
 * that every row's index 0 is exactly its givens. A split built without `--milestones` is an error
 * saying how to build one.
 */
export async function readSplitMilestones(dir: string, split: DatasetSplit, kind: MilestoneKind): Promise<Uint8Array> {
  const json = join(dir, MILESTONES_JSON),
    npy = join(dir, MILESTONES_NPY);
  await requireFile(
    npy,
    `the dataset has no milestones; rebuild it with 'trm data build sudoku ... --milestones ${kind}' or train without --milestones`,
  );
  let summary: Partial<MilestoneSummary>;
  try {
    summary = JSON.parse(await readFile(json, 'utf8'));
  } catch (e) {
    throw new TrmError('TRM_DATASET', `${json}: cannot read the milestone summary (${(e as Error).message})`);
  }
  if (summary.kind !== kind)
    throw new TrmError(
      'TRM_DATASET',
      `${json}: milestones of kind ${JSON.stringify(summary.kind)}, expected '${kind}'`,
    );
  if (summary.format !== 'first-milestone-per-cell')
    throw new TrmError('TRM_DATASET', `${json}: unknown format ${JSON.stringify(summary.format)}`);
  const arr = await readNpy(npy);
  const L = split.meta.seq_len,
    N = split.inputs.length / L;
  if (arr.dtype !== '|u1' || arr.shape.length !== 2 || arr.shape[0] !== N || arr.shape[1] !== L)
    throw new TrmError(
      'TRM_DATASET',
      `${npy}: expected a |u1 array of shape (${N}, ${L}) (one index per cell of every example), got ${arr.dtype} (${arr.shape.join(', ')})`,
    );
  const rounds = arr.data as Uint8Array;
  for (let i = 0; i < rounds.length; i++)
    if ((rounds[i] === 0) !== split.inputs[i] > 1)
      throw new TrmError(
        'TRM_DATASET',
        `${npy}: row ${Math.floor(i / L)} cell ${i % L}: index ${rounds[i]} does not match the input (0 exactly for givens); the file belongs to another build`,
      );
  return rounds;
}
