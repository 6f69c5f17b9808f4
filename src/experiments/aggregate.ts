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
 *   oracle           pass@k: counted right when any chain is right (an upper bound, not a rule)
 */
export const AGGREGATORS = ['single', 'cell-vote', 'puzzle-vote', 'confidence', 'vote-confidence', 'oracle'] as const;
export type Aggregator = (typeof AGGREGATORS)[number];

export function isAggregator(s: string): s is Aggregator {
  return (AGGREGATORS as readonly string[]).includes(s);
}

/** Chain boards of one puzzle at one step: boards[r] has L tokens, q[r] the chain's q_halt logit. */
export interface Chains {
  boards: ArrayLike<number>[];
  q: ArrayLike<number>;
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
