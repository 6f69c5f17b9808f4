/**
 * solver9.ts: the 9x9 search of solver.ts on bitboards. Same rules, same search, same results as
 * the generic mask solver (test/data/solver-fast.test.ts pins this against recorded answers):
 * naked and hidden singles to a fixpoint, branch on the first cell (row-major) with the fewest
 * candidates, values low to high (or by `rng` exactly as the generic solver draws them), stop at
 * `limit` solutions, one guess per tried value but the last. Singles-only propagation has a
 * unique fixpoint whatever the order rules fire in, and contradictions (an empty cell, a digit
 * with no place in a unit) are detected exactly when that fixpoint has one, so the search tree,
 * hence the guess count, is the same as the generic solver's.
 *
 * State (32 Int32 words per search depth, preallocated once): word d*3+b holds the cells of band b
 * (rows 3b..3b+2, bit (r%3)*9+col) where digit d+1 is still possible; words 27..29 the cells of
 * each band already placed (a single whose digit has been removed from its peers). A guess copies
 * the 32 words to the next depth; nothing is allocated per node.
 */
import type { Rng } from '../rng.js';

/** popcount of every n-bit mask: table[m] = number of set bits of m. */
export function popcountTable(nbits: number): Uint8Array {
  const pop = new Uint8Array(1 << nbits);
  for (let m = 1; m < 1 << nbits; m++) pop[m] = pop[m & (m - 1)] + 1;
  return pop;
}

/** A uniformly chosen set bit of `bits` (one rng draw over its popcount), as a one-bit mask. */
export function randomBit(rng: Rng, pop: Uint8Array, bits: number): number {
  let r = rng.int(pop[bits]);
  while (r-- > 0) bits &= bits - 1;
  return bits & -bits;
}

const FULL = 0x7ffffff; // 27 bits: a whole band
const SEG = 0x1249249; // bit 0 of each 3-cell row segment of a band
const W = 32; // words of state per depth
const SOLVED = 27; // offset of the placed-cells words

/** (81, 3) the peers of each cell, per band, as band masks (the cell itself excluded). */
const PEER = new Int32Array(81 * 3);
for (let c = 0; c < 81; c++) {
  const r = (c / 9) | 0,
    col = c % 9;
  for (let p = 0; p < 81; p++) {
    if (p === c) continue;
    const pr = (p / 9) | 0,
      pc = p % 9;
    if (pr === r || pc === col || (((pr / 3) | 0) === ((r / 3) | 0) && ((pc / 3) | 0) === ((col / 3) | 0)))
      PEER[c * 3 + ((pr / 3) | 0)] |= 1 << (p % 27);
  }
}

