/**
 * aggregate.ts: best-of-k aggregation (reference/experiments.md 3.2). k chains (independent
 * rollouts from different latent inits) each give a board (argmax per cell) and a halting logit
 * q_halt at a supervision step; an aggregator turns them into one board. Pure functions on
 * hand-sized arrays, so each rule is tested on made-up chains, ties included.
 *   single           chain 0
 *   cell-vote        per cell the most frequent token; ties -> the lowest token id (trm-jax)
 *   vote-confidence  cell-wise majority; ties -> the token backed by the most confident chain
 *                    (highest q_halt among its voters), then the lowest id
 *   puzzle-vote      the most frequent whole board; ties -> higher mean sigmoid(q_halt) of its
 *                    chains, then the board of the lowest chain index (the official ARC voting rule)
 *   confidence       the board of the chain with the highest q_halt; ties -> the first chain
 *   convergence      EqR: the board of the chain whose logits moved least over the last 3 steps (the
 *                    mean over those steps of the mean over tokens of ||logits_t - logits_t-1||_2);
 *                    ties -> the first chain; at step 1 (no change yet) chain 0
 *   first-halt       "speed is confidence": the chain that halts first IN TIME (the smallest step with
 *                    q_halt > 0), its board at that step; ties (several halt first at the same step)
 *                    -> the higher q_halt at that step, then the first chain; none halted by step s ->
 *                    as confidence (highest q_halt at step s)
 *   best-q-any       the highest q_halt at ANY step <= s of any chain, the board of that chain at that
 *                    step; ties -> the earlier step, then the first chain
 *   oracle           pass@k: counted right when any chain is right (an upper bound, not a rule)
 * The per-step selectors read what ChainTrace keeps while the chains run (step by step, in O(rows)
 * memory) and ChainRecord stores at each requested N_sup.
 */
import { TrmError } from '../errors.js';

export const AGGREGATORS = [
  'single',
  'cell-vote',
  'puzzle-vote',
  'confidence',
  'vote-confidence',
  'convergence',
  'first-halt',
  'best-q-any',
  'oracle',
] as const;
export type Aggregator = (typeof AGGREGATORS)[number];

export function isAggregator(s: string): s is Aggregator {
  return (AGGREGATORS as readonly string[]).includes(s);
}

/** Where a chain was at one step: its step (1-based; 0 = no such step), q_halt and board. */
export interface ChainPoints {
  step: ArrayLike<number>;
  q: ArrayLike<number>;
  boards: ArrayLike<number>[];
}

/**
 * Chain boards of one puzzle at one step s: boards[r] has L tokens, q[r] the chain's q_halt logit.
 * The step-history selectors need more: `change` (convergence: chain r's mean logit change over
 * its last min(3, s - 1) steps, NaN at s = 1), `halt` (first-halt: each chain's first step with
 * q_halt > 0, step 0 when it has not halted by s) and `best` (best-q-any: each chain's step <= s
 * with the highest q_halt, the earliest on ties).
 */
export interface Chains {
  boards: ArrayLike<number>[];
  q: ArrayLike<number>;
  change?: ArrayLike<number>;
  halt?: ChainPoints;
  best?: ChainPoints;
}

/** Aggregators that read a chain's history (ChainTrace), not only its board and q_halt at the step. */
export function needsHistory(a: Aggregator): boolean {
  return a === 'convergence' || a === 'first-halt' || a === 'best-q-any';
}

/** The per-step data an aggregator needs beyond the boards and q_halt at the step. */
export function aggregatorNeeds(aggs: readonly Aggregator[]): { change: boolean; halt: boolean; best: boolean } {
  return { change: aggs.includes('convergence'), halt: aggs.includes('first-halt'), best: aggs.includes('best-q-any') };
}

