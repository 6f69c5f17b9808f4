/**
 * Root cause 9 (issue 13): Ctrl-C (SIGINT), SIGTERM or SIGHUP during `trm data build` removes its
 * OUT.tmp-PID directory; a build killed with SIGKILL leaves it, and the next build of the same
 * OUT removes it (its pid is dead). Temp files of dead writers beside `data generate` output go
 * the same way, and temp entries of live processes are never touched.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { removeStaleTemps } from '../../src/io/tmp.js';
import { expectCleanError, fixture, type Fixture, main, trm } from './helpers.js';

let fx: Fixture,
  bigCsv = '';
beforeAll(async () => {
  fx = await fixture(false);
  bigCsv = join(fx.root, 'big.csv');
  const r = await trm([
    'data',
    'generate',
    'sudoku',
    '--size',
    '4',
    '--count',
    '200',
    '--seed',
    '3',
    '--threads',
    '1',
    '--out',
    bigCsv,
  ]);
  expect(r.code, r.err).toBe(0);
});

/** A pid that belonged to a process which has exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
  return Number(r.stdout.trim());
}

/**
 * Start a large build into `out` and send `sig` the moment its temp directory appears. Resolves
 * with the exit code, signal, stderr and whether the temp directory had appeared.
 */
function buildAndSignal(
  out: string,
  sig: NodeJS.Signals,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string; sawTmp: boolean }> {
  return new Promise(resolve => {
    const parent = join(out, '..');
    const p = spawn(
      process.execPath,
      [main, 'data', 'build', 'sudoku', '--train', bigCsv, '--test', fx.testCsv, '--aug', '3000', '--out', out],
      { env: { ...process.env, TRM_THREADS: '1' } },
    );
    let err = '',
      sawTmp = false;
    p.stderr.on('data', d => {
      err += d;
    });
    const tmpName = `${out.split('/').pop()}.tmp-${p.pid}`;
    const w = watch(parent, (_e, name) => {
      if (!sawTmp && name === tmpName) {
        sawTmp = true;
        p.kill(sig);
      }
    });
    p.on('close', (code, signal) => {
      w.close();
      resolve({ code, signal, err, sawTmp });
    });
  });
}

describe('temporary files and directories', () => {
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    it(`${sig} during data build removes OUT.tmp-PID and leaves no OUT`, async () => {
      const parent = join(fx.root, `sig-${sig}`);
      mkdirSync(parent);
      const out = join(parent, 'ds');
      let r = await buildAndSignal(out, sig);
      // the signal can arrive after the final rename (a loaded machine delivers the watch event late):
      // then the build had finished, whole, and the signal met no temp directory; try again
      for (let i = 0; i < 4 && existsSync(out); i++) {
        rmSync(out, { recursive: true, force: true });
        r = await buildAndSignal(out, sig);
      }
      expect(r.sawTmp).toBe(true);
      expect(r.code, r.err).toBe(code);
      expect(r.err).toMatch(new RegExp(`trm: stopped by ${sig}; removed the partial .*ds\\.tmp-\\d+`));
      expect(readdirSync(parent)).toEqual([]);
    });
  }

  it('a build killed with SIGKILL leaves OUT.tmp-PID; the next build of OUT removes it', async () => {
    const parent = join(fx.root, 'kill9');
    mkdirSync(parent);
    const out = join(parent, 'ds');
    const r = await buildAndSignal(out, 'SIGKILL');
    expect(r.signal).toBe('SIGKILL');
    const left = readdirSync(parent);
    expect(
      left.some(n => /^ds\.tmp-\d+$/.test(n)),
      'SIGKILL leaves the temp directory (nothing can run)',
    ).toBe(true);
    const again = await trm(['data', 'build', 'sudoku', '--train', fx.trainCsv, '--test', fx.testCsv, '--out', out]);
    expect(again.code, again.err).toBe(0);
    expect(readdirSync(parent)).toEqual(['ds']);
  });

  it("data generate removes a dead writer's temp file beside its output and keeps a live one's", async () => {
    const dir = join(fx.root, 'gen');
    mkdirSync(dir);
    const dead = join(dir, `x.csv.tmp-${deadPid()}`),
      live = join(dir, `x.csv.tmp-${process.pid}`);
    writeFileSync(dead, 'half a file');
    writeFileSync(live, 'someone else is writing');
    const r = await trm([
      'data',
      'generate',
      'sudoku',
      '--size',
      '4',
      '--count',
      '3',
      '--threads',
      '1',
      '--out',
      join(dir, 'x.csv'),
    ]);
    expect(r.code, r.err).toBe(0);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
    expect(existsSync(join(dir, 'x.csv'))).toBe(true);
  });

  it("removeStaleTemps (the helper checkpoint saving uses) removes dead pids' entries only, by prefix", async () => {
    const dir = join(fx.root, 'ckpts');
    const dead = deadPid();
    for (const n of [
      `step_0000002.tmp-${dead}`,
      `step_0000004.tmp-${process.ppid}`,
      'step_0000002',
      `latest.tmp-${dead}`,
    ])
      mkdirSync(join(dir, n), { recursive: true });
    expect(removeStaleTemps(dir, 'step_').map(p => p.split('/').pop())).toEqual([`step_0000002.tmp-${dead}`]);
    expect(readdirSync(dir).sort()).toEqual([`latest.tmp-${dead}`, 'step_0000002', `step_0000004.tmp-${process.ppid}`]);
    expect(removeStaleTemps(join(fx.root, 'no-such-dir'))).toEqual([]);
  });

  it('a build whose output cannot be written fails before reading the CSVs', async () => {
    const file = join(fx.root, 'plain-file');
    writeFileSync(file, '');
    const r = await trm([
      'data',
      'build',
      'sudoku',
      '--train',
      bigCsv,
      '--test',
      fx.testCsv,
      '--out',
      join(file, 'ds'),
    ]);
    expectCleanError(r, /cannot write .*plain-file(\/ds)?: .*\((ENOTDIR|EEXIST)\)/);
    expect(r.err).not.toMatch(/read train/);
  });
});
