/**
 * generate-file.ts: the parallel driver of the generator. Chains (generate.ts) are handed out in
 * index order to worker threads, one at a time per worker; results are assembled strictly by
 * chain index, duplicates dropped, until `count` puzzles are in. The output is therefore the same
 * for a seed whatever the thread count or timing. The CSV is written to a temp file and renamed.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { TrmError } from '../../errors.js';
import { checkWritable, writeFileAtomic } from '../files.js';
import { csvHeader, formatCsvRow } from './csv.js';
import { runChain, type ChainOptions, type ChainResult, type GeneratedPuzzle } from './generate.js';
import { formatGrid, geometry } from './grid.js';
import { Solver } from './solver.js';

export interface GenerateOptions extends ChainOptions {
  count: number;
  seed: number;
  /** Worker threads; 1 runs in this thread. Default: all cores. */
  threads?: number;
  /** Called after each chain with puzzles accepted so far. */
  onProgress?: (done: number, total: number) => void;
  /** The worker script (tests point this at a bundled copy); default: generate-worker.js beside this file. */
  workerUrl?: URL;
}

export interface GeneratedRow extends GeneratedPuzzle {
  chain: number;
}

export interface GenerateReport {
  puzzles: GeneratedRow[];
  chains: number; // chains assembled (consumed in index order)
  threads: number; // threads actually used
  seconds: number;
}

/** Chains run without emitting a single puzzle before the driver gives up. */
const MAX_BARREN_CHAINS = 64;

export const DEFAULT_CHAIN = { perChain: 1, maxSteps: 2000 } as const;

/** Generate `count` unique-solution puzzles rated within [minRating, maxRating]. */
export async function generateSudoku(opts: GenerateOptions): Promise<GenerateReport> {
  const t0 = performance.now();
  const chainOpts: ChainOptions = {
    size: opts.size,
    minRating: opts.minRating,
    maxRating: opts.maxRating,
    perChain: opts.perChain,
    maxSteps: opts.maxSteps,
  };
  const url = opts.workerUrl ?? new URL('./generate-worker.js', import.meta.url);
  let threads = Math.max(1, opts.threads ?? availableParallelism());
  // Running from TypeScript sources (no compiled worker beside us): stay in this thread.
  if (threads > 1 && !existsSync(fileURLToPath(url))) threads = 1;

  const puzzles: GeneratedRow[] = [];
  const seen = new Set<string>();
  const pending = new Map<number, ChainResult>();
  let nextToAssemble = 0;

  /** Fold finished chains into the output in index order; true when enough puzzles are in. */
  const assemble = (r: ChainResult): boolean => {
    pending.set(r.chain, r);
    while (puzzles.length < opts.count && pending.has(nextToAssemble)) {
      const c = pending.get(nextToAssemble)!;
      pending.delete(nextToAssemble++);
      for (const p of c.puzzles) {
        const key = formatGrid(p.question);
        if (puzzles.length < opts.count && !seen.has(key)) {
          seen.add(key);
          puzzles.push({ ...p, chain: c.chain });
        }
      }
      if (puzzles.length === 0 && nextToAssemble >= MAX_BARREN_CHAINS) {
        const band = Number.isFinite(opts.maxRating)
          ? `[${opts.minRating}, ${opts.maxRating}]`
          : `>= ${opts.minRating}`;
        throw new TrmError(
          'TRM_GENERATE',
          `no ${opts.size}x${opts.size} puzzle rated ${band} found in ${MAX_BARREN_CHAINS} chains of ${opts.maxSteps} steps; lower --min-rating (4x4 and 6x6 rarely need guesses)`,
        );
      }
    }
    opts.onProgress?.(puzzles.length, opts.count);
    return puzzles.length >= opts.count;
  };

  if (opts.count > 0) {
    if (threads === 1) {
      const solver = new Solver(geometry(opts.size));
      for (let chain = 0; !assemble(runChain(opts.seed, chain, chainOpts, solver)); chain++)
        await new Promise(resolve => setImmediate(resolve)); // let progress output and signals through
    } else {
      await runWorkers(url, threads, opts.seed, chainOpts, assemble);
    }
  }
  return { puzzles, chains: nextToAssemble, threads, seconds: (performance.now() - t0) / 1000 };
}

function runWorkers(
  url: URL,
  threads: number,
  seed: number,
  opts: ChainOptions,
  assemble: (r: ChainResult) => boolean,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const workers: Worker[] = [];
    let nextChain = 0,
      finished = false;
    const finish = (err?: unknown) => {
      if (finished) return;
      finished = true;
      for (const w of workers) void w.terminate();
      if (err) reject(err);
      else resolve();
    };
    for (let i = 0; i < threads; i++) {
      const w = new Worker(url, { workerData: { seed, opts } });
      workers.push(w);
      w.on('message', (r: ChainResult) => {
        if (finished) return;
        try {
          if (assemble(r)) finish();
          else w.postMessage(nextChain++);
        } catch (e) {
          finish(e);
        }
      });
      w.on('error', e => finish(e));
      w.postMessage(nextChain++);
    }
  });
}

/** Generate and write the Sudoku-Extreme CSV schema to `out` (temp file + rename). */
export async function generateSudokuFile(opts: GenerateOptions & { out: string }): Promise<GenerateReport> {
  await checkWritable(opts.out);
  const report = await generateSudoku(opts);
  const lines = [csvHeader()];
  for (const p of report.puzzles)
    lines.push(formatCsvRow(`synthetic-${opts.seed}-${p.chain}`, p.question, p.answer, p.rating));
  await writeFileAtomic(opts.out, lines.join('\n') + '\n');
  return report;
}