/** Index of the lowest set bit of a nonzero 32-bit value. */
function lowIndex(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/**
 * For one digit's band word: the cells that are the digit's only place in their row or box, or
 * -1 when a row or box of the band has no place for it.
 */
function bandLone(w: number): number {
  const r0 = w & 511,
    r1 = (w >>> 9) & 511,
    r2 = w >>> 18;
  if (r0 === 0 || r1 === 0 || r2 === 0) return -1;
  let h = 0;
  if ((r0 & (r0 - 1)) === 0) h |= r0;
  if ((r1 & (r1 - 1)) === 0) h |= r1 << 9;
  if ((r2 & (r2 - 1)) === 0) h |= r2 << 18;
  // Boxes: per 3-cell row segment, "has one" and "has two or more"; then across the 3 rows.
  const a = w & SEG,
    b = (w >>> 1) & SEG,
    c = (w >>> 2) & SEG;
  const any = a | b | c,
    two = (a & b) | (a & c) | (b & c);
  const a0 = any & 0x49,
    a1 = (any >>> 9) & 0x49,
    a2 = any >>> 18;
  const boxOnce = a0 | a1 | a2;
  if (boxOnce !== 0x49) return -1;
  const boxTwice = two | (two >>> 9) | (two >>> 18) | (a0 & a1) | (a0 & a2) | (a1 & a2);
  const lone = (boxOnce & ~boxTwice & 0x49) * 7;
  return h | (w & (lone | (lone << 9) | (lone << 18)));
}

export class Solver9 {
  private readonly S = new Int32Array((81 + 2) * W);
  private readonly pop = popcountTable(9);
  private dirty = 0; // digits (bit d) whose boards changed since their last hidden-single scan
  solutions = 0;
  guesses = 0;
  private limit = 2;
  private rng: Rng | null = null;
  readonly found: Uint8Array[] = [];

  constructor() {}

  /**
   * Search `puzzle` (81 cells); results in `solutions`, `guesses` and `found`. Returns the first
   * cell holding a digit above 9 (nothing searched), or -1.
   */
  run(puzzle: Uint8Array, limit: number, rng: Rng | null): number {
    const S = this.S;
    this.limit = limit;
    this.rng = rng;
    this.solutions = 0;
    this.guesses = 0;
    this.found.length = 0;
    S.fill(FULL, 0, 27);
    S[SOLVED] = 0;
    S[SOLVED + 1] = 0;
    S[SOLVED + 2] = 0;
    for (let c = 0; c < 81; c++) {
      const v = puzzle[c];
      if (v === 0) continue;
      if (v > 9) return c;
      const b = (c / 27) | 0,
        keep = ~(1 << (c - b * 27));
      for (let d = 0; d < 9; d++) if (d !== v - 1) S[d * 3 + b] &= keep;
    }
    this.dirty = 511;
    this.search(0);
    return -1;
  }

  private search(depth: number): void {
    const S = this.S,
      pop = this.pop;
    const o = depth * W,
      next = o + W;
    for (;;) {
      if (!this.propagate(o)) return;
      // Branch cell: first cell (row-major) with the fewest candidates; 2 is the minimum possible.
      let cell = -1;
      for (let b = 0; b < 3 && cell < 0; b++) {
        let once = 0,
          twice = 0,
          thrice = 0;
        for (let i = o + b; i < o + 27; i += 3) {
          const x = S[i];
          thrice |= twice & x;
          twice |= once & x;
          once |= x;
        }
        const two = twice & ~thrice;
        if (two !== 0) cell = b * 27 + lowIndex(two);
      }
      if (cell < 0) {
        if ((S[o + SOLVED] & S[o + SOLVED + 1] & S[o + SOLVED + 2]) === FULL) {
          this.record(o);
          return;
        }
        let best = 99;
        for (let c = 0; c < 81; c++) {
          const m = this.maskOf(o, c),
            p = pop[m];
          if (p > 1 && p < best) {
            best = p;
            cell = c;
          }
        }
      }
      const orig = this.maskOf(o, cell),
        b = (cell / 27) | 0,
        bit = 1 << (cell - b * 27);
      let bits = orig;
      for (let k = pop[bits]; k > 1; k--) {
        const v = this.rng ? randomBit(this.rng, pop, bits) : bits & -bits;
        bits ^= v;
        this.guesses++;
        S.copyWithin(next, o, next);
        this.assign(next, b, bit, v, orig);
        this.search(depth + 1);
        if (this.solutions >= this.limit) return;
      }
      // The last value is forced: continue at this depth without a copy.
      this.assign(o, b, bit, bits, orig);
    }
  }

  /** Candidates of cell c as a digit mask (bit d = digit d+1). */
  private maskOf(o: number, c: number): number {
    const S = this.S,
      b = (c / 27) | 0,
      sh = c - b * 27;
    let m = 0;
    for (let d = 0; d < 9; d++) m |= ((S[o + d * 3 + b] >>> sh) & 1) << d;
    return m;
  }

  /** Leave only digit mask `v` in the cell (band b, bit `bit`): remove it from the boards in `others`. */
  private assign(o: number, b: number, bit: number, v: number, others: number): void {
    const S = this.S;
    others &= ~v;
    this.dirty = others;
    while (others !== 0) {
      const d = lowIndex(others);
      others &= others - 1;
      S[o + d * 3 + b] &= ~bit;
    }
  }

  /** Naked and hidden singles to a fixpoint on the state at `o`; false on a contradiction. */
  private propagate(o: number): boolean {
    const S = this.S;
    let dirty = this.dirty;
    for (;;) {
      // Naked singles: place every cell left with one candidate that is not placed yet.
      for (;;) {
        let any = 0;
        for (let b = 0; b < 3; b++) {
          const i = o + b;
          const x0 = S[i],
            x1 = S[i + 3],
            x2 = S[i + 6],
            x3 = S[i + 9],
            x4 = S[i + 12];
          const x5 = S[i + 15],
            x6 = S[i + 18],
            x7 = S[i + 21],
            x8 = S[i + 24];
          let once = x0,
            twice = once & x1;
          once |= x1;
          twice |= once & x2;
          once |= x2;
          twice |= once & x3;
          once |= x3;
          twice |= once & x4;
          once |= x4;
          twice |= once & x5;
          once |= x5;
          twice |= once & x6;
          once |= x6;
          twice |= once & x7;
          once |= x7;
          twice |= once & x8;
          once |= x8;
          if (once !== FULL) return false; // an empty cell
          let singles = once & ~twice & ~S[o + SOLVED + b];
          if (singles === 0) continue;
          any = 1;
          S[o + SOLVED + b] |= singles;
          // The digit of each single, bit-sliced: bit k of the index of the one board holding it.
          const i0 = x1 | x3 | x5 | x7,
            i1 = x2 | x3 | x6 | x7,
            i2 = x4 | x5 | x6 | x7;
          do {
            const k = lowIndex(singles);
            singles &= singles - 1;
            const d = ((i0 >>> k) & 1) | (((i1 >>> k) & 1) << 1) | (((i2 >>> k) & 1) << 2) | (((x8 >>> k) & 1) << 3);
            const j = o + d * 3;
            if ((S[j + b] & (1 << k)) === 0) return false; // a single placed just before took its digit
            const pc = (b * 27 + k) * 3;
            S[j] &= ~PEER[pc];
            S[j + 1] &= ~PEER[pc + 1];
            S[j + 2] &= ~PEER[pc + 2];
            dirty |= 1 << d;
          } while (singles !== 0);
        }
        if (any === 0) break;
      }
      // Hidden singles: scan changed digits for cells that are the digit's only place in a row,
      // column or box; back to naked singles as soon as one digit yields some.
      let found = 0;
      while (dirty !== 0 && found === 0) {
        const d = lowIndex(dirty);
        dirty &= dirty - 1;
        const i = o + d * 3;
        const w0 = S[i],
          w1 = S[i + 1],
          w2 = S[i + 2];
        if (((w0 & ~S[o + SOLVED]) | (w1 & ~S[o + SOLVED + 1]) | (w2 & ~S[o + SOLVED + 2])) === 0) {
          // Only placed cells left (pairwise apart): every unit has the digit iff every row has.
          if (
            (w0 & 511) === 0 ||
            (w0 & 0x3fe00) === 0 ||
            (w0 & 0x7fc0000) === 0 ||
            (w1 & 511) === 0 ||
            (w1 & 0x3fe00) === 0 ||
            (w1 & 0x7fc0000) === 0 ||
            (w2 & 511) === 0 ||
            (w2 & 0x3fe00) === 0 ||
            (w2 & 0x7fc0000) === 0
          )
            return false;
          continue;
        }
        // Columns: fold the three bands, then the three rows of the folded band.
        const a3 = w0 | w1 | w2,
          b3 = (w0 & w1) | (w0 & w2) | (w1 & w2);
        const c0 = a3 & 511,
          c1 = (a3 >>> 9) & 511,
          c2 = a3 >>> 18;
        const once = c0 | c1 | c2;
        if (once !== 511) return false; // a column without the digit
        const twice = b3 | (b3 >>> 9) | (b3 >>> 18) | (c0 & c1) | (c0 & c2) | (c1 & c2);
        const col = once & ~twice & 511,
          colBand = col | (col << 9) | (col << 18);
        for (let b = 0; b < 3; b++) {
          const w = b === 0 ? w0 : b === 1 ? w1 : w2;
          const h = bandLone(w);
          if (h < 0) return false; // a row or box without the digit
          const lone = (h | (w & colBand)) & ~S[o + SOLVED + b];
          if (lone === 0) continue;
          found = 1;
          // Each such cell keeps only this digit (a naked single for the next round).
          for (let e = 0, j = o + b; e < 9; e++, j += 3) {
            const x = S[j];
            if (e !== d && (x & lone) !== 0) {
              S[j] = x & ~lone;
              dirty |= 1 << e;
            }
          }
        }
      }
      if (found === 0) {
        this.dirty = 0;
        return true;
      }
    }
  }

  private record(o: number): void {
    if (this.found.length < 2) {
      const S = this.S,
        g = new Uint8Array(81);
      for (let d = 0; d < 9; d++) {
        for (let b = 0; b < 3; b++) {
          let x = S[o + d * 3 + b];
          while (x !== 0) {
            g[b * 27 + lowIndex(x)] = d + 1;
            x &= x - 1;
          }
        }
      }
      this.found.push(g);
    }
    this.solutions++;
  }
}
