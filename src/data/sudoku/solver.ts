/**
 * solver.ts: the Sudoku solver and rater. Candidates are bitmasks (bit d-1 = digit d possible);
 * propagation applies naked singles (a cell with one candidate removes it from its peers) and
 * hidden singles (a digit with one place in a unit goes there) to a fixpoint; search branches on
 * the cell with the fewest candidates (first such cell in row-major order), and stops at `limit`
 * solutions (2 proves uniqueness). One class serves 4x4, 6x6 and 9x9.
 *
 * Rating (docs/DATA.md): the number of guesses the search makes, DPLL convention: at a branch cell
 * with m candidates, trying each of the first m-1 values counts one guess; the last value is
 * forced and free. Rating 0 = solved by singles alone. With limit 2 a unique puzzle's search tree
 * is explored whole, so its rating does not depend on the order values are tried, and is the same
 * for every digit relabelling of the puzzle.
 *
 * Not here: locked candidates or other inference (tdoku has them, so its guess counts run lower).
 *
 * 9x9 runs on the bitboard search of solver9.ts (same rules, same tree, same results, several times
 * faster); 4x4 and 6x6 on the mask search below.
 */
import { TrmError } from '../../errors.js';
import type { Rng } from '../rng.js';
import { cellName, type Geometry } from './grid.js';
import { Solver9, popcountTable, randomBit } from './solver9.js';

export interface SolveResult {
  /** Solutions found, capped at the limit: 0 (impossible), 1 (unique when limit >= 2), 2+. */
  solutions: number;
  /** The first solution found (a fresh array), or null. */
  solution: Uint8Array | null;
  /** A second solution when one was found, or null: where it differs shows the ambiguity. */
  second: Uint8Array | null;
  /** Guesses made (the rating when solutions === 1 and limit >= 2). */
  guesses: number;
}

export class Solver {
  readonly geo: Geometry;
  private readonly cells: number;
  private readonly full: number;
  private readonly cand: Uint16Array; // (cells + 2, cells) candidate masks, one row per search depth
  private readonly queue: Int32Array; // (cells) cells that became single and await peer elimination
  private qn = 0;
  private readonly unitMask: Int32Array; // (cells) bit u set for the 3 units holding the cell
  private dirty = 0; // units whose masks shrank since their last hidden-single scan
  private readonly pop: Uint8Array; // (2^n) popcount
  private readonly digit: Uint8Array; // (2^n) digit of a single-bit mask
  private readonly found: Uint8Array[] = [];
  private solutions = 0;
  private guesses = 0;
  private limit = 2;
  private rng: Rng | null = null;
  private readonly fast: Solver9 | null;

  constructor(geo: Geometry) {
    this.geo = geo;
    this.cells = geo.cells;
    this.full = (1 << geo.n) - 1;
    this.cand = new Uint16Array((geo.cells + 2) * geo.cells);
    this.queue = new Int32Array(geo.cells + 1);
    this.pop = popcountTable(geo.n);
    this.digit = new Uint8Array(1 << geo.n);
    for (let d = 1; d <= geo.n; d++) this.digit[1 << (d - 1)] = d;
    this.unitMask = new Int32Array(geo.cells);
    for (let k = 0; k < geo.units.length; k++) this.unitMask[geo.units[k]] |= 1 << Math.floor(k / geo.n);
    this.fast = geo.n === 9 ? new Solver9() : null;
  }

  /**
   * Solve `puzzle` (0 = blank), stopping at `limit` solutions. With `rng`, values at a branch are
   * tried in random order (used to draw random full grids); the guess count is then order-dependent.
   */
  solve(puzzle: Uint8Array, limit = 2, rng?: Rng): SolveResult {
    const { cells, cand, geo } = this;
    if (puzzle.length !== cells)
      throw new TrmError('TRM_BAD_GRID', `solver: expected ${cells} cells, got ${puzzle.length}`);
    const fast = this.fast;
    if (fast) {
      const bad = fast.run(puzzle, limit, rng ?? null);
      if (bad >= 0)
        throw new TrmError('TRM_BAD_GRID', `solver: digit ${puzzle[bad]} at ${cellName(geo, bad)} exceeds ${geo.n}`);
      return {
        solutions: fast.solutions,
        solution: fast.found[0] ?? null,
        second: fast.found[1] ?? null,
        guesses: fast.guesses,
      };
    }
    this.limit = limit;
    this.rng = rng ?? null;
    this.solutions = 0;
    this.guesses = 0;
    this.found.length = 0;
    cand.fill(this.full, 0, cells);
    this.qn = 0;
    this.dirty = (1 << (3 * geo.n)) - 1;
    for (let c = 0; c < cells; c++) {
      const d = puzzle[c];
      if (d === 0) continue;
      if (d > geo.n) throw new TrmError('TRM_BAD_GRID', `solver: digit ${d} at ${cellName(geo, c)} exceeds ${geo.n}`);
      cand[c] = 1 << (d - 1);
      this.queue[this.qn++] = c;
    }
    this.search(0);
    return {
      solutions: this.solutions,
      solution: this.found[0] ?? null,
      second: this.found[1] ?? null,
      guesses: this.guesses,
    };
  }

