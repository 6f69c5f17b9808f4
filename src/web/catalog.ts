/**
 * catalog.ts: what the web server offers, read from the roots it was given: checkpoints under
 * --runs (checkpoint directories, and bare .safetensors files such as a converted official
 * checkpoint), run directories (metrics.jsonl), dataset splits under --data (directories holding
 * dataset.json) and their puzzles as grid text. Ids are '/'-separated paths relative to the root;
 * every lookup goes through resolveInside. Not here: HTTP (server.ts).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { TrmError } from '../errors.js';
import { resolveConfig, type TrmConfig } from '../model/config.js';
import { loadModel, readSidecar } from '../train/index.js';
import { readDatasetSplit, type DatasetSplit } from '../data/dataset.js';
import { decodeGrid } from '../data/sudoku/tokens.js';
import { formatGrid, sizeForCells } from '../data/sudoku/grid.js';
import { idOf, resolveInside } from './paths.js';
import { findRunDirs, readRun, type RunData } from '../report/runs.js';
import { buildResults, defaultMetrics, type Results } from '../report/results.js';
import { type Figure, reportFigures } from '../report/plots.js';

const MAX_DEPTH = 5;
const MAX_ENTRIES = 2000;

export interface CheckpointEntry {
  /** id: path relative to the runs root (a checkpoint directory or a .safetensors file) */
  id: string;
  /** the run directory's id, when the checkpoint is inside one */
  run: string | null;
  step: number | null;
  kind: 'checkpoint' | 'file';
}

export interface RunEntry {
  id: string;
  hasMetrics: boolean;
}
/** a directory the Compare page can show: a sweep (results.json) or the runs root ('') */
export interface SweepEntry {
  id: string;
  results: boolean;
}
export interface SplitEntry {
  id: string;
  seq_len: number;
  vocab_size: number;
  size: number | null;
  sets: string[];
}

/** Directories below root (breadth first, depth-limited, no symbolic links followed). */
function walk(root: string, visit: (dir: string, names: string[]) => boolean): void {
  const queue: [string, number][] = [[root, 0]];
  let seen = 0;
  while (queue.length && seen < MAX_ENTRIES) {
    const [dir, depth] = queue.shift()!;
    let ents: import('node:fs').Dirent[];
    try {
      ents = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    seen++;
    const names = ents.map(e => e.name);
    if (!visit(dir, names) || depth >= MAX_DEPTH) continue;
    for (const e of ents)
      if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules')
        queue.push([join(dir, e.name), depth + 1]);
  }
}

export function listCheckpoints(runsRoot: string): {
  checkpoints: CheckpointEntry[];
  runs: RunEntry[];
  sweeps: SweepEntry[];
} {
  const checkpoints: CheckpointEntry[] = [],
    runs: RunEntry[] = [],
    sweeps: SweepEntry[] = [];
  walk(runsRoot, (dir, names) => {
    if (names.includes('results.json')) sweeps.push({ id: idOf(runsRoot, dir), results: true });
    if (names.includes('checkpoint.json')) {
      let step: number | null = null;
      try {
        step = readSidecar(dir).step;
      } catch {
        /* listed; loading names the problem */
      }
      const parent = dirname(dirname(dir));
      const run =
        basename(dirname(dir)) === 'checkpoints' && existsSync(join(parent, 'latest')) ? idOf(runsRoot, parent) : null;
      checkpoints.push({ id: idOf(runsRoot, dir), run, step, kind: 'checkpoint' });
      return false;
    }
    if (names.includes('metrics.jsonl')) runs.push({ id: idOf(runsRoot, dir), hasMetrics: true });
    for (const n of names)
      if (n.endsWith('.safetensors') && n !== 'train_state.safetensors' && statSync(join(dir, n)).isFile())
        checkpoints.push({ id: idOf(runsRoot, join(dir, n)), run: null, step: null, kind: 'file' });
    return true;
  });
  // by run (or file), the newest checkpoint of a run first, so a page's default is a run's latest
  const key = (c: CheckpointEntry) => c.run ?? c.id;
  checkpoints.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : (b.step ?? 0) - (a.step ?? 0)));
  runs.sort((a, b) => (a.id < b.id ? -1 : 1));
  if (runs.length && !sweeps.some(w => w.id === '')) sweeps.push({ id: '', results: false });
  sweeps.sort((a, b) => (a.id < b.id ? -1 : 1));
  return { checkpoints, runs, sweeps };
}

