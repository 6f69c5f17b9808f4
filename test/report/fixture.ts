/**
 * fixture.ts: fake run directories on disk, shaped exactly as `trm train` and `trm eval --out RUN/eval`
 * write them (config.json, metrics.jsonl, latest + checkpoints/step_N/checkpoint.json,
 * eval/scaling.json, eval/aas.json), so planning, results and reports are tested without training.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHECKPOINT_FORMAT } from '../../src/train/checkpoint.js';

export interface FakeRun {
  seed: number;
  /** latest checkpoint step (none when undefined) and configured total */
  step?: number;
  total: number;
  /** eval exact_acc at steps 1..len * 10 */
  exact: number[];
  scaling?: {
    step: number;
    nsup: number[];
    k: number[];
    aggregators: string[];
    acc: (agg: string, k: number, nsup: number, noise: number) => number;
    /** noise stds: rows carry noise and compute as `trm eval` writes them now (absent: the older rows without) */
    noise?: number[];
  };
  aas?: { step: number; aas_y: number; aas_z: number; pred_match: number; exact_acc: number };
}

export function writeFakeRun(dir: string, r: FakeRun): string {
  mkdirSync(join(dir, 'eval'), { recursive: true });
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({
      data: '/data',
      preset: 'cpu-sudoku4',
      train: { seed: r.seed, steps: r.total },
      total_steps: r.total,
    }),
  );
  const lines = r.exact.flatMap((e, i) => [
    {
      type: 'train',
      step: 10 * (i + 1),
      lm_loss: 2 / (i + 1),
      q_halt_loss: 0.1,
      token_acc: 0.5,
      exact_acc: e,
      lr: 1e-3,
      step_time: 0.5,
      time: '',
    },
    {
      type: 'eval',
      step: 10 * (i + 1),
      exact_acc: e,
      token_acc: 0.5 + e / 2,
      exact_by_step: [e],
      exact_acc_halting: e,
      mean_halt_steps: 2,
      time: '',
    },
  ]);
  writeFileSync(join(dir, 'metrics.jsonl'), lines.map(l => JSON.stringify(l) + '\n').join(''));
  if (r.step !== undefined) {
    const name = `step_${String(r.step).padStart(7, '0')}`;
    mkdirSync(join(dir, 'checkpoints', name), { recursive: true });
    writeFileSync(
      join(dir, 'checkpoints', name, 'checkpoint.json'),
      JSON.stringify({ format: CHECKPOINT_FORMAT, step: r.step, total_steps: r.total }),
    );
    writeFileSync(join(dir, 'latest'), name + '\n');
  }
  if (r.scaling) {
    const s = r.scaling,
      rows = [];
    for (const noise of s.noise ?? [0])
      for (const agg of s.aggregators)
        for (const k of agg === 'single' ? [1] : s.k)
          for (const nsup of s.nsup)
            rows.push({
              aggregator: agg,
              k,
              nsup,
              exact_acc: s.acc(agg, k, nsup, noise),
              token_acc: 0.9,
              ...(s.noise ? { noise, compute: k * nsup } : {}),
            });
    writeFileSync(
      join(dir, 'eval', 'scaling.json'),
      JSON.stringify({
        type: 'scaling',
        checkpoint: dir,
        step: s.step,
        data: '/data',
        split: 'test',
        examples: 100,
        init: 'random',
        seed: r.seed,
        nsup: s.nsup,
        k: s.k,
        aggregators: s.aggregators,
        ...(s.noise ? { noise: s.noise, noise_on: 'z' } : {}),
        rows,
      }),
    );
  }
  if (r.aas)
    writeFileSync(
      join(dir, 'eval', 'aas.json'),
      JSON.stringify({
        type: 'aas',
        checkpoint: dir,
        examples: 100,
        nsup: 4,
        init: 'random',
        ...r.aas,
        curve: [{ step: 1, pred_match: 0.5, aas_y: 0.1, aas_z: 0.2 }],
        all_pairs: null,
      }),
    );
  return dir;
}
