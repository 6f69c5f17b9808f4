/** Best-of-k aggregators on hand-made chains, ties included (reference/experiments.md 3.2). */
import { describe, expect, it } from 'vitest';
import {
  aggregate,
  bestQAnyChain,
  type Chains,
  confidenceChain,
  convergenceChain,
  firstHaltChain,
  puzzleVoteChain,
  scoreBoard,
} from '../../src/experiments/aggregate.js';
import { ChainRecord, ChainTrace } from '../../src/experiments/trace.js';
import { TrmError } from '../../src/errors.js';

const agg = (name: Parameters<typeof aggregate>[0], boards: number[][], q: number[]) =>
  Array.from(aggregate(name, { boards, q }, new Int32Array(boards[0].length)));

describe('aggregators', () => {
  it('single reads chain 0', () => {
    expect(
      agg(
        'single',
        [
          [1, 2],
          [3, 4],
        ],
        [-5, 5],
      ),
    ).toEqual([1, 2]);
  });

  it("cell-vote takes the per-cell majority, which may be no chain's board", () => {
    const boards = [
      [1, 2, 3],
      [1, 5, 6],
      [7, 5, 3],
    ];
    expect(agg('cell-vote', boards, [0, 0, 0])).toEqual([1, 5, 3]);
  });

  it('cell-vote breaks ties by the lowest token id; vote-confidence by the most confident voter', () => {
    const boards = [
      [4, 9],
      [2, 9],
      [4, 1],
      [2, 1],
    ]; // both cells tied 2-2
    const q = [-1, 3, 0, -2]; // chain 1 (votes 2 / 9) is the most confident
    expect(agg('cell-vote', boards, q)).toEqual([2, 1]);
    expect(agg('vote-confidence', boards, q)).toEqual([2, 9]);
    // equal confidence of the best voters: falls back to the lowest id
    expect(agg('vote-confidence', [[4], [2]], [1, 1])).toEqual([2]);
    // a clear majority ignores confidence
    expect(agg('vote-confidence', [[4], [4], [2]], [-9, -9, 9])).toEqual([4]);
  });

  it('puzzle-vote picks the most frequent whole board', () => {
    const a = [1, 2, 3],
      b = [1, 2, 4];
    expect(puzzleVoteChain({ boards: [b, a, a, b, a], q: [9, 0, 0, 9, 0] })).toBe(1);
    expect(agg('puzzle-vote', [b, a, a, b, a], [9, 0, 0, 9, 0])).toEqual(a);
  });

  it("puzzle-vote ties: higher mean sigmoid(q) of the board's chains, then the lowest chain", () => {
    const a = [1, 1],
      b = [2, 2],
      c = [3, 3];
    // a and b both twice; b's chains are more confident on average
    expect(puzzleVoteChain({ boards: [a, b, a, b, c], q: [0, 2, 1, 0, 9] })).toBe(1);
    // equal counts and equal confidence: the lowest chain's board
    expect(puzzleVoteChain({ boards: [b, a, a, b], q: [0, 0, 0, 0] })).toBe(0);
    // mean, not max: a = {5, -5} (mean sigmoid 0.5) loses to b = {1, 1} (0.73)
    expect(puzzleVoteChain({ boards: [a, b, a, b], q: [5, 1, -5, 1] })).toBe(1);
  });

  it('confidence takes the chain with the highest q_halt, the first one on ties', () => {
    expect(confidenceChain({ boards: [[0], [0], [0]], q: [1, 3, 2] })).toBe(1);
    expect(confidenceChain({ boards: [[0], [0], [0]], q: [3, 3, 2] })).toBe(0);
    expect(agg('confidence', [[1], [2], [3]], [-1, 0.5, 0.2])).toEqual([2]);
  });

  it('scoreBoard skips ignored labels', () => {
    expect(scoreBoard([1, 2, 3, 4], [1, -100, 3, 5], -100)).toEqual([3, 2]);
  });

  it('convergence takes the chain whose logits moved least; the first on ties; chain 0 when nothing is measured', () => {
    const boards = [[1], [2], [3], [4]];
    const ch = (change: number[]): Chains => ({ boards, q: [9, 0, 0, 0], change });
    expect(convergenceChain(ch([0.5, 0.1, 0.1, 0.3]))).toBe(1);
    expect(Array.from(aggregate('convergence', ch([0.5, 0.1, 0.1, 0.3]), new Int32Array(1)))).toEqual([2]);
    // NaN (not measured) never wins over a measured change, wherever it stands
    expect(convergenceChain(ch([Number.NaN, 0.4, Number.NaN, 0.2]))).toBe(3);
    expect(convergenceChain(ch([Number.NaN, Number.NaN, Number.NaN, Number.NaN]))).toBe(0);
    expect(() => convergenceChain({ boards, q: [0, 0, 0, 0] })).toThrow(TrmError);
  });

  it('first-halt: the chain halting earliest in time, its board at that step; ties by q_halt there, then the first chain', () => {
    const final = [[1], [2], [3], [4]],
      atHalt = [[11], [12], [13], [14]];
    const ch = (step: number[], hq: number[], q = [0, 0, 0, 0]): Chains => ({
      boards: final,
      q,
      halt: { step, q: hq, boards: atHalt },
    });
    // chains 1 and 2 halt first (step 2); chain 2 is more confident there; chain 0 halted later with a higher q
    expect(firstHaltChain(ch([3, 2, 2, 0], [5, 0.5, 1, 0]))).toEqual([2, true]);
    expect(Array.from(aggregate('first-halt', ch([3, 2, 2, 0], [5, 0.5, 1, 0]), new Int32Array(1)))).toEqual([13]);
    // equal step and q: the first chain
    expect(firstHaltChain(ch([0, 4, 4, 4], [0, 1, 1, 1]))).toEqual([1, true]);
    // nobody halted: the most confident chain at the step, its final board
    expect(firstHaltChain(ch([0, 0, 0, 0], [0, 0, 0, 0], [-3, -1, -2, -1]))).toEqual([1, false]);
    expect(
      Array.from(aggregate('first-halt', ch([0, 0, 0, 0], [0, 0, 0, 0], [-3, -1, -2, -1]), new Int32Array(1))),
    ).toEqual([2]);
  });

  it('best-q-any: the highest q_halt at any step of any chain, the board of that step; ties -> the earlier step, then the first chain', () => {
    const ch = (q: number[], step: number[]): Chains => ({
      boards: [[1], [2], [3]],
      q: [-9, -9, -9],
      best: { step, q, boards: [[21], [22], [23]] },
    });
    expect(bestQAnyChain(ch([2, 3, 1], [4, 5, 2]))).toBe(1);
    expect(bestQAnyChain(ch([2, 3, 3], [4, 5, 2]))).toBe(2);
    expect(bestQAnyChain(ch([3, 2, 3], [2, 5, 2]))).toBe(0);
    expect(Array.from(aggregate('best-q-any', ch([2, 3, 3], [4, 5, 2]), new Int32Array(1)))).toEqual([23]);
  });
});

