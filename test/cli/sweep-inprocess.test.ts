/**
 * `trm sweep` one run at a time trains in its own process through train.run: the same results as
 * `--parallel 2` (trm train children), `trm train`'s lines in RUN/train.log, a failed run named
 * with its message, and Ctrl-C saving the running trainer's checkpoint.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { cliEntry } from '../../src/report/sweep.js';
import { makeSudoku4, type Sudoku4 } from '../train/fixture.js';

const root = mkdtempSync(join(tmpdir(), 'trm-sweep-inproc-'));
const trm = (args: string[], cwd: string) => {
  const r = spawnSync(process.execPath, [cliEntry, ...args], {
    encoding: 'utf8',
    cwd,
    timeout: 60_000,
    env: { ...process.env, TRM_THREADS: '2' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const common =
  'set: { steps: 4, hidden_size: 16, puzzle_emb_ndim: 16, batch_size: 4, eval_limit: 8, eval_batch_size: 8, log_interval: 2, eval_interval: 2 }';
const strip = (f: string) =>
  readFileSync(f, 'utf8')
    .trim()
    .split('\n')
    .map(l => {
      const r = JSON.parse(l);
      delete r.time;
      delete r.step_time;
      delete r.seconds;
      return r;
    });

let d: Sudoku4;
beforeAll(async () => {
  d = await makeSudoku4(20, 6, 1, root);
});

describe.runIf(existsSync(cliEntry))('trm sweep --parallel 1: training in-process', () => {
  it('gives the results of trm train children, with trm train lines in train.log', () => {
    for (const [name, parallel] of [
      ['one', '1'],
      ['two', '2'],
    ]) {
      writeFileSync(
        join(root, `${name}.yaml`),
        [`data: ${d.dir}`, 'preset: cpu-sudoku4', `out: ${name}`, 'seeds: [1, 2]', common, ''].join('\n'),
      );
      const r = trm(['sweep', `${name}.yaml`, '--parallel', parallel], root);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain('done default/seed-2');
    }
    for (const s of [1, 2]) {
      const a = join(root, 'one', 'default', `seed-${s}`),
        b = join(root, 'two', 'default', `seed-${s}`);
      expect(strip(join(a, 'metrics.jsonl'))).toEqual(strip(join(b, 'metrics.jsonl')));
      const model = (run: string) => readFileSync(join(run, 'checkpoints', 'step_0000004', 'model.safetensors'));
      expect(Buffer.compare(model(a), model(b))).toBe(0);
      const log = readFileSync(join(a, 'train.log'), 'utf8');
      expect(log).toMatch(/^# \S+ trm train --data .* --out .*seed-\d \(in the sweep's process\)\n/);
      expect(log).toMatch(/\ntrm train: preset cpu-sudoku4, [\d,]+ parameters, batch 4, 4 steps/);
      expect(log).toMatch(/\nstep 2: loss [\d.]+, token/);
      expect(log).toMatch(/\neval @ 4: exact/);
      expect(log).toMatch(/\ntrained 4 steps in /);
    }
  }, 60_000);

  it('a failed run stops the sweep, naming the run, the message and the log', () => {
    writeFileSync(
      join(root, 'nan.yaml'),
      [
        `data: ${d.dir}`,
        'preset: cpu-sudoku4',
        'out: nan',
        'seeds: [1, 2]',
        common,
        'variants: [{ name: nan, set: { lr: 1e30, lr_warmup_steps: 0 } }]',
        '',
      ].join('\n'),
    );
    const r = trm(['sweep', 'nan.yaml'], root);
    expect(r.code).toBe(1);
    expect(r.err).toContain('FAILED nan/seed-1: trm train failed: step 2: loss is NaN');
    expect(r.err).toMatch(
      /^trm: run nan\/seed-1: trm train failed: step 2: loss is NaN .*; see .*nan\/nan\/seed-1\/train\.log$/m,
    );
    expect(readFileSync(join(root, 'nan', 'nan', 'seed-1', 'train.log'), 'utf8')).toMatch(/\ntrm: step 2: loss is NaN/);
    expect(existsSync(join(root, 'nan', 'nan', 'seed-2'))).toBe(false); // never started
  });

  it('Ctrl-C stops the in-process trainer with a checkpoint; the next sweep resumes it', async () => {
    const dir = join(root, 'stop');
    cpSync(d.dir, join(dir, 'data'), { recursive: true });
    writeFileSync(
      join(dir, 'spec.yaml'),
      [
        'data: data',
        'preset: cpu-sudoku4',
        'out: study',
        'seeds: [1]',
        common.replace('steps: 4', 'steps: 100000'),
        '',
      ].join('\n'),
    );
    const p = spawn(process.execPath, [cliEntry, 'sweep', 'spec.yaml'], {
      cwd: dir,
      env: { ...process.env, TRM_THREADS: '1' },
    });
    let err = '';
    p.stderr.on('data', b => {
      err += b;
    });
    const log = join(dir, 'study', 'default', 'seed-1', 'train.log');
    await new Promise<void>(res => {
      const t = setInterval(() => {
        if (existsSync(log) && /step 4:/.test(readFileSync(log, 'utf8'))) {
          clearInterval(t);
          res();
        }
      }, 20);
    });
    p.kill('SIGINT');
    const code = await new Promise<number | null>(res => p.on('close', c => res(c)));
    expect(code, err).toBe(130);
    expect(err).toMatch(/trm: Ctrl-C \(SIGINT\): stopping: running trainers save a checkpoint/);
    expect(readFileSync(log, 'utf8')).toMatch(/trm: stopped at step \d+; checkpoint /);
    expect(existsSync(join(dir, 'study', 'default', 'seed-1', 'latest'))).toBe(true);
    const r = trm(['sweep', 'spec.yaml', '--dry-run'], dir);
    expect(r.out).toMatch(/1 to resume/);
  }, 60_000);
});
