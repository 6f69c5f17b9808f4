/**
 * The shipped models (models/): each scores at least its documented floor on the held-out puzzles it
 * ships with (models/NAME.test.csv, none in its training data), so a damaged or swapped weights file
 * fails here; `trm solve` without --checkpoint takes the model for the puzzle's size and names it,
 * and `trm eval --model NAME` scores that model on its held-out set.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { csvSplit, modelForSize, SHIPPED_MODELS, shippedModel } from '../../src/cli/models.js';
import { packageRoot } from '../../src/kernels/index.js';
import { evaluate } from '../../src/train/evaluate.js';
import { loadModel } from '../../src/train/checkpoint.js';
import { parsePuzzle, solvePuzzle } from '../../src/train/solve.js';

/** Exact accuracy floors on the shipped held-out sets (the cards, models/NAME.md, give the measured values). */
const FLOORS: Record<string, { size: 4 | 6 | 9; floor: number }> = {
  sudoku4: { size: 4, floor: 0.97 },
  sudoku6: { size: 6, floor: 0.85 },
  sudoku9: { size: 9, floor: 0.8 },
};

describe('shipped models', () => {
  it('every size has a model, a card and a held-out set', () => {
    expect(Object.values(SHIPPED_MODELS).sort()).toEqual(Object.keys(FLOORS).sort());
    for (const [name, { size }] of Object.entries(FLOORS)) {
      const m = shippedModel(name);
      expect(modelForSize(size)).toEqual(m);
      for (const f of [m.weights, m.card, m.testSet]) expect(existsSync(f), f).toBe(true);
      const card = readFileSync(m.card, 'utf8');
      expect(card).toContain(`${Math.round(FLOORS[name].floor * 100)}%`); // the card states the CI floor
    }
    expect(() => shippedModel('sudoku5')).toThrow(/unknown model 'sudoku5' \(shipped: sudoku4, sudoku6, sudoku9\)/);
  });

  for (const [name, { size, floor }] of Object.entries(FLOORS))
    it(`${name} scores >= ${floor * 100}% exact on its held-out set`, async () => {
      const m = shippedModel(name);
      const model = loadModel(m.weights);
      const split = await csvSplit(m.testSet);
      expect(model.config.seq_len).toBe(size * size);
      expect(split.meta.seq_len).toBe(size * size);
      const e = await evaluate(model.config, model.weights, split, { batchSize: split.inputs.length / (size * size) });
      console.log(
        `${name}: ${e.examples} held-out puzzles, exact ${(100 * e.exact_acc).toFixed(1)}% (floor ${floor * 100}%)`,
      );
      expect(e.examples).toBeGreaterThanOrEqual(100);
      expect(e.exact_acc).toBeGreaterThanOrEqual(floor);
    }, 600_000);
});

