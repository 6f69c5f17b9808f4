/**
 * dataset.ts: the official puzzle-dataset directory of the HRM/TRM builders, read and written.
 *
 *   <out>/identifiers.json                      ["<blank>"]
 *   <out>/<split>/dataset.json                  metadata, fields in the official order
 *   <out>/<split>/all__inputs.npy               (N, seq_len) uint8 tokens
 *   <out>/<split>/all__labels.npy               (N, seq_len) uint8 tokens
 *   <out>/<split>/all__puzzle_identifiers.npy   (P) int32
 *   <out>/<split>/all__puzzle_indices.npy       (P+1) int32, example offsets from 0 to N
 *   <out>/<split>/all__group_indices.npy        (G+1) int32, puzzle offsets from 0 to P
 *
 * The reader loads each array as one typed array (no per-row objects) and checks that they fit
 * together; it takes data from HRM (no total_puzzles) and TRM builders alike. Reference:
 * TinyRecursiveModels dataset/build_sudoku_dataset.py, puzzle_dataset.py; datasets.md section 4.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TrmError } from '../errors.js';
import { datasetMetadataSchema, parseJson } from '../io/schema.js';
import { requireFile } from './files.js';
import { readNpy, writeNpy, type NpyArray } from './npy.js';

export interface DatasetMetadata {
  pad_id: number;
  ignore_label_id: number | null;
  blank_identifier_id: number;
  vocab_size: number;
  seq_len: number;
  num_puzzle_identifiers: number;
  total_groups: number;
  mean_puzzle_examples: number;
  total_puzzles?: number; // TRM only (and = groups for Sudoku); HRM data lacks it
  sets: string[];
}

export interface DatasetSplit {
  /** milestone indices (N * seq_len), when a trainer loaded them (data/sudoku/milestones.ts); never read here */
  milestones?: Uint8Array;
  meta: DatasetMetadata;
  inputs: Uint8Array; // (examples, seq_len)
  labels: Uint8Array; // (examples, seq_len)
  puzzleIdentifiers: Int32Array; // (puzzles)
  puzzleIndices: Int32Array; // (puzzles + 1)
  groupIndices: Int32Array; // (groups + 1)
}

/** dataset.json exactly as Python's json.dump writes the official metadata (float field as 1.0). */
export function datasetJson(meta: DatasetMetadata): string {
  const order: (keyof DatasetMetadata)[] = [
    'pad_id',
    'ignore_label_id',
    'blank_identifier_id',
    'vocab_size',
    'seq_len',
    'num_puzzle_identifiers',
    'total_groups',
    'mean_puzzle_examples',
    'total_puzzles',
    'sets',
  ];
  const parts: string[] = [];
  for (const k of order) {
    const v = meta[k];
    if (v === undefined) continue;
    const text =
      k === 'mean_puzzle_examples' && Number.isInteger(v)
        ? (v as number).toFixed(1)
        : Array.isArray(v)
          ? `[${v.map(s => JSON.stringify(s)).join(', ')}]`
          : JSON.stringify(v);
    parts.push(`"${k}": ${text}`);
  }
  return `{${parts.join(', ')}}`;
}

/** Write one split directory (dataset.json and the five arrays of set 'all'). */
export async function writeDatasetSplit(dir: string, split: DatasetSplit): Promise<void> {
  const { meta } = split;
  await mkdir(dir, { recursive: true });
  const n = split.inputs.length / meta.seq_len;
  await writeFile(join(dir, 'dataset.json'), datasetJson(meta));
  const set = meta.sets[0];
  await writeNpy(join(dir, `${set}__inputs.npy`), { dtype: '|u1', shape: [n, meta.seq_len], data: split.inputs });
  await writeNpy(join(dir, `${set}__labels.npy`), { dtype: '|u1', shape: [n, meta.seq_len], data: split.labels });
  await writeNpy(join(dir, `${set}__puzzle_identifiers.npy`), {
    dtype: '<i4',
    shape: [split.puzzleIdentifiers.length],
    data: split.puzzleIdentifiers,
  });
  await writeNpy(join(dir, `${set}__puzzle_indices.npy`), {
    dtype: '<i4',
    shape: [split.puzzleIndices.length],
    data: split.puzzleIndices,
  });
  await writeNpy(join(dir, `${set}__group_indices.npy`), {
    dtype: '<i4',
    shape: [split.groupIndices.length],
    data: split.groupIndices,
  });
}

export async function writeIdentifiers(outDir: string, names: string[] = ['<blank>']): Promise<void> {
  await writeFile(join(outDir, 'identifiers.json'), `[${names.map(s => JSON.stringify(s)).join(', ')}]`);
}

function asUint8(arr: NpyArray, file: string): Uint8Array {
  if (arr.data instanceof Uint8Array) return arr.data;
  if (arr.data instanceof Float32Array || arr.data instanceof Float64Array)
    throw new TrmError('TRM_DATASET', `${file}: expected integer tokens, got dtype ${arr.dtype}`);
  const out = new Uint8Array(arr.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = Number(arr.data[i]);
    if (v < 0 || v > 255)
      throw new TrmError('TRM_DATASET', `${file}: token ${v} at flat index ${i} does not fit in uint8`);
    out[i] = v;
  }
  return out;
}

