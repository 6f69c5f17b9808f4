/**
 * solve.ts: one Sudoku through a trained model, step by step (reference/trm-algorithm.md 1.1, 6.3):
 * a fresh carry, then N_sup supervision steps; after each, the answer (argmax), q_halt /
 * q_continue and the cells that changed. Tokens: the one codec, data/sudoku/tokens.ts. Not here:
 * printing (the CLI).
 */
import { TrmError } from '../errors.js';
import { allocActs } from '../model/acts.js';
import type { TrmConfig } from '../model/config.js';
import type { Weights } from '../model/params.js';
import { read, upload } from '../kernels/core.js';
import { runChain } from '../model/chain.js';
import { IGNORE_LABEL } from '../model/step.js';
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
  nsup = c.halt_max_steps,
): Promise<SolveResult> {
  const a = allocActs(c, 1),
    L = c.seq_len;
  const batch = {
    inputs: upload(encodeGrid(puzzle)),
    labels: upload(new Int32Array(L).fill(IGNORE_LABEL)),
    puzzleIds: upload(new Int32Array(1)),
  };
  const steps: SolveStep[] = [];
  let prev: Uint8Array = new Uint8Array(L),
    haltStep: number | null = null;
  await runChain(c, w, a, batch, {
    nsup,
    init: { mode: 'static', scale: 1, training: false },
    rng: null,
    onStep: async (s, r) => {
      const [preds, q] = await Promise.all([read(r.preds), read(r.q)]);
      const grid = decodeGrid(preds.subarray(0, L), geo.n);
      const changed: number[] = [];
      for (let i = 0; i < L; i++) if (grid[i] !== prev[i]) changed.push(i);
      steps.push({ step: s, grid, q_halt: q[0], q_continue: q[1], changed });
      if (haltStep === null && q[0] > 0) haltStep = s;
      prev = grid;
    },
  });
  const final = steps[steps.length - 1].grid;
  return {
    geo,
    puzzle,
    steps,
    problem: solutionProblem(final, geo) ?? consistencyProblem(puzzle, final, geo),
    haltStep,
  };
}
