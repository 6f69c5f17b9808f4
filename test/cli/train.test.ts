/**
 * `trm train`, `trm eval`, `trm solve` as a user meets them: a tiny run end to end (files,
 * metrics.jsonl, resume, eval --json, solve --json), Ctrl-C saving a checkpoint, and one spawn per
 * class of bad input (exit 2 for usage, 1 for known errors, one line `trm: ...`).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/kernels/index.js';
import { makeSudoku4, type Sudoku4 } from '../train/fixture.js';
import { trm as spawnTrm } from '../reliability/helpers.js';

const main = join(packageRoot, 'dist', 'cli', 'main.js');
const root = mkdtempSync(join(tmpdir(), 'trm-cli-train-'));
const tiny = [
  '--set',
  'hidden_size=16',
  '--set',
  'puzzle_emb_ndim=16',
  '--set',
  'batch_size=4',
  '--set',
  'eval_limit=8',
  '--set',
  'eval_batch_size=8',
  '--set',
  'log_interval=2',
];

/** trm run in `root` (the shared asynchronous spawn of the reliability tests) */
const trm = (args: string[]) => spawnTrm(args, { cwd: root });
function oneLineError(r: { code: number | null; err: string }, code: number, re: RegExp) {
  expect(r.err.trim().split('\n')).toHaveLength(1);
  expect(r.err).toMatch(/^trm: /);
  expect(r.err).toMatch(re);
  expect(r.code).toBe(code);
}

let d: Sudoku4;
beforeAll(async () => {
  d = await makeSudoku4(20, 6, 1, root);
});