function asInt32(arr: NpyArray, file: string): Int32Array {
  if (arr.shape.length !== 1)
    throw new TrmError('TRM_DATASET', `${file}: expected a 1-D array, got shape (${arr.shape.join(', ')})`);
  if (arr.data instanceof Int32Array) return arr.data;
  if (arr.data instanceof Float32Array || arr.data instanceof Float64Array)
    throw new TrmError('TRM_DATASET', `${file}: expected integers, got dtype ${arr.dtype}`);
  const out = new Int32Array(arr.data.length);
  for (let i = 0; i < out.length; i++) {
    const v = Number(arr.data[i]);
    if (v < -0x80000000 || v > 0x7fffffff)
      throw new TrmError('TRM_DATASET', `${file}: value ${v} at index ${i} does not fit in int32`);
    out[i] = v;
  }
  return out;
}

function checkOffsets(idx: Int32Array, end: number, file: string, what: string): void {
  if (idx.length < 1 || idx[0] !== 0) throw new TrmError('TRM_DATASET', `${file}: must start at 0`);
  for (let i = 1; i < idx.length; i++)
    if (idx[i] < idx[i - 1])
      throw new TrmError('TRM_DATASET', `${file}: decreases at index ${i} (${idx[i - 1]} -> ${idx[i]})`);
  if (idx[idx.length - 1] !== end)
    throw new TrmError('TRM_DATASET', `${file}: ends at ${idx[idx.length - 1]}, expected ${end} (${what})`);
}

/** Read one split directory (e.g. <out>/test), checking that the arrays and metadata agree. */
export async function readDatasetSplit(dir: string, set?: string): Promise<DatasetSplit> {
  const metaFile = join(dir, 'dataset.json');
  await requireFile(metaFile, "expected a dataset split directory such as <out>/test, made by 'trm data build'");
  const meta = parseJson(
    await readFile(metaFile, 'utf8'),
    datasetMetadataSchema,
    metaFile,
    'TRM_DATASET',
  ) as DatasetMetadata;
  const name = set ?? meta.sets[0];
  if (!meta.sets.includes(name))
    throw new TrmError('TRM_DATASET', `${metaFile}: no set '${name}' (sets: ${meta.sets.join(', ')})`);
  const file = (k: string) => join(dir, `${name}__${k}.npy`);

  const inputsArr = await readNpy(file('inputs')),
    labelsArr = await readNpy(file('labels'));
  for (const [arr, f] of [
    [inputsArr, file('inputs')],
    [labelsArr, file('labels')],
  ] as const)
    if (arr.shape.length !== 2 || arr.shape[1] !== meta.seq_len)
      throw new TrmError(
        'TRM_DATASET',
        `${f}: expected shape (N, ${meta.seq_len}) from seq_len, got (${arr.shape.join(', ')})`,
      );
  if (inputsArr.shape[0] !== labelsArr.shape[0])
    throw new TrmError(
      'TRM_DATASET',
      `${file('labels')}: ${labelsArr.shape[0]} rows, but inputs has ${inputsArr.shape[0]}`,
    );
  const examples = inputsArr.shape[0];
  const inputs = asUint8(inputsArr, file('inputs')),
    labels = asUint8(labelsArr, file('labels'));
  const puzzleIdentifiers = asInt32(await readNpy(file('puzzle_identifiers')), file('puzzle_identifiers'));
  const puzzleIndices = asInt32(await readNpy(file('puzzle_indices')), file('puzzle_indices'));
  const groupIndices = asInt32(await readNpy(file('group_indices')), file('group_indices'));
  const puzzles = puzzleIndices.length - 1;
  checkOffsets(puzzleIndices, examples, file('puzzle_indices'), 'the number of examples');
  checkOffsets(groupIndices, puzzles, file('group_indices'), 'the number of puzzles');
  if (puzzleIdentifiers.length !== puzzles)
    throw new TrmError(
      'TRM_DATASET',
      `${file('puzzle_identifiers')}: ${puzzleIdentifiers.length} entries, expected ${puzzles} (one per puzzle)`,
    );
  for (let i = 0; i < puzzleIdentifiers.length; i++)
    if (puzzleIdentifiers[i] < 0 || puzzleIdentifiers[i] >= meta.num_puzzle_identifiers)
      throw new TrmError(
        'TRM_DATASET',
        `${file('puzzle_identifiers')}: id ${puzzleIdentifiers[i]} at index ${i} is outside [0, ${meta.num_puzzle_identifiers}) (num_puzzle_identifiers in ${metaFile})`,
      );
  if (groupIndices.length - 1 !== meta.total_groups)
    throw new TrmError(
      'TRM_DATASET',
      `${metaFile}: total_groups ${meta.total_groups}, but group_indices holds ${groupIndices.length - 1} groups`,
    );
  for (const [arr, f] of [
    [inputs, file('inputs')],
    [labels, file('labels')],
  ] as const)
    for (let i = 0; i < arr.length; i++)
      if (arr[i] >= meta.vocab_size)
        throw new TrmError(
          'TRM_DATASET',
          `${f}: token ${arr[i]} at row ${Math.floor(i / meta.seq_len)} is >= vocab_size ${meta.vocab_size}`,
        );
  return { meta, inputs, labels, puzzleIdentifiers, puzzleIndices, groupIndices };
}