const main = join(packageRoot, 'dist', 'cli', 'main.js');
function trm(args: string[]) {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('solve with breadth (k chains, the highest final q_halt)', () => {
  it('picks the chain with the highest final q_halt, shows its steps, counts valid chains; one chain is the plain solve', async () => {
    const model = loadModel(shippedModel('sudoku9').weights);
    const rows = readFileSync(shippedModel('sudoku9').testSet, 'utf8').trim().split('\n').slice(1);
    const { geo, puzzle } = parsePuzzle(rows[0].split(',')[1], model.config);
    const r = await solvePuzzle(model.config, model.weights, geo, puzzle, { nsup: 4, k: 6, seed: 3 });
    const { finalQ, chosen, k } = r.chains;
    expect(k).toBe(6);
    expect(finalQ).toHaveLength(6);
    expect(finalQ[chosen]).toBe(Math.max(...finalQ));
    expect(r.steps).toHaveLength(4);
    expect(r.steps[3].q_halt).toBe(finalQ[chosen]);
    expect(new Set(finalQ).size).toBeGreaterThan(1); // the chains differ
    // reproducible per seed; another seed, other chains
    expect((await solvePuzzle(model.config, model.weights, geo, puzzle, { nsup: 4, k: 6, seed: 3 })).chains).toEqual(
      r.chains,
    );
    expect(
      (await solvePuzzle(model.config, model.weights, geo, puzzle, { nsup: 4, k: 6, seed: 4 })).chains.finalQ,
    ).not.toEqual(finalQ);
    // more chains than one batch (SOLVE_BATCH = 64): the first batch is the k = 64 run, chains beyond it differ
    const big = await solvePuzzle(model.config, model.weights, geo, puzzle, { nsup: 2, k: 70, seed: 3 });
    const k64 = await solvePuzzle(model.config, model.weights, geo, puzzle, { nsup: 2, k: 64, seed: 3 });
    expect(big.chains.finalQ.slice(0, 64)).toEqual(k64.chains.finalQ);
    expect(big.chains.finalQ[big.chains.chosen]).toBe(Math.max(...big.chains.finalQ));
    expect(big.chains.finalQ.slice(64)).not.toEqual(k64.chains.finalQ.slice(0, 6));
    // k = 1 is the plain solve from the model's own init
    const plain = await solvePuzzle(model.config, model.weights, geo, puzzle, { nsup: 4 });
    expect(await solvePuzzle(model.config, model.weights, geo, puzzle, { nsup: 4, k: 1 })).toEqual(plain);
    expect(plain.chains).toEqual({
      k: 1,
      chosen: 0,
      valid: plain.problem === null ? 1 : 0,
      finalQ: [plain.steps[3].q_halt],
    });
  });
});

describe.runIf(existsSync(main))('trm solve / eval with the shipped models', () => {
  it('solve without --checkpoint uses the model for the puzzle size and says which', async () => {
    for (const [name, { size }] of Object.entries(FLOORS)) {
      // the first held-out puzzle the model solves (found in-process), then the CLI on it
      const m = shippedModel(name);
      const model = loadModel(m.weights);
      const rows = readFileSync(m.testSet, 'utf8').trim().split('\n').slice(1);
      let row: string[] | undefined;
      for (const r of rows) {
        const [, question] = r.split(',');
        const { geo, puzzle } = parsePuzzle(question, model.config);
        if ((await solvePuzzle(model.config, model.weights, geo, puzzle)).problem === null) {
          row = r.split(',');
          break;
        }
      }
      expect(row, `${name} solves one of its held-out puzzles`).toBeDefined();
      const [, question, answer] = row!;
      expect(question.length).toBe(size * size);
      const r = trm(['solve', question, '--json']);
      expect(r.err).toContain(`using the shipped model ${name} `);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.out) as { valid: boolean; steps: { answer: string }[] };
      expect(doc.valid).toBe(true);
      expect(doc.steps).toHaveLength(model.config.halt_max_steps);
      expect(doc.steps[doc.steps.length - 1].answer).toBe(answer);
    }
    // a puzzle of no supported size is a one-line error, as with --checkpoint
    const r = trm(['solve', '1234']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^trm: a puzzle has 16, 36 or 81 cells/);
  }, 600_000);

  it('eval --model NAME scores the shipped model on its held-out set; --model with --checkpoint is refused', () => {
    const r = trm(['eval', '--model', 'sudoku4', '--json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.out) as { checkpoint: string; exact_acc: number; examples: number };
    expect(doc.checkpoint).toBe(shippedModel('sudoku4').weights);
    expect(doc.exact_acc).toBeGreaterThanOrEqual(FLOORS.sudoku4.floor);
    // the same file and set named by hand: --data takes a Sudoku CSV as one test split
    const m = shippedModel('sudoku4');
    const same = trm(['eval', '--checkpoint', m.weights, '--data', m.testSet, '--json']);
    expect(same.code).toBe(0);
    expect((JSON.parse(same.out) as { exact_acc: number }).exact_acc).toBe(doc.exact_acc);
    const bad = trm(['eval', '--model', 'sudoku4', '--checkpoint', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^trm: eval: give --model or --checkpoint, not both/);
    const unknown = trm(['eval', '--model', 'sudoku5']);
    expect(unknown.code).toBe(2);
    expect(unknown.err).toMatch(/unknown model 'sudoku5'/);
  }, 600_000);
});
