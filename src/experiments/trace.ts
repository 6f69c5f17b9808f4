/**
 * trace.ts: what the selectors of aggregate.ts read from chains of supervision steps, kept while
 * the chains run. ChainTrace follows R rows (one per chain and puzzle) step by step in O(R) memory
 * (no history of boards or logits): the board and q_halt at the step, the logit change of the last
 * three steps (convergence), the first halting step (first-halt) and the step with the highest
 * q_halt so far (best-q-any). ChainRecord keeps a copy of that at each requested N_sup, so chains
 * computed in different passes are aggregated together afterwards. Pure host code, tested on
 * hand-made steps (test/experiments/aggregate.test.ts).
 */
import type { Chains, ChainPoints } from './aggregate.js';

export interface TraceNeeds {
  /** logit changes (convergence): logits must be passed to step() */
  change: boolean;
  /** first halting step and its board (first-halt) */
  halt: boolean;
  /** highest q_halt so far and its board (best-q-any) */
  best: boolean;
}

/** Steps over which convergence averages the logit change (EqR: the last 3). */
export const CONVERGENCE_WINDOW = 3;

export class ChainTrace {
  /** the step last passed to step() (0 before the first) */
  s = 0;
  /** board (R x L) and q_halt (R) at step s */
  readonly board: Uint8Array;
  readonly q: Float32Array;
  private readonly prev: Float32Array | null;
  private readonly changes: Float64Array | null;
  readonly haltStep: Int32Array;
  readonly haltQ: Float32Array;
  readonly haltBoard: Uint8Array | null;
  readonly bestStep: Int32Array;
  readonly bestQ: Float32Array;
  readonly bestBoard: Uint8Array | null;

  constructor(
    readonly rows: number,
    readonly L: number,
    readonly V: number,
    readonly needs: TraceNeeds,
  ) {
    this.board = new Uint8Array(rows * L);
    this.q = new Float32Array(rows);
    this.prev = needs.change ? new Float32Array(rows * L * V) : null;
    this.changes = needs.change ? new Float64Array(rows * CONVERGENCE_WINDOW) : null;
    this.haltStep = new Int32Array(rows);
    this.haltQ = new Float32Array(rows);
    this.haltBoard = needs.halt ? new Uint8Array(rows * L) : null;
    this.bestStep = new Int32Array(rows);
    this.bestQ = new Float32Array(rows);
    this.bestBoard = needs.best ? new Uint8Array(rows * L) : null;
  }

  /**
   * Step s of every row (every step in order, s = this.s + 1, when any history is traced; else any
   * later step, and only board and q are meaningful): preds (R x L token ids), q (R x qStride, q_halt first:
   * the model's [q_halt, q_continue] pairs) and, when changes are traced, logits (R x L x V).
   */
  step(s: number, preds: ArrayLike<number>, q: ArrayLike<number>, qStride = 2, logits?: ArrayLike<number>): void {
    const { change, halt, best } = this.needs;
    if (change || halt || best ? s !== this.s + 1 : s <= this.s)
      throw new RangeError(`ChainTrace: step ${s} after step ${this.s}`);
    const { rows: R, L, V } = this;
    for (let i = 0; i < R * L; i++) this.board[i] = preds[i];
    for (let r = 0; r < R; r++) {
      const qr = q[r * qStride];
      this.q[r] = qr;
      const row = this.board.subarray(r * L, (r + 1) * L);
      if (this.haltStep[r] === 0 && qr > 0) {
        this.haltStep[r] = s;
        this.haltQ[r] = qr;
        this.haltBoard?.set(row, r * L);
      }
      if (s === 1 || qr > this.bestQ[r]) {
        this.bestStep[r] = s;
        this.bestQ[r] = qr;
        this.bestBoard?.set(row, r * L);
      }
    }
    if (this.prev) {
      if (!logits) throw new RangeError('ChainTrace: logits are needed to trace the logit change');
      const prev = this.prev,
        W = CONVERGENCE_WINDOW;
      for (let r = 0; r < R; r++) {
        if (s > 1) {
          // mean over tokens of the L2 norm of the change of the token's logits vector
          let sum = 0;
          for (let t = 0; t < L; t++) {
            let ss = 0;
            for (let v = 0, o = (r * L + t) * V; v < V; v++, o++) {
              const d = logits[o] - prev[o];
              ss += d * d;
            }
            sum += Math.sqrt(ss);
          }
          this.changes![r * W + ((s - 2) % W)] = sum / L;
        }
      }
      for (let i = 0; i < R * L * V; i++) prev[i] = logits[i];
    }
    this.s = s;
  }

