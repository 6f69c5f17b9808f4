/**
 * `trm solve`: one Sudoku through a checkpoint, step by step: the grid, then after each
 * supervision step the model's answer with q_halt and the changed cells marked, and whether the
 * final answer is a valid solution. `--json` gives per-step predictions and q logits.
 */
import { backendOption, useBackendChoice } from '../backend.js';
import { intOption, defineCommand } from '../command.js';
import { TrmError, UsageError } from '../../errors.js';
import type { Geometry } from '../../data/sudoku/grid.js';
import { formatGrid, geometry, givensProblem, parseGrid, sizeForCells } from '../../data/sudoku/grid.js';
import { checkCheckpoint, checkFiniteWeights } from '../checks.js';
import { loadModel, parseSets } from '../../train/index.js';
import { parsePuzzle, solvePuzzle, type SolveResult } from '../../train/solve.js';
import { modelForSize } from '../models.js';
import { MAX_CHAINS } from '../../model/chain.js';

/** The grid as text rows with box separators; `mark` cells get a '*' after them, givens are plain. */
export function renderGrid(geo: Geometry, grid: Uint8Array, mark: Set<number> = new Set()): string[] {
  const lines: string[] = [];
  for (let r = 0; r < geo.n; r++) {
    if (r > 0 && r % geo.boxRows === 0)
      lines.push(Array.from({ length: geo.n / geo.boxCols }, () => '-'.repeat(geo.boxCols * 2)).join('+-'));
    let s = '';
    for (let c = 0; c < geo.n; c++) {
      if (c > 0 && c % geo.boxCols === 0) s += '| ';
      const i = r * geo.n + c;
      s += (grid[i] === 0 ? '.' : String(grid[i])) + (mark.has(i) ? '*' : ' ');
    }
    lines.push(s.trimEnd());
  }
  return lines;
}

/** Print a solve trace: the puzzle, then each step's answer beside the previous. */
export function printSolve(r: SolveResult, out: (line: string) => void = console.log): void {
  out('puzzle:');
  for (const l of renderGrid(r.geo, r.puzzle)) out('  ' + l);
  for (const s of r.steps) {
    out(
      `step ${s.step}: q_halt ${s.q_halt.toFixed(2)} (${s.q_halt > 0 ? 'would halt' : 'continue'}), ${s.changed.length} cell${s.changed.length === 1 ? '' : 's'} changed${s.changed.length ? ' (*)' : ''}`,
    );
    if (s.changed.length || s.step === 1) for (const l of renderGrid(r.geo, s.grid, new Set(s.changed))) out('  ' + l);
  }
  if (r.chains.k > 1)
    out(
      `breadth: ${r.chains.k} chains from random inits; shown: chain ${r.chains.chosen + 1} (highest final q_halt); ${r.chains.valid} of ${r.chains.k} end in a valid solution`,
    );
  out(
    r.problem === null
      ? `answer: valid solution${r.haltStep ? ` (q_halt > 0 from step ${r.haltStep})` : ''}`
      : `answer: NOT a valid solution (${r.problem})`,
  );
}

export const solveCommand = defineCommand({
  name: 'solve',
  summary: 'solve one Sudoku with a checkpoint, showing every supervision step',
  usage: '[--checkpoint PATH] PUZZLE [--nsup N] [--k K [--seed S]] [--json]',
  options: {
    ...backendOption,
    checkpoint: {
      type: 'string',
      argument: 'PATH',
      description:
        "run directory, checkpoint directory or safetensors file (default: the shipped model for the puzzle's size, models/sudoku{4,6,9})",
    },
    nsup: {
      type: 'string',
      argument: 'N',
      description: "supervision steps (default: the checkpoint's halt_max_steps)",
    },
    set: {
      type: 'string',
      argument: 'KEY=VALUE',
      multiple: true,
      description: 'model loop counts for a bare safetensors file, e.g. --set L_cycles=4',
    },
    k: {
      type: 'string',
      argument: 'K',
      description:
        "test-time breadth: K chains from random inits, the answer of the one with the highest final q_halt; its steps are shown (default 1: the model's own init)",
    },
    seed: { type: 'string', argument: 'S', description: "seed of the K chains' inits (default 0)" },
    json: { type: 'boolean', description: 'per-step predictions and q_halt / q_continue logits as JSON' },
  },
  details:
    'PUZZLE: 81 characters (16 or 36 for 4x4 / 6x6), row by row, digits for givens, . or 0 for blanks.\n' +
    'Without --checkpoint the shipped model for the size is used (models/sudoku4, sudoku6, sudoku9; named on stderr).\n' +
    'Hard puzzles: more steps and chains, e.g. --nsup 16 --k 32 (the shipped sudoku9 solves 86% of puzzles needing\n' +
    '51+ guesses of a search that way; models/sudoku9.md).\n' +
    'Examples: trm solve "..3.5..9.1.....7.2.96..2...2..9.....7.....1......4..3...8..6..5.....3.....1..2..."\n' +
    '          trm solve --nsup 16 --k 32 "8..........36......7..9.2...5...7.......457.....1...3...1....68..85...1..9....4.."\n' +
    '          trm solve --checkpoint runs/s4 "1..4.4....2.3..1"',
  async run(args) {
    const backend = await useBackendChoice(args.values.backend);
    if (backend !== 'native') process.stderr.write(`trm: computing on ${backend}\n`);
    if (args.positionals.length !== 1)
      throw new UsageError(`solve: expected one PUZZLE argument, got ${args.positionals.length}`);
    const text = args.positionals[0].trim();
    const nsup = intOption(args, 'nsup', 1, 1024);
    const k = intOption(args, 'k', 1, MAX_CHAINS),
      seed = intOption(args, 'seed', 0, 2 ** 31 - 1);
    const n = sizeForCells(text.length);
    let ck = args.values.checkpoint;
    if (!ck) {
      if (!n)
        throw new TrmError(
          'TRM_BAD_GRID',
          `a puzzle has 16, 36 or 81 cells (4x4, 6x6, 9x9), got ${text.length} characters`,
        );
      const shipped = modelForSize(n);
      ck = shipped.weights;
      process.stderr.write(`trm: using the shipped model ${shipped.name} (${ck}; card: ${shipped.card})\n`);
    }
    if (n) {
      // a contradiction needs no model to find (parsePuzzle reports other malformed text)
      let grid: Uint8Array | null = null;
      try {
        grid = parseGrid(text, geometry(n));
      } catch {
        /* below */
      }
      const problem = grid && givensProblem(grid, geometry(n));
      if (problem) throw new TrmError('TRM_BAD_GRID', `the puzzle has no solution: ${problem}`);
    }
    const over = parseSets(args.values.set ?? []).model;
    checkCheckpoint(ck, over);
    const m = loadModel(ck, over, text.length);
    await checkFiniteWeights(m.weights, m.file);
    const { geo, puzzle } = parsePuzzle(text, m.config);
    const r = await solvePuzzle(m.config, m.weights, geo, puzzle, { nsup, k, seed });
    if (args.values.json) {
      console.log(
        JSON.stringify(
          {
            puzzle: formatGrid(puzzle),
            valid: r.problem === null,
            problem: r.problem,
            halt_step: r.haltStep,
            k: r.chains.k,
            chain: r.chains.chosen,
            valid_chains: r.chains.valid,
            steps: r.steps.map(s => ({
              step: s.step,
              answer: formatGrid(s.grid),
              q_halt: s.q_halt,
              q_continue: s.q_continue,
              changed: s.changed,
            })),
          },
          null,
          2,
        ),
      );
    } else printSolve(r);
    return r.problem === null ? 0 : 1;
  },
});