function need<T>(v: T | undefined, agg: Aggregator, what: string): T {
  if (v === undefined) throw new TrmError('TRM_BAD_CONFIG', `aggregate: '${agg}' needs the chains' ${what}`);
  return v;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function cellVote(ch: Chains, out: Int32Array, byConfidence: boolean): Int32Array {
  const k = ch.boards.length,
    count = new Map<number, number>(),
    best = new Map<number, number>();
  for (let c = 0; c < out.length; c++) {
    count.clear();
    best.clear();
    for (let r = 0; r < k; r++) {
      const v = ch.boards[r][c];
      count.set(v, (count.get(v) ?? 0) + 1);
      best.set(v, Math.max(best.get(v) ?? -Infinity, ch.q[r]));
    }
    let win = -1,
      winCount = -1,
      winQ = -Infinity;
    for (const [v, n] of count) {
      const better =
        n > winCount ||
        (n === winCount && byConfidence && best.get(v)! > winQ) ||
        (n === winCount && (!byConfidence || best.get(v)! === winQ) && v < win);
      if (better) {
        win = v;
        winCount = n;
        winQ = best.get(v)!;
      }
    }
    out[c] = win;
  }
  return out;
}

function sameBoard(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Index of the chain whose board the puzzle-wise vote picks. */
export function puzzleVoteChain(ch: Chains): number {
  const k = ch.boards.length,
    group = new Int32Array(k).fill(-1);
  let bestR = 0,
    bestCount = -1,
    bestConf = -Infinity;
  for (let r = 0; r < k; r++) {
    if (group[r] >= 0) continue;
    let count = 0,
      conf = 0;
    for (let j = r; j < k; j++) {
      if (group[j] < 0 && sameBoard(ch.boards[r], ch.boards[j])) {
        group[j] = r;
        count++;
        conf += sigmoid(ch.q[j]);
      }
    }
    conf /= count;
    // r is the lowest chain of its board and boards are visited in r order: strict > keeps the lowest
    if (count > bestCount || (count === bestCount && conf > bestConf)) {
      bestR = r;
      bestCount = count;
      bestConf = conf;
    }
  }
  return bestR;
}

/** Index of the chain with the highest q_halt (first on ties). */
export function confidenceChain(ch: Chains): number {
  let best = 0;
  for (let r = 1; r < ch.boards.length; r++) if (ch.q[r] > ch.q[best]) best = r;
  return best;
}

/** Index of the most converged chain: the lowest `change` (NaN, i.e. not measured, counts as
 *  unconverged); the first on ties, so chain 0 when nothing is measured yet (step 1). */
export function convergenceChain(ch: Chains): number {
  const change = need(ch.change, 'convergence', 'logit changes');
  let best = 0;
  for (let r = 1; r < ch.boards.length; r++)
    if (change[r] < change[best] || (Number.isNaN(change[best]) && !Number.isNaN(change[r]))) best = r;
  return best;
}

/** First-halt: [chain, use its halting board]; the earliest halting step, then the higher q_halt
 *  there, then the first chain; when no chain has halted, [confidenceChain, false]. */
export function firstHaltChain(ch: Chains): [number, boolean] {
  const h = need(ch.halt, 'first-halt', 'halting steps');
  let best = -1;
  for (let r = 0; r < ch.boards.length; r++) {
    if (!(h.step[r] > 0)) continue;
    if (best < 0 || h.step[r] < h.step[best] || (h.step[r] === h.step[best] && h.q[r] > h.q[best])) best = r;
  }
  return best < 0 ? [confidenceChain(ch), false] : [best, true];
}

/** Best-q-any: the chain holding the highest q_halt of any step; the earlier step, then the first chain, on ties. */
export function bestQAnyChain(ch: Chains): number {
  const b = need(ch.best, 'best-q-any', 'best steps');
  let best = 0;
  for (let r = 1; r < ch.boards.length; r++)
    if (b.q[r] > b.q[best] || (b.q[r] === b.q[best] && b.step[r] < b.step[best])) best = r;
  return best;
}

/** The aggregated board (L tokens) into `out`. Not for 'oracle' (see chainsCorrect). */
export function aggregate(agg: Exclude<Aggregator, 'oracle'>, ch: Chains, out: Int32Array): Int32Array {
  switch (agg) {
    case 'single':
      out.set(ch.boards[0]);
      return out;
    case 'cell-vote':
      return cellVote(ch, out, false);
    case 'vote-confidence':
      return cellVote(ch, out, true);
    case 'puzzle-vote':
      out.set(ch.boards[puzzleVoteChain(ch)]);
      return out;
    case 'confidence':
      out.set(ch.boards[confidenceChain(ch)]);
      return out;
    case 'convergence':
      out.set(ch.boards[convergenceChain(ch)]);
      return out;
    case 'first-halt': {
      const [r, halted] = firstHaltChain(ch);
      out.set(halted ? ch.halt!.boards[r] : ch.boards[r]);
      return out;
    }
    case 'best-q-any':
      out.set(ch.best!.boards[bestQAnyChain(ch)]);
      return out;
  }
}

/** Cells of `board` equal to `labels` among those not equal to `ignore`: [valid, correct]. */
export function scoreBoard(board: ArrayLike<number>, labels: ArrayLike<number>, ignore: number): [number, number] {
  let valid = 0,
    correct = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] === ignore) continue;
    valid++;
    if (board[i] === labels[i]) correct++;
  }
  return [valid, correct];
}
