/** Best-of-k aggregators on hand-made chains, ties included (reference/experiments.md 3.2). */
import { describe, expect, it } from 'vitest';
import { aggregate, confidenceChain, puzzleVoteChain, scoreBoard } from '../../src/experiments/aggregate.js';

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
});