describe.runIf(existsSync(main))('trm train / eval / solve', () => {
  it('trains, writes config, metrics and checkpoints, resumes, evaluates and solves', async () => {
    const run = join(root, 'run');
    let r = await trm([
      'train',
      '--data',
      d.dir,
      '--preset',
      'cpu-sudoku4',
      ...tiny,
      '--set',
      'steps=4',
      '--set',
      'eval_interval=2',
      '--out',
      run,
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/eval @ 4: exact/);
    expect(readdirSync(join(run, 'checkpoints'))).toEqual(['step_0000002', 'step_0000004']);
    const lines = readFileSync(join(run, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map(l => JSON.parse(l));
    expect(lines.map(l => `${l.type}@${l.step}`)).toEqual(['train@2', 'eval@2', 'train@4', 'eval@4']);
    for (const k of [
      'lm_loss',
      'q_halt_loss',
      'token_acc',
      'exact_acc',
      'q_halt_acc',
      'q_halt_precision',
      'q_halt_recall',
      'mean_steps',
      'lr',
      'step_time',
    ])
      expect(typeof lines[0][k], k).toBe('number');
    expect(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).model.hidden_size).toBe(16);

    r = await trm(['train', '--data', d.dir, '--preset', 'cpu-sudoku4', ...tiny, '--out', run]);
    oneLineError(r, 1, /already holds a run; continue it with --resume/);
    r = await trm(['train', '--data', d.dir, '--resume', join(run, 'checkpoints', 'step_0000002'), '--set', 'steps=6']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/resuming at step 2/);
    const steps = readFileSync(join(run, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map(l => JSON.parse(l).step);
    expect(steps).toEqual([2, 2, 4, 4, 6, 6]); // the first run's step-4 lines were replaced, not repeated
    expect(readFileSync(join(run, 'latest'), 'utf8').trim()).toBe('step_0000006');
    oneLineError(
      await trm(['train', '--data', d.dir, '--resume', run, '--set', 'hidden_size=32']),
      1,
      /cannot resume with hidden_size = 32/,
    );

    r = await trm(['eval', '--checkpoint', run, '--data', d.dir, '--json', '--nsup', '2']);
    expect(r.code, r.err).toBe(0);
    const e = JSON.parse(r.out);
    expect(e.examples).toBe(6);
    expect(e.nsup).toBe(2);
    expect(e.exact_by_step).toHaveLength(2);
    expect(e.step).toBe(6);

    const puzzle = readFileSync(join(root, 'test.csv'), 'utf8').split('\n')[1].split(',')[1];
    r = await trm(['solve', '--checkpoint', run, puzzle, '--json']);
    expect([0, 1]).toContain(r.code);
    const s = JSON.parse(r.out);
    expect(s.steps).toHaveLength(4);
    expect(typeof s.steps[0].q_halt).toBe('number');
    expect(typeof s.steps[0].q_continue).toBe('number');
    expect(s.steps[0].answer).toHaveLength(16);
    // breadth: k chains from random inits, the one with the highest final q_halt shown
    r = await trm(['solve', '--checkpoint', run, puzzle, '--k', '5', '--seed', '2', '--json']);
    expect([0, 1]).toContain(r.code);
    const b = JSON.parse(r.out);
    expect(b.k).toBe(5);
    expect(b.chain).toBeGreaterThanOrEqual(0);
    expect(b.chain).toBeLessThan(5);
    expect(b.valid_chains).toBeGreaterThanOrEqual(b.valid ? 1 : 0);
    expect(b.steps).toHaveLength(4);
    r = await trm(['solve', '--checkpoint', run, puzzle, '--k', '5', '--seed', '2']);
    expect(r.out).toMatch(
      new RegExp(`breadth: 5 chains from random inits; shown: chain ${b.chain + 1} \\(highest final q_halt\\)`),
    );
    oneLineError(
      await trm(['solve', '--checkpoint', run, puzzle, '--k', '0']),
      2,
      /--k: expected an integer in \[1, 1024\]/,
    );
    r = await trm(['solve', '--checkpoint', run, puzzle.replace(/\./g, '0')]);
    expect(r.out).toMatch(/step 1: q_halt/);
    expect(r.out).toMatch(/answer: /);

    oneLineError(await trm(['solve', '--checkpoint', run, '1234']), 1, /16, 36 or 81 cells/);
    oneLineError(await trm(['solve', '--checkpoint', run, '.'.repeat(81)]), 1, /trained on 16-cell puzzles/);
    oneLineError(await trm(['solve', '--checkpoint', run, 'x' + '.'.repeat(15)]), 1, /bad character 'x' at r1c1/);
    oneLineError(await trm(['eval', '--checkpoint', join(root, 'nope'), '--data', d.dir]), 1, /no such checkpoint/);

    // the experiments: the N_sup x k grid and path independence, as files
    const out = join(root, 'eval-out');
    r = await trm([
      'eval',
      '--checkpoint',
      run,
      '--data',
      d.dir,
      '--nsup',
      '1,3',
      '--k',
      '1,2',
      '--init',
      'random',
      '--aas',
      '--batch',
      '4',
      '--out',
      out,
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/\| aggregator \| k \| compute \| N=1 \| N=3 \|/);
    expect(r.out).toMatch(/AAS y [0-9.]+ +AAS z [0-9.]+/);
    const grid = JSON.parse(readFileSync(join(out, 'scaling.json'), 'utf8'));
    expect(grid).toMatchObject({ type: 'scaling', init: 'random', nsup: [1, 3], k: [1, 2], examples: 6, step: 6 });
    expect(grid.rows.filter((x: { aggregator: string }) => x.aggregator === 'puzzle-vote')).toHaveLength(4);
    expect(readFileSync(join(out, 'scaling.csv'), 'utf8').split('\n')[0]).toBe(
      'aggregator,k,noise,nsup,compute,exact_acc,token_acc',
    );
    expect(existsSync(join(out, 'scaling-compute.svg'))).toBe(true);
    const aas = JSON.parse(readFileSync(join(out, 'aas.json'), 'utf8'));
    expect(aas).toMatchObject({ type: 'aas', nsup: 3, examples: 6, all_pairs: null });
    expect(aas.curve).toHaveLength(3);
    oneLineError(
      await trm(['eval', '--checkpoint', run, '--data', d.dir, '--k', '0']),
      2,
      /--k: expected integers in \[1, 1024\]/,
    );
    oneLineError(
      await trm(['eval', '--checkpoint', run, '--data', d.dir, '--aggregate', 'mean']),
      2,
      /unknown aggregator 'mean'/,
    );
    // breadth: PTRM noise as a grid axis with the step-history selectors
    const noisy = join(root, 'eval-noise');
    r = await trm([
      'eval',
      '--checkpoint',
      run,
      '--data',
      d.dir,
      '--nsup',
      '2,4',
      '--k',
      '1,3',
      '--noise',
      '0,0.3',
      '--noise-on',
      'both',
      '--aggregate',
      'convergence,first-halt,best-q-any',
      '--out',
      noisy,
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/\| aggregator \| k \| noise \| compute \| N=2 \| N=4 \|/);
    expect(r.out).toMatch(/\| best-q-any \| 3 \| 0\.3 \| 3 × N \|/);
    expect(r.out).toMatch(/ 144 row-steps computed/);
    const ng = JSON.parse(readFileSync(join(noisy, 'scaling.json'), 'utf8'));
    expect(ng).toMatchObject({ noise: [0, 0.3], noise_on: 'both', row_steps: 6 * 3 * 2 * 4 });
    expect(ng.rows).toHaveLength(2 * 3 * 2 * 2);
    oneLineError(
      await trm(['eval', '--checkpoint', run, '--data', d.dir, '--noise', '-0.1']),
      2,
      /--noise: expected non-negative numbers/,
    );
    oneLineError(await trm(['eval', '--checkpoint', run, '--data', d.dir, '--noise', '0.1,x']), 2, /got 'x'/);
    oneLineError(
      await trm(['eval', '--checkpoint', run, '--data', d.dir, '--noise-on', 'h']),
      2,
      /--noise-on: expected one of z, y, both, got 'h'/,
    );
    oneLineError(
      await trm(['eval', '--checkpoint', run, '--data', d.dir, '--init', 'zeros']),
      2,
      /init mode must be one of static, random/,
    );
  });

  it('trains with randomised recursion from flags and reports the expected compute', async () => {
    const run = join(root, 'rand');
    const r = await trm([
      'train',
      '--data',
      d.dir,
      '--preset',
      'cpu-sudoku4',
      ...tiny,
      '--set',
      'steps=2',
      '--rand-n',
      '1',
      '--rand-nsup',
      '2',
      '--init',
      'mixed',
      '--out',
      run,
    ]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/recursion: [0-9.]+ net calls per sample per step/);
    const cfg = JSON.parse(readFileSync(join(run, 'config.json'), 'utf8'));
    expect(cfg.train).toMatchObject({ rand_n_width: 1, rand_nsup_width: 2, train_init: 'mixed' });
    expect(cfg.expected_compute.net_calls).toBeCloseTo(2 * 3, 10); // T 2, n on {1,2,3}: E[T (n + 1)] = 6
    oneLineError(
      await trm(['train', '--data', d.dir, '--preset', 'cpu-sudoku4', '--rand-T', 'two', '--out', join(root, 'x')]),
      1,
      /rand_T_width must be an integer >= 0/,
    );
  });

  it('Ctrl-C saves a checkpoint and exits 130', async () => {
    const run = join(root, 'sigint');
    const child = spawn(
      process.execPath,
      [main, 'train', '--data', d.dir, '--preset', 'cpu-sudoku4', ...tiny, '--set', 'steps=100000', '--out', run],
      { cwd: root },
    );
    let out = '',
      err = '';
    child.stdout.on('data', b => {
      out += b;
      if (/step 2:/.test(out) && !child.killed) child.kill('SIGINT');
    });
    child.stderr.on('data', b => {
      err += b;
    });
    const code = await new Promise<number | null>(res => child.on('close', c => res(c)));
    expect(code, err).toBe(130);
    expect(err).toMatch(/stopped at step \d+; checkpoint .*step_\d+; continue with: trm train/);
    const step = Number(/stopped at step (\d+)/.exec(err)![1]);
    expect(readFileSync(join(run, 'latest'), 'utf8').trim()).toBe(`step_${String(step).padStart(7, '0')}`);
  });

  it('a NaN loss stops with one line naming the step and the last good checkpoint, which stays', async () => {
    const run = join(root, 'nan');
    const r = await trm([
      'train',
      '--data',
      d.dir,
      '--preset',
      'cpu-sudoku4',
      ...tiny,
      '--set',
      'lr=1e30',
      '--set',
      'lr_warmup_steps=0',
      '--set',
      'checkpoint_interval=1',
      '--set',
      'steps=10',
      '--out',
      run,
    ]);
    oneLineError(r, 1, /^trm: step 2: loss is NaN .* Last good checkpoint: .*step_0000001/);
    expect(readFileSync(join(run, 'latest'), 'utf8').trim()).toBe('step_0000001');
  });

  it('bad input: one line, the right exit code', async () => {
    oneLineError(await trm(['train', '--preset', 'cpu-sudoku4']), 2, /--data DIR is required/);
    oneLineError(await trm(['train', '--data', d.dir]), 2, /--preset is required/);
    oneLineError(
      await trm(['train', '--data', d.dir, '--preset', 'nosuch']),
      1,
      /unknown preset 'nosuch' \(presets: paper-sudoku-mlp/,
    );
    oneLineError(
      await trm(['train', '--data', d.dir, '--preset', 'cpu-sudoku4', '--set', 'bogus=1']),
      1,
      /unknown key 'bogus'/,
    );
    oneLineError(
      await trm(['train', '--data', d.dir, '--preset', 'cpu-sudoku4', '--set', 'lr']),
      1,
      /--set expects key=value/,
    );
    oneLineError(
      await trm(['train', '--data', d.dir, '--preset', 'cpu-sudoku4', '--set', 'ema_rate=2']),
      1,
      /ema_rate must be in \[0, 1\]/,
    );
    oneLineError(
      await trm(['train', '--data', d.dir, '--preset', 'cpu-sudoku4', '--set', 'seq_len=81']),
      1,
      /seq_len = 81 was set, but the dataset has seq_len = 16/,
    );
    oneLineError(await trm(['train', '--data', join(root, 'missing'), '--preset', 'cpu-sudoku4']), 1, /dataset\.json/);
    oneLineError(
      await trm(['train', '--data', d.dir, '--preset', 'cpu-sudoku4', '--set', 'batch_size=10000000']),
      1,
      /batch_size 10000000 needs about .* GiB of activations .*use e\.g\. --set batch_size=\d+/,
    );
    oneLineError(await trm(['train', '--data', d.dir, '--resume', join(root, 'missing')]), 1, /no such checkpoint/);
    oneLineError(await trm(['eval', '--data', d.dir]), 2, /--checkpoint and --data are required/);
    oneLineError(await trm(['solve', '--checkpoint', 'x']), 2, /expected one PUZZLE argument/);
  });
});
