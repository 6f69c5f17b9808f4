/**
 * Fault injection for `trm train` (issue 13): kill -9 at random moments and at named points
 * inside checkpoint saves and metrics appends (TRM_FAULT=NAME@N, src/io/files.ts failpoint),
 * resume (or start again when no checkpoint exists yet), and compare with an uninterrupted run:
 * metrics.jsonl without its timing fields, and the final checkpoint's files, byte for byte.
 * The kill plan comes from a fixed seed; a timed kill waits a random fraction of the uninterrupted
 * run's time (scaled by the steps left), so where it lands varies with the machine, and every
 * landing must give the same result.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/kernels/index.js';
import { rng } from '../helpers.js';
import { makeSudoku4 } from '../train/fixture.js';

const main = join(packageRoot, 'dist', 'cli', 'main.js');
const conf = [
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
  '--set',
  'steps=60',
  '--set',
  'checkpoint_interval=3',
  '--set',
  'eval_interval=6',
  '--set',
  'seed=5',
];

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  err: string;
}

/** One `trm train` process; with `killAfterMs` it gets SIGKILL after that long (if still running). */
function trainOnce(args: string[], env: NodeJS.ProcessEnv, killAfterMs?: number): Promise<Exit> {
  return new Promise(res => {
    const p = spawn(process.execPath, [main, 'train', ...args], {
      env: { ...process.env, TRM_THREADS: '1', ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    p.stderr.on('data', b => {
      err += b;
    });
    const t = killAfterMs !== undefined ? setTimeout(() => p.kill('SIGKILL'), killAfterMs) : undefined;
    p.on('close', (code, signal) => {
      clearTimeout(t);
      res({ code, signal, err });
    });
  });
}

const metrics = (run: string) =>
  readFileSync(join(run, 'metrics.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map(l => {
      const r = JSON.parse(l) as Record<string, unknown>;
      delete r.time;
      delete r.step_time;
      delete r.seconds; // wall-clock fields
      return JSON.stringify(r);
    });
const lastCheckpoint = (run: string) => join(run, 'checkpoints', readFileSync(join(run, 'latest'), 'utf8').trim());

describe.runIf(existsSync(main))('kill -9 at random moments, resume, compare', () => {
  it('metrics and final weights equal an uninterrupted run; no temporary file or lock is left', async () => {
    const root = mkdtempSync(join(tmpdir(), 'trm-faults-'));
    const d = await makeSudoku4(20, 6, 1, root);
    const ref = join(root, 'ref'),
      run = join(root, 'faulty');
    const t0 = Date.now();
    const r0 = await trainOnce(['--data', d.dir, '--preset', 'cpu-sudoku4', ...conf, '--out', ref], {});
    const refMs = Date.now() - t0; // start-up and 60 steps on this machine, now
    expect(r0.code, r0.err).toBe(0);

    const random = rng(20261130);
    const points = ['append', 'checkpoint:model', 'checkpoint:renamed', 'checkpoint:files', 'run:saved'];
    const killed: string[] = [];
    let done = false;
    // a kill that lands after the final checkpoint (while the process exits) leaves a complete run
    const complete = () =>
      existsSync(join(run, 'latest')) && readFileSync(join(run, 'latest'), 'utf8').trim() === 'step_0000060';
    for (let round = 0; round < 14 && !done; round++) {
      if (complete()) {
        done = true;
        break;
      }
      const args = existsSync(join(run, 'latest'))
        ? ['--data', d.dir, '--resume', run]
        : ['--data', d.dir, '--preset', 'cpu-sudoku4', ...conf, '--out', run];
      // even rounds: each named point in turn (inside a save, after one, a torn append), the 1st or 2nd time it is reached; odd rounds: a random moment
      const fault =
        round % 2 === 0 ? `${points[(round / 2) % points.length]}@${1 + Math.floor(random() * 2)}` : undefined;
      // a random moment within what is left of the run: a fraction of the uninterrupted run's time,
      // scaled by the steps still to go, so the kill lands before the end on a slow or a fast machine
      const left = existsSync(join(run, 'latest'))
        ? (60 - Number(/step_(\d+)/.exec(readFileSync(join(run, 'latest'), 'utf8'))?.[1] ?? 0)) / 60
        : 1;
      const delay = round % 2 === 1 ? Math.floor(refMs * (0.1 + 0.5 * random()) * Math.max(left, 0.2)) : undefined;
      const r = await trainOnce(args, fault ? { TRM_FAULT: fault } : {}, delay);
      if (r.signal === 'SIGKILL') killed.push(fault ?? `${delay} ms`);
      else {
        expect(r.code, r.err).toBe(0);
        done = true;
      }
      expect(r.err).not.toMatch(/^\s+at /m); // never a stack
    }
    if (!done) {
      const r = await trainOnce(['--data', d.dir, '--resume', run], {});
      expect(r.code, r.err).toBe(0);
    }
    console.log(`fault injection: ${killed.length} kills (${killed.join(', ')}), then completed`);
    expect(killed.length).toBeGreaterThanOrEqual(5);
    expect(killed.filter(k => k.startsWith('checkpoint:')).length).toBeGreaterThanOrEqual(2);
    expect(killed.some(k => k.startsWith('append'))).toBe(true);

    expect(metrics(run)).toEqual(metrics(ref));
    for (const f of ['model.safetensors', 'train_state.safetensors'])
      expect(
        Buffer.compare(readFileSync(join(lastCheckpoint(run), f)), readFileSync(join(lastCheckpoint(ref), f))),
        f,
      ).toBe(0);
    expect(readFileSync(join(run, 'latest'), 'utf8')).toBe('step_0000060\n');
    const left = [...readdirSync(run), ...readdirSync(join(run, 'checkpoints'))].filter(n => /\.tmp|\.lock/.test(n));
    expect(left).toEqual([]);
  }, 120_000);
});
