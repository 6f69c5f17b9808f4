/**
 * fixture.ts: a tiny real checkpoint for the web tests: seeded 4x4 puzzles, the official dataset
 * directory, and the cpu-sudoku4 preset trained for 30 steps through the CLI (the same files
 * `trm train` writes: metrics.jsonl, checkpoints/step_N, latest). Built once per test file.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js');

export function trm(args: string[], cwd: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, TRM_THREADS: '1' },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(args: string[], cwd: string): string {
  const r = trm(args, cwd);
  if (r.status !== 0) throw new Error(`trm ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

export interface Fixture {
  root: string;
  runs: string;
  data: string;
  run: string;
  split: string;
}

export function tinyRun(steps = 30): Fixture {
  const root = mkdtempSync(join(tmpdir(), 'trm-web-'));
  ok(['data', 'generate', 'sudoku', '--size', '4', '--count', '60', '--seed', '1', '--out', 'tr.csv'], root);
  ok(['data', 'generate', 'sudoku', '--size', '4', '--count', '20', '--seed', '2', '--out', 'te.csv'], root);
  ok(['data', 'build', 'sudoku', '--train', 'tr.csv', '--test', 'te.csv', '--aug', '1', '--out', 'data/s4'], root);
  ok(['train', '--data', 'data/s4', '--preset', 'cpu-sudoku4', '--set', `steps=${steps}`, '--out', 'runs/s4'], root);
  return {
    root,
    runs: join(root, 'runs'),
    data: join(root, 'data'),
    run: join(root, 'runs', 's4'),
    split: join(root, 'data', 's4', 'test'),
  };
}
