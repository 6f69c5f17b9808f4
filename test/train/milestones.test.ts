/**
 * Milestone supervision in training (src/train/milestones.ts): the schedule, the label selection,
 * the trainer using each slot's milestone at each of its steps (and the solution for the halting
 * target), exact resume, the errors for data without milestones, and a short 4x4 run that learns.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readDatasetSplit, type DatasetSplit } from '../../src/data/dataset.js';
import { buildSudokuDataset } from '../../src/data/sudoku/build.js';
import { csvHeader, formatCsvRow } from '../../src/data/sudoku/csv.js';
import { generateSudoku } from '../../src/data/sudoku/generate-file.js';
import { readSplitMilestones } from '../../src/data/sudoku/milestones-files.js';
import { train as trainApi } from '../../src/index.js';
import { readSync } from '../../src/kernels/core.js';
import { IGNORE_LABEL } from '../../src/model/step.js';
import { loadTrainState, saveCheckpoint } from '../../src/train/checkpoint.js';
import { resolveTrainConfig, type TrainConfig } from '../../src/train/config.js';
import { createWorkspace, train, trainStep } from '../../src/train/loop.js';
import { milestoneIndex, milestoneLabels, slotMilestones } from '../../src/train/milestones.js';
import { createTrainState } from '../../src/train/state.js';
import { trm } from '../data/helpers.js';

const root = mkdtempSync(join(tmpdir(), 'trm-milestones-'));
let dir: string, split: DatasetSplit;

async function csv(path: string, count: number, seed: number) {
  const { puzzles } = await generateSudoku({
    size: 4,
    count,
    seed,
    minRating: 0,
    maxRating: Infinity,
    perChain: 1,
    maxSteps: 2000,
    threads: 1,
  });
  writeFileSync(
    path,
    `${[csvHeader(), ...puzzles.map((p, i) => formatCsvRow(`p${i}`, p.question, p.answer, p.rating))].join('\n')}\n`,
  );
}

beforeAll(async () => {
  await csv(join(root, 'train.csv'), 400, 11);
  await csv(join(root, 'test.csv'), 200, 12);
  dir = join(root, 'data');
  await buildSudokuDataset({
    train: join(root, 'train.csv'),
    test: join(root, 'test.csv'),
    out: dir,
    seed: 0,
    aug: 20,
    milestones: 'sudoku-logic',
  });
  split = await readDatasetSplit(join(dir, 'train'));
  split.milestones = await readSplitMilestones(join(dir, 'train'), split, 'sudoku-logic');
});

const tiny = (over: Partial<TrainConfig> = {}) =>
  resolveTrainConfig('cpu-sudoku4', {
    model: { hidden_size: 16, puzzle_emb_ndim: 16 },
    batch_size: 8,
    steps: 12,
    log_interval: 4,
    eval_interval: 0,
    milestones: 'sudoku-logic',
    ...over,
  });

describe('milestone schedule and labels', () => {
  it("step s targets min(s, last) ('step') or ceil(s last / N_sup) ('spread'); the slot's last step the solution", () => {
    const step = (s: number, last: number, nsup: number) => milestoneIndex(s, last, nsup, 'step');
    const spread = (s: number, last: number, nsup: number) => milestoneIndex(s, last, nsup, 'spread');
    expect([1, 2, 3, 4].map(s => step(s, 3, 4))).toEqual([1, 2, 3, 3]);
    expect([1, 2, 3, 4].map(s => step(s, 2, 4))).toEqual([1, 2, 2, 2]);
    expect([1, 2, 3, 4, 5, 6].map(s => step(s, 12, 6))).toEqual([1, 2, 3, 4, 5, 12]);
    expect([1, 2, 3, 4, 5, 6].map(s => spread(s, 12, 6))).toEqual([2, 4, 6, 8, 10, 12]);
    expect([1, 2, 3, 4].map(s => spread(s, 2, 4))).toEqual([1, 1, 2, 2]);
    expect(step(7, 12, 6)).toBe(12); // past N_sup (exploration never runs past the cap, but a cap may)
  });

  it('labels: the solution where the milestone has filled the cell, ignored elsewhere, per slot', () => {
    // two slots of 4 cells; slot 0 at its 1st step (steps 0), slot 1 at its 2nd (steps 1)
    const labels = Int32Array.from([2, 3, 4, 5, 5, 4, 3, 2]);
    const rounds = Uint8Array.from([0, 1, 2, 3, 0, 2, 1, 2]);
    const out = new Int32Array(8);
    milestoneLabels(out, labels, rounds, Int32Array.from([0, 1]), new Int32Array(2), 4, 'step');
    const I = IGNORE_LABEL;
    expect(Array.from(out)).toEqual([2, 3, I, I, 5, 4, 3, 2]);
    // slot 0 with its own cap 2 at step 2: the solution
    milestoneLabels(out, labels, rounds, Int32Array.from([1, 0]), Int32Array.from([2, 0]), 4, 'step');
    expect(Array.from(out)).toEqual([2, 3, 4, 5, 5, I, 3, I]);
  });
});

describe('training with milestones', () => {
  it("each step trains every slot towards its sample's milestone; halting and exact accuracy use the solution", async () => {
    const st = createTrainState(tiny(), split.meta);
    const ws = createWorkspace(st, split);
    const L = split.meta.seq_len,
      B = 8;
    let ignored = 0,
      full = 0;
    for (let t = 0; t < 12; t++) {
      const r = await trainStep(st, ws);
      const c = st.carry,
        dev = c.dev;
      // the slots' milestone indices are those of the samples they hold
      expect(Array.from(c.rounds)).toEqual(
        Array.from(slotMilestones(c.batch.inputs, c.batch.labels, L, new Uint8Array(B * L))),
      );
      const used = readSync(dev.labels),
        fin = readSync(dev.finalLabels!);
      expect(Array.from(fin)).toEqual(Array.from(c.batch.labels));
      for (let b = 0; b < B; b++) {
        const rows = c.rounds.subarray(b * L, (b + 1) * L),
          last = Math.max(...rows);
        // c.steps[b] is now the step just taken (1-based); a slot refilled next step is still this one
        const k = milestoneIndex(c.steps[b], last, st.model.halt_max_steps, 'step');
        let valid = 0;
        for (let i = 0; i < L; i++) {
          expect(used[b * L + i]).toBe(rows[i] <= k ? c.batch.labels[b * L + i] : IGNORE_LABEL);
          if (rows[i] <= k) valid++;
        }
        expect(r.counts[2 * b]).toBe(valid); // the CE averages over the milestone's cells
        if (k < last) ignored++;
        else full++;
        // the halting target: right against the solution, not the milestone
        let right = 1;
        const preds = readSync(ws.acts.preds);
        for (let i = 0; i < L; i++) if (preds[b * L + i] !== c.batch.labels[b * L + i]) right = 0;
        expect(r.seqCorrect[b]).toBe(right);
      }
    }
    expect(ignored).toBeGreaterThan(0); // some steps were trained on a partial milestone
    expect(full).toBeGreaterThan(0);
  });

  it('resumes exactly with milestones (the slots keep their milestone indices)', async () => {
    const cfg = tiny({ steps: 10 });
    const losses = async (st: ReturnType<typeof createTrainState>, stopAt?: number) => {
      const out: number[] = [];
      let stop = false;
      await train(st, createWorkspace(st, split), {
        onStep: (s, r) => {
          out.push(r.loss);
          if (s.step === stopAt) stop = true;
        },
        stopRequested: () => stop,
      });
      return out;
    };
    const full = createTrainState(cfg, split.meta);
    const a = await losses(full);
    const part = createTrainState(cfg, split.meta);
    const b = await losses(part, 5);
    saveCheckpoint(join(root, 'resume'), part);
    const { state } = loadTrainState(join(root, 'resume'));
    expect(Array.from(state.carry.rounds)).toEqual(Array.from(part.carry.rounds));
    b.push(...(await losses(state)));
    expect(b).toEqual(a);
    expect(readSync(state.params.data)).toEqual(readSync(full.params.data));
  });

  it('data without milestones is an error naming the file and how to build it', async () => {
    const bare = join(root, 'bare');
    await buildSudokuDataset({
      train: join(root, 'train.csv'),
      test: join(root, 'test.csv'),
      out: bare,
      seed: 0,
      aug: 0,
    });
    await expect(
      trainApi.run(
        { preset: 'cpu-sudoku4', sets: ['milestones=sudoku-logic', 'steps=2'], out: join(root, 'r-bare') },
        bare,
      ),
    ).rejects.toThrow(/bare\/train\/all__milestones.npy.*--milestones sudoku-logic/);
    // the CLI: one line naming the file, exit 1, no run directory left
    const cli = trm([
      'train',
      '--data',
      bare,
      '--preset',
      'cpu-sudoku4',
      '--milestones',
      'sudoku-logic',
      '--out',
      join(root, 'r-cli'),
    ]);
    expect(cli.code).toBe(1);
    expect(cli.stderr.trim().split('\n')).toHaveLength(1);
    expect(cli.stderr).toMatch(/^trm: .*bare\/train\/all__milestones.npy.*--milestones sudoku-logic/);
    expect(existsSync(join(root, 'r-cli'))).toBe(false);
    const plain = await readDatasetSplit(join(bare, 'train'));
    expect(() => createWorkspace(createTrainState(tiny(), plain.meta), plain)).toThrow(/milestones are not loaded/);
  });

  it('a short 4x4 run with --milestones sudoku-logic learns (train.run on the built directory)', async () => {
    const r = await trainApi.run(
      {
        preset: 'cpu-sudoku4',
        sets: ['milestones=sudoku-logic', 'steps=200', 'eval_interval=0', 'eval_limit=200'],
        out: join(root, 'learn'),
      },
      dir,
    );
    console.log(
      `milestones 4x4: 200 steps, held-out exact ${r.lastEval?.exact_acc}, by step ${r.lastEval?.exact_by_step.map(v => v.toFixed(2))}`,
    );
    expect(r.lastEval!.exact_acc).toBeGreaterThanOrEqual(0.5);
  }, 600_000);
});
