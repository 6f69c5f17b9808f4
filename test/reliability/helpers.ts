/**
 * helpers.ts: the reliability tests drive `trm` as a user does: spawned `node dist/cli/main.js`
 * processes on real files. Faults the kernel must produce (a full disk, a read-only file system,
 * a permission error) come from a small tmpfs (mount needs root and CAP_SYS_ADMIN) and from
 * running the child as `nobody`; where the machine cannot, the test is skipped with a visible line.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { packageRoot } from '../../src/kernels/index.js';
import { makeSudoku4 } from '../train/fixture.js';

export const main = join(packageRoot, 'dist', 'cli', 'main.js');

export interface Run {
  code: number | null;
  out: string;
  err: string;
  signal: NodeJS.Signals | null;
}

/**
 * Run `trm` in a child process. Asynchronous on purpose: a test file full of spawnSync calls keeps
 * the vitest worker's event loop from turning for minutes on a loaded machine (its RPC times out).
 */
export function trm(
  args: string[],
  o: { env?: Record<string, string | undefined>; cwd?: string; uid?: number; timeout?: number } = {},
): Promise<Run> {
  return new Promise(resolve => {
    const p = spawn(process.execPath, [main, ...args], {
      env: { ...process.env, TRM_THREADS: '1', ...o.env },
      cwd: o.cwd,
      timeout: o.timeout ?? 120_000,
      ...(o.uid !== undefined ? { uid: o.uid, gid: o.uid } : {}),
    });
    let out = '',
      err = '';
    p.stdout.on('data', d => {
      out += d;
    });
    p.stderr.on('data', d => {
      err += d;
    });
    p.on('close', (code, signal) => resolve({ code, out, err, signal }));
  });
}
/**
 * A failure as the user must see it: exit 1 (or `code`), no stack trace, and exactly one `trm:`
 * line, the last one, matching `re` (progress summaries such as "read train: done" may precede it).
 */
export function expectCleanError(r: Run, re: RegExp, code = 1): void {
  const lines = r.err.trimEnd().split('\n');
  expect(r.err, 'no stack trace').not.toMatch(/\n\s+at |Error: |\{ *errno/);
  expect(
    lines.filter(l => l.startsWith('trm: ') && !l.startsWith('trm: warning:')),
    r.err,
  ).toHaveLength(1);
  expect(lines.at(-1), r.err).toMatch(/^trm: /);
  expect(lines.at(-1), r.err).toMatch(re);
  expect(r.code, r.err).toBe(code);
}

export const isRoot = process.getuid?.() === 0;

/** Mount a tmpfs of `kb` KiB at `dir`; false (and nothing mounted) where this machine cannot. */
export function mountTmpfs(dir: string, kb: number): boolean {
  mkdirSync(dir, { recursive: true });
  if (!isRoot) return false;
  return spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${kb}k`, 'tmpfs', dir]).status === 0;
}
export function remountReadOnly(dir: string): boolean {
  return spawnSync('mount', ['-o', 'remount,ro', dir]).status === 0;
}
export function unmount(dir: string): void {
  spawnSync('umount', [dir]);
}
/** Fill the file system holding `dir` until writes fail with ENOSPC. */
export function fill(dir: string): void {
  try {
    writeFileSync(join(dir, 'filler'), Buffer.alloc(64 << 20));
  } catch {
    /* full: what we want */
  }
}

/** Say why a test does not run, where the test output shows it. */
export function skipNote(what: string, why: string): void {
  process.stderr.write(`SKIP (test/reliability): ${what}: ${why}\n`);
}

export interface Fixture {
  root: string;
  data: string;
  run: string;
  trainCsv: string;
  testCsv: string;
}

/** A 4x4 dataset (its CSVs too) and a tiny trained run with one checkpoint, in a fresh temp dir. */
export async function fixture(withRun = true): Promise<Fixture> {
  const root = mkdtempSync(join(tmpdir(), 'trm-rel-'));
  const d = await makeSudoku4(20, 6, 1, root);
  const run = join(root, 'run');
  if (withRun) {
    const r = await trm([
      'train',
      '--data',
      d.dir,
      '--preset',
      'cpu-sudoku4',
      '--set',
      'hidden_size=16',
      '--set',
      'puzzle_emb_ndim=16',
      '--set',
      'batch_size=4',
      '--set',
      'eval_batch_size=8',
      '--set',
      'steps=2',
      '--set',
      'eval_interval=2',
      '--out',
      run,
    ]);
    if (r.code !== 0) throw new Error(`fixture training failed: ${r.err}`);
  }
  return { root, data: d.dir, run, trainCsv: join(root, 'train.csv'), testCsv: join(root, 'test.csv') };
}