  private search(depth: number): void {
    const { cells, cand, pop } = this;
    const base = depth * cells,
      next = base + cells;
    for (;;) {
      if (!this.propagate(base)) return;
      let best = -1,
        bestPop = 99;
      for (let c = 0; c < cells; c++) {
        const p = pop[cand[base + c]];
        if (p > 1 && p < bestPop) {
          bestPop = p;
          best = c;
          if (p === 2) break;
        }
      }
      if (best < 0) {
        this.record(base);
        return;
      }
      let bits = cand[base + best];
      for (let k = 1; k < bestPop; k++) {
        const b = this.rng ? randomBit(this.rng, pop, bits) : bits & -bits;
        bits ^= b;
        this.guesses++;
        cand.copyWithin(next, base, next);
        cand[next + best] = b;
        this.queue[0] = best;
        this.qn = 1;
        this.dirty = this.unitMask[best];
        this.search(depth + 1);
        if (this.solutions >= this.limit) return;
      }
      // The last value is forced: continue at this depth without a copy.
      cand[base + best] = bits;
      this.queue[0] = best;
      this.qn = 1;
      this.dirty = this.unitMask[best];
    }
  }

  /**
   * Naked and hidden singles to a fixpoint on the masks at `base`; false on a contradiction.
   * Only units marked dirty (a mask in them shrank since they were last checked) are scanned.
   */
  private propagate(base: number): boolean {
    const { cand, geo, full, unitMask } = this;
    const { n, units } = geo;
    if (!this.eliminate(base)) return false;
    while (this.dirty !== 0) {
      const low = this.dirty & -this.dirty;
      this.dirty ^= low;
      const u = (31 - Math.clz32(low)) * n;
      let once = 0,
        twice = 0;
      for (let i = 0; i < n; i++) {
        const m = cand[base + units[u + i]];
        twice |= once & m;
        once |= m;
      }
      if (once !== full) return false;
      let uniq = once & ~twice;
      while (uniq !== 0) {
        const b = uniq & -uniq;
        uniq ^= b;
        let i = 0;
        while (i < n && (cand[base + units[u + i]] & b) === 0) i++;
        if (i === n) return false; // an earlier hidden single in this unit took the cell
        const c = units[u + i];
        if (cand[base + c] === b) continue;
        cand[base + c] = b;
        this.dirty |= unitMask[c];
        this.queue[0] = c;
        this.qn = 1;
        if (!this.eliminate(base)) return false;
      }
    }
    return true;
  }

  /** Naked singles: remove each queued single from its peers, queueing peers that become single. */
  private eliminate(base: number): boolean {
    const { cand, queue, unitMask } = this;
    const { peers, nPeers } = this.geo;
    let qn = this.qn,
      dirty = this.dirty;
    while (qn > 0) {
      const c = queue[--qn],
        bit = cand[base + c];
      for (let k = c * nPeers, end = k + nPeers; k < end; k++) {
        const p = peers[k];
        let m = cand[base + p];
        if ((m & bit) === 0) continue;
        m ^= bit;
        if (m === 0) {
          this.qn = 0;
          return false;
        }
        cand[base + p] = m;
        dirty |= unitMask[p];
        if ((m & (m - 1)) === 0) queue[qn++] = p;
      }
    }
    this.qn = 0;
    this.dirty = dirty;
    return true;
  }

  private record(base: number): void {
    if (this.found.length < 2) {
      const g = new Uint8Array(this.cells);
      for (let c = 0; c < this.cells; c++) g[c] = this.digit[this.cand[base + c]];
      this.found.push(g);
    }
    this.solutions++;
  }
}

/** Rating of a puzzle: guesses of a uniqueness-proving solve; throws if it has no unique solution. */
export function ratePuzzle(solver: Solver, puzzle: Uint8Array): number {
  const r = solver.solve(puzzle, 2);
  if (r.solutions !== 1)
    throw new TrmError(
      'TRM_NOT_UNIQUE',
      r.solutions === 0 ? 'puzzle has no solution' : 'puzzle has more than one solution',
    );
  return r.guesses;
}
