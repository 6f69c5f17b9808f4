/**
 * milestones.ts: milestone supervision targets for Sudoku (`--milestones sudoku-logic`; docs/DATA.md
 * section 5, docs/TRAINING.md). A puzzle's milestones are the grids after k rounds of logical
 * deduction, k = 1, 2, ..., ending at the solution: a contractive sequence, each milestone the
 * previous one plus the cells one more round of logic settles, every filled cell equal to the
 * solution's.
 *
 * One round = one synchronous sweep: from the candidates of the current grid, every naked single
 * (a blank cell with one candidate) and every hidden single (a digit with one place left in a row,
 * column or box) is found, and all are placed at once. A round is one layer of logical depth, not
 * singles to a fixpoint (a fixpoint would finish every singles-solvable puzzle in one milestone,
 * which is no sequence at all). When a sweep finds no single, the next technique runs: locked
 * candidates (pointing: a box's candidates for a digit all in one row or column clear that digit
 * from the rest of the line; claiming: a line's candidates for a digit all in one box clear it from
 * the rest of the box), repeated to a fixpoint, and the sweep is retried on the reduced candidates
 * (eliminations persist into later rounds). When that still places nothing, the last milestone is
 * the solution itself (a jump). Every deduction is sound, so every placement equals the solution's
 * digit; a placement that does not (an inconsistent row) is an error.
 *
 * Device-free (the trainer's core imports it); the files are milestones-files.ts.
 *
 * Stored form (lossless for such a sequence, 1/M of an (N, M, L) stack): per cell, the index of
 * the first milestone that fills it, 0 for a given. Milestone k of a row = the solution where
 * index <= k, blank elsewhere; the row's last milestone (its largest index) is the solution.
 */
import { TrmError } from '../../errors.js';
import { cellName, type Geometry } from './grid.js';

/** Milestone kinds a dataset can carry (one today). */
export const MILESTONE_KINDS = ['sudoku-logic'] as const;
export type MilestoneKind = (typeof MILESTONE_KINDS)[number];

/** Largest milestone index a row may need (uint8 storage; a 9x9 puzzle needs far fewer). */
export const MAX_MILESTONES = 255;

export interface LogicRounds {
  /** milestones of the row = its largest index (the solution's) */
  milestones: number;
  /** rounds whose placements needed locked candidates first */
  lockedRounds: number;
  /** true when logic stalled and the last milestone jumps to the solution */
  jump: boolean;
}

const popcount = (m: number) => {
  let c = 0;
  for (; m; m &= m - 1) c++;
  return c;
};
const digitOf = (bit: number) => 31 - Math.clz32(bit) + 1;