/** The model file and the resolved config of checkpoint `id`. */
export function checkpointModel(
  runsRoot: string,
  id: string,
): { file: string; config: TrmConfig; step: number | null } {
  const p = resolveInside(runsRoot, id, 'checkpoint');
  if (!existsSync(p)) throw new TrmError('TRM_NOT_FOUND', `checkpoint '${id}': not found`);
  if (statSync(p).isDirectory()) {
    if (!existsSync(join(p, 'checkpoint.json')))
      throw new TrmError('TRM_NOT_FOUND', `checkpoint '${id}': no checkpoint.json`);
    const side = readSidecar(p);
    return { file: join(p, 'model.safetensors'), config: resolveConfig({ ...side.model_config }), step: side.step };
  }
  if (!p.endsWith('.safetensors')) throw new TrmError('TRM_FORBIDDEN', `checkpoint '${id}': not a .safetensors file`);
  return { file: p, config: loadModel(p).config, step: null };
}

export function listSplits(dataRoot: string): SplitEntry[] {
  const out: SplitEntry[] = [];
  walk(dataRoot, (dir, names) => {
    if (!names.includes('dataset.json')) return true;
    try {
      const m = JSON.parse(readFileSync(join(dir, 'dataset.json'), 'utf8')) as {
        seq_len: number;
        vocab_size: number;
        sets: string[];
      };
      out.push({
        id: idOf(dataRoot, dir),
        seq_len: m.seq_len,
        vocab_size: m.vocab_size,
        size: sizeForCells(m.seq_len) ?? null,
        sets: m.sets,
      });
    } catch {
      /* not a readable split: skipped */
    }
    return false;
  });
  return out.sort((a, b) => (a.id < b.id ? -1 : 1));
}

const splitCache = new Map<string, DatasetSplit>();

/** Puzzles [offset, offset + limit) of split `id` as grid text ('.' blanks) with their solutions. */
export async function readPuzzles(
  dataRoot: string,
  id: string,
  offset: number,
  limit: number,
): Promise<{
  id: string;
  total: number;
  offset: number;
  puzzles: { index: number; puzzle: string; solution: string }[];
}> {
  const dir = resolveInside(dataRoot, id, 'split');
  if (!existsSync(join(dir, 'dataset.json'))) throw new TrmError('TRM_NOT_FOUND', `split '${id}': no dataset.json`);
  let split = splitCache.get(dir);
  if (!split) {
    split = await readDatasetSplit(dir);
    if (splitCache.size > 4) splitCache.clear();
    splitCache.set(dir, split);
  }
  const L = split.meta.seq_len,
    n = sizeForCells(L);
  if (!n) throw new TrmError('TRM_DATASET', `split '${id}': seq_len ${L} is not a Sudoku size`);
  const total = split.inputs.length / L,
    puzzles = [];
  for (let i = offset; i < Math.min(total, offset + limit); i++) {
    // inputs/labels hold tokens (pad 0, blank 1, digit v as v + 1); decodeGrid maps them to 0..n
    puzzles.push({
      index: i,
      puzzle: formatGrid(decodeGrid(split.inputs.subarray(i * L, (i + 1) * L), n)),
      solution: formatGrid(decodeGrid(split.labels.subarray(i * L, (i + 1) * L), n)),
    });
  }
  return { id, total, offset, puzzles };
}

/** The Compare page's data for directory `id` under the runs root ('' = the root): the sweep's
 *  results table (results.json, else built from the runs as `trm sweep` would) and the Vega-Lite
 *  specs of `trm report`'s figures (learning curves, N_sup x k per variant, AAS). */
export function compareData(
  runsRoot: string,
  id: string,
): {
  id: string;
  results: Results;
  figures: Figure[];
  runs: { name: string; variant: string; seed: number | null; step: number | null }[];
} {
  const dir = resolveInside(runsRoot, id, 'sweep');
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new TrmError('TRM_NOT_FOUND', `sweep '${id}': no such directory`);
  let runs: RunData[];
  try {
    runs = findRunDirs([dir], 3).map(f => readRun(f.dir, f.name));
  } catch (e) {
    throw new TrmError('TRM_NOT_FOUND', `sweep '${id}': ${(e as Error).message.replace(dir, id || '.')}`);
  }
  const file = join(dir, 'results.json');
  const results = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Results)
    : buildResults(runs, defaultMetrics(runs));
  return {
    id,
    results,
    figures: reportFigures(runs),
    runs: runs.map(r => ({ name: r.name, variant: r.variant, seed: r.seed, step: r.step })),
  };
}