  /** Row r's mean logit change over its last min(3, s - 1) steps; NaN at step 1 or when not traced. */
  change(r: number): number {
    if (!this.changes || this.s < 2) return Number.NaN;
    const n = Math.min(CONVERGENCE_WINDOW, this.s - 1);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += this.changes[r * CONVERGENCE_WINDOW + i];
    return sum / n;
  }
}

/** ChainTrace's state of R rows copied at each requested N_sup (index si of `nsup`). */
export class ChainRecord {
  readonly boards: Uint8Array[];
  readonly q: Float32Array[];
  readonly change: Float64Array[] | null;
  // a chain's first halt never changes once it happened: one copy, filtered by step <= N_sup when read
  private readonly haltStep: Int32Array;
  private readonly haltQ: Float32Array;
  private readonly haltBoard: Uint8Array | null;
  private readonly bestStep: Int32Array[];
  private readonly bestQ: Float32Array[];
  private readonly bestBoard: Uint8Array[] | null;

  constructor(
    readonly rows: number,
    readonly L: number,
    readonly nsup: number[],
    readonly needs: TraceNeeds,
  ) {
    const per = <T>(f: () => T) => nsup.map(f);
    this.boards = per(() => new Uint8Array(rows * L));
    this.q = per(() => new Float32Array(rows));
    this.change = needs.change ? per(() => new Float64Array(rows)) : null;
    this.haltStep = new Int32Array(rows);
    this.haltQ = new Float32Array(rows);
    this.haltBoard = needs.halt ? new Uint8Array(rows * L) : null;
    this.bestStep = per(() => new Int32Array(rows));
    this.bestQ = per(() => new Float32Array(rows));
    this.bestBoard = needs.best ? per(() => new Uint8Array(rows * L)) : null;
  }

  /** Copy rows [from, from + n) of `t` (at step nsup[si]) to rows [to, to + n). */
  save(si: number, t: ChainTrace, from: number, to: number, n: number): void {
    if (t.s !== this.nsup[si]) throw new RangeError(`ChainRecord: the trace is at step ${t.s}, not ${this.nsup[si]}`);
    const L = this.L,
      cells = (a: Uint8Array) => a.subarray(from * L, (from + n) * L),
      rows = <A extends Int32Array | Float32Array>(a: A) => a.subarray(from, from + n) as A;
    this.boards[si].set(cells(t.board), to * L);
    this.q[si].set(rows(t.q), to);
    if (this.change) for (let i = 0; i < n; i++) this.change[si][to + i] = t.change(from + i);
    this.haltStep.set(rows(t.haltStep), to);
    this.haltQ.set(rows(t.haltQ), to);
    if (this.haltBoard) this.haltBoard.set(cells(t.haltBoard!), to * L);
    this.bestStep[si].set(rows(t.bestStep), to);
    this.bestQ[si].set(rows(t.bestQ), to);
    if (this.bestBoard) this.bestBoard[si].set(cells(t.bestBoard!), to * L);
  }

  /** The chains of one puzzle (its `rows`, chain order) at nsup[si], as aggregate() reads them. */
  chains(si: number, rows: ArrayLike<number>): Chains {
    const L = this.L,
      idx = Array.from(rows),
      board = (a: Uint8Array) => idx.map(r => a.subarray(r * L, (r + 1) * L)),
      pick = (a: ArrayLike<number>) => idx.map(r => a[r]),
      N = this.nsup[si];
    const out: Chains = { boards: board(this.boards[si]), q: pick(this.q[si]) };
    if (this.change) out.change = pick(this.change[si]);
    if (this.haltBoard) {
      const step = idx.map(r => (this.haltStep[r] > 0 && this.haltStep[r] <= N ? this.haltStep[r] : 0));
      out.halt = { step, q: pick(this.haltQ), boards: board(this.haltBoard) } satisfies ChainPoints;
    }
    if (this.bestBoard)
      out.best = { step: pick(this.bestStep[si]), q: pick(this.bestQ[si]), boards: board(this.bestBoard[si]) };
    return out;
  }
}