describe('chain traces', () => {
  // two chains (rows), L = 2 tokens, V = 2; logits per step chosen so each change is easy to compute by hand
  const L = 2,
    V = 2;
  const steps = [
    // [preds (2 rows x 2), q_halt per row, logits (2 x 2 x 2)]
    { preds: [1, 1, 0, 0], q: [-1, -2], logits: [0, 0, 0, 0, 0, 0, 0, 0] },
    { preds: [1, 2, 0, 1], q: [0.5, -1], logits: [3, 4, 0, 0, 1, 0, 0, 0] }, // row 0 changes: 5, 0 -> 2.5; row 1: 1, 0 -> 0.5
    { preds: [1, 2, 1, 1], q: [2, 3], logits: [3, 4, 0, 0, 1, 0, 0, 2] }, // row 0: 0; row 1: 0, 2 -> 1
    { preds: [3, 3, 1, 1], q: [1, 0.1], logits: [3, 4, 6, 8, 1, 0, 0, 2] }, // row 0: 0, 10 -> 5; row 1: 0
    { preds: [3, 3, 1, 2], q: [0.7, 3], logits: [3, 4, 6, 8, 1, 0, 0, 2] }, // both 0
  ];
  const run = (nsup: number[]) => {
    const t = new ChainTrace(2, L, V, { change: true, halt: true, best: true }),
      rec = new ChainRecord(2, L, nsup, { change: true, halt: true, best: true });
    const changes: number[][] = [];
    steps.forEach((x, i) => {
      t.step(
        i + 1,
        x.preds,
        x.q.flatMap(q => [q, 99]),
        2,
        x.logits,
      );
      changes.push([t.change(0), t.change(1)]);
      const si = nsup.indexOf(i + 1);
      if (si >= 0) rec.save(si, t, 0, 0, 2);
    });
    return { t, rec, changes };
  };

  it('tracks the mean logit change over the last 3 steps, the first halt and the best q_halt', () => {
    const { t, changes } = run([5]);
    expect(changes[0].every(Number.isNaN)).toBe(true); // nothing to compare at step 1
    expect(changes[1]).toEqual([2.5, 0.5]);
    expect(changes[2]).toEqual([(2.5 + 0) / 2, (0.5 + 1) / 2]);
    expect(changes[3]).toEqual([(2.5 + 0 + 5) / 3, (0.5 + 1 + 0) / 3]);
    expect(changes[4]).toEqual([(0 + 5 + 0) / 3, (1 + 0 + 0) / 3]); // the window slides: step 2's change is out
    expect(Array.from(t.haltStep)).toEqual([2, 3]);
    expect(Array.from(t.haltBoard!)).toEqual([1, 2, 1, 1]);
    expect(Array.from(t.bestStep)).toEqual([3, 3]); // row 1: q 3 at steps 3 and 5, the earlier kept
    expect(Array.from(t.bestBoard!)).toEqual([1, 2, 1, 1]);
    expect(() => t.step(7, steps[0].preds, [0, 0, 0, 0], 2, steps[0].logits)).toThrow(/step 7 after step 5/);
  });

  it('a record reads each requested N_sup as if the chains had stopped there', () => {
    const { rec } = run([1, 2, 4, 5]);
    const at = (si: number) => rec.chains(si, [0, 1]);
    expect(at(0).halt!.step).toEqual([0, 0]);
    expect(at(1).halt!.step).toEqual([2, 0]); // row 1 halts at step 3: not yet at N_sup 2
    expect(at(2).halt!.step).toEqual([2, 3]);
    expect(Array.from(at(1).boards[1])).toEqual([0, 1]);
    expect(at(2).best!.step).toEqual([3, 3]);
    expect(at(0).best!.step).toEqual([1, 1]);
    expect(at(3).change).toEqual([5 / 3, 1 / 3]);
    // the selectors on the record at N_sup 4: convergence picks row 1 (0.5 < 2.5), first-halt row 0 (step 2)
    const out = new Int32Array(L);
    expect(Array.from(aggregate('convergence', at(2), out))).toEqual([1, 1]);
    expect(Array.from(aggregate('first-halt', at(2), out))).toEqual([1, 2]);
    expect(Array.from(aggregate('best-q-any', at(2), out))).toEqual([1, 1]); // row 1's q 3 at step 3
    expect(Array.from(aggregate('first-halt', at(0), out))).toEqual([1, 1]); // none halted: highest q (-1) at step 1
  });
});
