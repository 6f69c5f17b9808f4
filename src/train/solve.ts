/**
 * solve.ts: one Sudoku through a trained model, step by step (reference/trm-algorithm.md 1.1, 6.3):
 * a fresh carry, then N_sup supervision steps; after each, the answer (argmax), q_halt /
 * q_continue and the cells that changed. With k > 1, test-time breadth: k chains of the puzzle
 * from independent random inits in one batch, and the chain with the highest final q_halt is the
 * answer (the `confidence` selector of `trm eval`, PTRM's best-Q: docs/EXPERIMENTS.md "Hard Sudoku
 * on a CPU" found it within a few points of "any chain right"). Tokens: the one codec,
 * data/sudoku/tokens.ts. Not here: printing (the CLI).
 */
import { TrmError } from '../errors.js';
import { allocActs } from '../model/acts.js';
import type { TrmConfig } from '../model/config.js';
import type { Weights } from '../model/params.js';
import { read, upload } from '../kernels/core.js';
import { chainRng, MAX_CHAINS, runChain } from '../model/chain.js';
import { type Batch, IGNORE_LABEL } from '../model/step.js';
import { decodeGrid, encodeGrid, vocabSize } from '../data/sudoku/tokens.js';
import {
  consistencyProblem,
  geometry,
  parseGrid,
  sizeForCells,
  solutionProblem,
  type Geometry,
} from '../data/sudoku/grid.js';

export interface SolveStep {
  step: number;
  /** the answer grid, 0 where the model predicts a non-digit token */
  grid: Uint8Array;
  q_halt: number;
  q_continue: number;
  /** cells whose answer differs from the previous step's */
  changed: number[];
}

export interface SolveResult {
  geo: Geometry;
  puzzle: Uint8Array;
  steps: SolveStep[];
  /** null when the final answer is a valid solution that keeps every given; else what is wrong */
  problem: string | null;
  /** the first step with q_halt > 0 (where training-time halting would stop), or null */
  haltStep: number | null;
  /** breadth: chains run, the chosen one (0-based), how many end in a valid solution, each one's final q_halt */
  chains: { k: number; chosen: number; valid: number; finalQ: number[] };
}

/** Chains per batch of `solvePuzzle` (a larger k runs in several batches). */
export const SOLVE_BATCH = 64;

export interface SolveOptions {
  /** supervision steps (default: the model's halt_max_steps) */
  nsup?: number;
  /** chains from independent random inits (default 1: one chain from the model's own init) */
  k?: number;
  /** seed of the chains' inits (k > 1) */
  seed?: number;
}

/** Parse puzzle text (16, 36 or 81 characters, '.' or '0' for blanks) for a model with seq_len cells. */
export function parsePuzzle(text: string, c: TrmConfig): { geo: Geometry; puzzle: Uint8Array } {
  const t = text.trim();
  const n = sizeForCells(t.length);
  if (!n)
    throw new TrmError('TRM_BAD_GRID', `a puzzle has 16, 36 or 81 cells (4x4, 6x6, 9x9), got ${t.length} characters`);
  if (t.length !== c.seq_len)
    throw new TrmError(
      'TRM_BAD_GRID',
      `the puzzle has ${t.length} cells but the model was trained on ${c.seq_len}-cell puzzles`,
    );
  if (c.vocab_size !== vocabSize(n))
    throw new TrmError(
      'TRM_BAD_GRID',
      `the model's vocabulary (${c.vocab_size} tokens) does not fit ${n}x${n} Sudoku (${vocabSize(n)})`,
    );
  const geo = geometry(n);
  return { geo, puzzle: parseGrid(t, geo) };
}

export async function solvePuzzle(
  c: TrmConfig,
  w: Weights,
  geo: Geometry,
  puzzle: Uint8Array,
  o: SolveOptions = {},
): Promise<SolveResult> {
  const nsup = o.nsup ?? c.halt_max_steps,
    k = o.k ?? 1,
    L = c.seq_len;
  if (!Number.isInteger(k) || k < 1 || k > MAX_CHAINS)
    throw new TrmError('TRM_BAD_CONFIG', `solve: k must be an integer in [1, ${MAX_CHAINS}], got ${k}`);
  // per chain: every step's grid and q logits; chains run in batches of at most SOLVE_BATCH rows so
  // a large k needs no more activation memory than 64 chains (a batch's inits: chainRng(seed, batch, 0))
  const grids: Uint8Array[][] = [],
    qs: [number, number][][] = [],
    one = encodeGrid(puzzle);
  // every batch but the last has SOLVE_BATCH rows: activations and the (identical) rows are made once per size
  const bySize = new Map<number, { a: ReturnType<typeof allocActs>; batch: Batch }>();
  const buffers = (m: number) => {
    let b = bySize.get(m);
    if (!b) {
      const inputs = new Int32Array(m * L);
      for (let r = 0; r < m; r++) inputs.set(one, r * L);
      b = {
        a: allocActs(c, m),
        batch: {
          inputs: upload(inputs),
          labels: upload(new Int32Array(m * L).fill(IGNORE_LABEL)),
          puzzleIds: upload(new Int32Array(m)),
        },
      };
      bySize.set(m, b);
    }
    return b;
  };
  for (let c0 = 0, bi = 0; c0 < k; c0 += SOLVE_BATCH, bi++) {
    const m = Math.min(SOLVE_BATCH, k - c0),
      { a, batch } = buffers(m);
    for (let j = 0; j < m; j++) grids.push([]), qs.push([]);
    await runChain(c, w, a, batch, {
      nsup,
      // one chain: the model's own init, as before; k chains: a random vector per chain (slot)
      init:
        k === 1
          ? { mode: 'static', scale: 1, training: false }
          : { mode: 'random-per-sample', scale: 1, training: false },
      rng: k === 1 ? null : chainRng(o.seed ?? 0, bi, 0),
      onStep: async (_s, r) => {
        const [preds, q] = await Promise.all([read(r.preds), read(r.q)]);
        for (let j = 0; j < m; j++) {
          grids[c0 + j].push(decodeGrid(preds.subarray(j * L, (j + 1) * L), geo.n));
          qs[c0 + j].push([q[2 * j], q[2 * j + 1]]);
        }
      },
    });
  }
  // each chain's final q_halt and verdict; the answer is the first chain with the highest q_halt
  const finalQ = qs.map(q => q[nsup - 1][0]),
    problems = grids.map(g => solutionProblem(g[nsup - 1], geo) ?? consistencyProblem(puzzle, g[nsup - 1], geo)),
    chosen = finalQ.reduce((best, q, j) => (q > finalQ[best] ? j : best), 0),
    valid = problems.filter(p => p === null).length;
  const steps: SolveStep[] = [];
  let prev: Uint8Array = new Uint8Array(L),
    haltStep: number | null = null;
  grids[chosen].forEach((grid, i) => {
    const changed: number[] = [];
    for (let x = 0; x < L; x++) if (grid[x] !== prev[x]) changed.push(x);
    const [qh, qc] = qs[chosen][i];
    steps.push({ step: i + 1, grid, q_halt: qh, q_continue: qc, changed });
    if (haltStep === null && qh > 0) haltStep = i + 1;
    prev = grid;
  });
  return {
    geo,
    puzzle,
    steps,
    problem: problems[chosen],
    haltStep,
    chains: { k, chosen, valid, finalQ },
  };
}