/** Candidates after locked candidates to a fixpoint; true when anything was eliminated. */
function lockedCandidates(geo: Geometry, grid: Uint8Array, cand: Uint16Array): boolean {
  const { n, units } = geo;
  let any = false;
  for (let changed = true; changed; ) {
    changed = false;
    for (let box = 2 * n; box < 3 * n; box++) {
      for (let d = 1; d <= n; d++) {
        const bit = 1 << (d - 1);
        // cells of the box that still may hold d
        let r = -1,
          c = -1,
          cnt = 0,
          sameR = true,
          sameC = true;
        for (let i = 0; i < n; i++) {
          const cell = units[box * n + i];
          if (grid[cell] === d) {
            cnt = -1;
            break;
          }
          if (grid[cell] !== 0 || (cand[cell] & bit) === 0) continue;
          const cr = Math.floor(cell / n),
            cc = cell % n;
          if (cnt === 0) {
            r = cr;
            c = cc;
          } else {
            if (cr !== r) sameR = false;
            if (cc !== c) sameC = false;
          }
          cnt++;
        }
        if (cnt < 1) continue;
        const inBox = new Set<number>();
        for (let i = 0; i < n; i++) inBox.add(units[box * n + i]);
        // pointing: the box's d lies on one line -> clear d from the line outside the box
        for (const [same, line] of [
          [sameR, r],
          [sameC, n + c],
        ] as const) {
          if (!same) continue;
          for (let i = 0; i < n; i++) {
            const cell = units[line * n + i];
            if (inBox.has(cell) || grid[cell] !== 0 || (cand[cell] & bit) === 0) continue;
            cand[cell] &= ~bit;
            changed = any = true;
          }
        }
      }
    }
    // claiming: a line's d lies in one box -> clear d from the box outside the line
    for (let line = 0; line < 2 * n; line++) {
      for (let d = 1; d <= n; d++) {
        const bit = 1 << (d - 1);
        let box = -1,
          cnt = 0,
          one = true;
        for (let i = 0; i < n; i++) {
          const cell = units[line * n + i];
          if (grid[cell] === d) {
            cnt = -1;
            break;
          }
          if (grid[cell] !== 0 || (cand[cell] & bit) === 0) continue;
          const b = boxOf(geo, cell);
          if (cnt === 0) box = b;
          else if (b !== box) one = false;
          cnt++;
        }
        if (cnt < 1 || !one) continue;
        const onLine = new Set<number>();
        for (let i = 0; i < n; i++) onLine.add(units[line * n + i]);
        for (let i = 0; i < n; i++) {
          const cell = units[(2 * n + box) * n + i];
          if (onLine.has(cell) || grid[cell] !== 0 || (cand[cell] & bit) === 0) continue;
          cand[cell] &= ~bit;
          changed = any = true;
        }
      }
    }
  }
  return any;
}

function boxOf(geo: Geometry, cell: number): number {
  const r = Math.floor(cell / geo.n),
    c = cell % geo.n;
  return Math.floor(r / geo.boxRows) * (geo.n / geo.boxCols) + Math.floor(c / geo.boxCols);
}

/** This round's placements (cell, digit) from the candidates: naked and hidden singles. */
function singles(geo: Geometry, grid: Uint8Array, cand: Uint16Array, out: Map<number, number>): void {
  const { n, units, cells } = geo;
  out.clear();
  for (let c = 0; c < cells; c++) if (grid[c] === 0 && popcount(cand[c]) === 1) out.set(c, digitOf(cand[c]));
  for (let u = 0; u < 3 * n; u++) {
    let placed = 0;
    for (let i = 0; i < n; i++) {
      const v = grid[units[u * n + i]];
      if (v) placed |= 1 << (v - 1);
    }
    for (let d = 1; d <= n; d++) {
      const bit = 1 << (d - 1);
      if (placed & bit) continue;
      let at = -1,
        cnt = 0;
      for (let i = 0; i < n && cnt < 2; i++) {
        const cell = units[u * n + i];
        if (grid[cell] === 0 && cand[cell] & bit) {
          at = cell;
          cnt++;
        }
      }
      if (cnt === 1 && !out.has(at)) out.set(at, d);
    }
  }
}

/**
 * The milestone index of every cell of one puzzle (`out`, cells long): 0 for givens, k for a cell
 * first filled by round k, and for cells logic cannot reach, one past the last round (the solution).
 * `puzzle` and `solution` are digit grids (0 = blank); `where` names the row in errors.
 */
export function logicRounds(
  geo: Geometry,
  puzzle: Uint8Array,
  solution: Uint8Array,
  out: Uint8Array,
  where = 'puzzle',
): LogicRounds {
  const { n, cells, peers, nPeers } = geo,
    full = (1 << n) - 1;
  const grid = Uint8Array.from(puzzle),
    cand = new Uint16Array(cells).fill(full);
  const place = (c: number, d: number) => {
    grid[c] = d;
    cand[c] = 1 << (d - 1);
    for (let k = c * nPeers; k < (c + 1) * nPeers; k++) cand[peers[k]] &= ~(1 << (d - 1));
  };
  let blanks = 0;
  for (let c = 0; c < cells; c++) {
    out[c] = 0;
    if (puzzle[c] === 0) blanks++;
    else if (puzzle[c] !== solution[c])
      throw new TrmError(
        'TRM_BUILD',
        `${where}: given ${puzzle[c]} at ${cellName(geo, c)} is not the solution's ${solution[c]}`,
      );
  }
  for (let c = 0; c < cells; c++) if (puzzle[c] !== 0) place(c, puzzle[c]);
  const found = new Map<number, number>();
  let round = 0,
    lockedRounds = 0;
  while (blanks > 0) {
    singles(geo, grid, cand, found);
    if (found.size === 0) {
      if (!lockedCandidates(geo, grid, cand)) break;
      singles(geo, grid, cand, found);
      if (found.size === 0) break;
      lockedRounds++;
    }
    round++;
    if (round >= MAX_MILESTONES) break; // cannot happen for n <= 9 (each round fills a cell); kept as a bound
    for (const [c, d] of found) {
      if (d !== solution[c])
        throw new TrmError(
          'TRM_BUILD',
          `${where}: logic places ${d} at ${cellName(geo, c)} but the solution has ${solution[c]} (the row is inconsistent)`,
        );
      out[c] = round;
    }
    for (const [c, d] of found) place(c, d);
    blanks -= found.size;
  }
  const jump = blanks > 0;
  if (jump) {
    round++;
    for (let c = 0; c < cells; c++) if (grid[c] === 0) out[c] = round;
  }
  return { milestones: round, lockedRounds, jump };
}

/** Summary of a split's milestones, stored beside them as milestones.json. */
export interface MilestoneSummary {
  kind: MilestoneKind;
  /** how all__milestones.npy encodes them (see this file's header) */
  format: 'first-milestone-per-cell';
  rows: number;
  /** the largest milestone index of any row (M of the (N, M, L) view) */
  max_milestones: number;
  mean_milestones: number;
  /** rows by their number of milestones */
  histogram: Record<string, number>;
  /** rows that needed locked candidates in some round */
  rows_with_locked_candidates: number;
  /** rows whose last milestone jumps to the solution (logic stalled) */
  rows_with_jump: number;
}

/**
 * The milestone index array (N, L) of a split from its token arrays (token = digit + 1, blank 1),
 * and its summary. `name` names the split in errors.
 */
export function splitMilestones(
  geo: Geometry,
  inputs: Uint8Array,
  labels: Uint8Array,
  name: string,
): { rounds: Uint8Array; summary: MilestoneSummary } {
  const L = geo.cells,
    N = inputs.length / L;
  const rounds = new Uint8Array(N * L),
    q = new Uint8Array(L),
    a = new Uint8Array(L);
  const hist: Record<string, number> = {};
  let max = 0,
    sum = 0,
    locked = 0,
    jumps = 0;
  for (let r = 0; r < N; r++) {
    for (let i = 0; i < L; i++) {
      const t = inputs[r * L + i];
      q[i] = t <= 1 ? 0 : t - 1;
      a[i] = labels[r * L + i] - 1;
    }
    const res = logicRounds(geo, q, a, rounds.subarray(r * L, (r + 1) * L), `${name} row ${r}`);
    max = Math.max(max, res.milestones);
    sum += res.milestones;
    hist[res.milestones] = (hist[res.milestones] ?? 0) + 1;
    if (res.lockedRounds > 0) locked++;
    if (res.jump) jumps++;
  }
  return {
    rounds,
    summary: {
      kind: 'sudoku-logic',
      format: 'first-milestone-per-cell',
      rows: N,
      max_milestones: max,
      mean_milestones: N > 0 ? sum / N : 0,
      histogram: hist,
      rows_with_locked_candidates: locked,
      rows_with_jump: jumps,
    },
  };
}

/** Milestone k of a row as digits (0 = blank): the solution where index <= k. */
export function milestoneGrid(
  solution: Uint8Array,
  rounds: Uint8Array,
  k: number,
  out = new Uint8Array(solution.length),
): Uint8Array {
  for (let i = 0; i < solution.length; i++) out[i] = rounds[i] <= k ? solution[i] : 0;
  return out;
}
