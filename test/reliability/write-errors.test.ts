/**
 * Root cause 1 (issue 13): a failing write (ENOTDIR, EEXIST, EACCES, EROFS, ENOSPC) in
 * `trm eval --out`, `data build`, `data generate`, `report` and `data download` is one line,
 * `trm: cannot write PATH: reason (CODE)`, exit 1, no stack, and leaves no file under the final
 * name and no temp file.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectCleanError,
  fill,
  fixture,
  type Fixture,
  isRoot,
  main,
  mountTmpfs,
  remountReadOnly,
  skipNote,
  trm,
  unmount,
} from './helpers.js';

let fx: Fixture,
  server: Server,
  endpoint = '';
const mounts: string[] = [];

beforeAll(async () => {
  fx = await fixture();
  const csv = readFileSync(fx.testCsv);
  server = createServer((req, res) => {
    if (!req.url?.endsWith('/test.csv')) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/csv', 'content-length': csv.length * 200 });
    for (let i = 0; i < 200; i++) res.write(csv);
    res.end();
  });
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
});
afterAll(async () => {
  for (const m of mounts) unmount(m);
  await new Promise(resolve => server.close(resolve));
});

/** Each writing command with its output under `target`; `final` is what must not appear. */
function commands(target: string) {
  return [
    {
      name: 'eval --out',
      args: ['eval', '--checkpoint', fx.run, '--data', fx.data, '--out', join(target, 'eval')],
      final: join(target, 'eval', 'eval.json'),
    },
    {
      name: 'data build',
      args: ['data', 'build', 'sudoku', '--train', fx.trainCsv, '--test', fx.testCsv, '--out', join(target, 'ds')],
      final: join(target, 'ds'),
    },
    {
      name: 'data generate',
      args: [
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
        join(target, 'x.csv'),
      ],
      final: join(target, 'x.csv'),
    },
    {
      name: 'report',
      args: ['report', fx.run, '--out', join(target, 'report')],
      final: join(target, 'report', 'index.html'),
    },
    {
      name: 'data download',
      args: ['data', 'download', 'sudoku-extreme', '--split', 'test', '--dir', join(target, 'cache')],
      final: join(target, 'cache', 'sudoku-extreme', 'test.csv'),
    },
  ];
}

/** No temp file or directory left anywhere under `dir`. */
function noTemps(dir: string): void {
  if (!existsSync(dir)) return;
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap(e => [
      ...(/\.tmp-\d+$/.test(e.name) ? [join(d, e.name)] : []),
      ...(e.isDirectory() && !/\.tmp-\d+$/.test(e.name) ? walk(join(d, e.name)) : []),
    ]);
  expect(walk(dir)).toEqual([]);
}

async function expectWriteError(target: string, codes: string, uid?: number) {
  for (const c of commands(target)) {
    const r = await trm(c.args, { env: { HF_ENDPOINT: endpoint }, uid });
    expectCleanError(
      r,
      new RegExp(`^trm: cannot write ${target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\S*: .*\\((${codes})\\)$`),
    );
    expect(existsSync(c.final), `${c.name}: ${c.final} must not exist`).toBe(false);
    noTemps(target);
  }
}

describe('write errors are one line: cannot write PATH: reason', () => {
  it('a file where a directory should be (ENOTDIR / EEXIST)', async () => {
    const file = join(fx.root, 'a-file');
    writeFileSync(file, 'x');
    await expectWriteError(join(file, 'sub'), 'ENOTDIR|EEXIST');
  });

  it('--out naming an existing file (EEXIST)', async () => {
    const file = join(fx.root, 'existing');
    writeFileSync(file, 'x');
    for (const args of [
      ['eval', '--checkpoint', fx.run, '--data', fx.data, '--out', file],
      ['report', fx.run, '--out', file],
    ])
      expectCleanError(await trm(args), new RegExp(`^trm: cannot write ${file}: .*\\(EEXIST\\)$`));
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  it('a directory without write permission (EACCES)', async () => {
    const dir = join(fx.root, 'locked');
    mkdirSync(dir);
    chmodSync(dir, 0o555);
    if (isRoot) {
      // root ignores permissions: run the commands as nobody, who can read the fixture but not write here
      const canRun = spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(main)})`], {
        uid: 65534,
      });
      if (canRun.status !== 0) {
        console.warn(`SKIP EACCES case: user nobody cannot read ${main} (a checkout under a private directory)`);
        return;
      }
      for (const p of [fx.root, ...readdirSync(fx.root, { recursive: true }).map(n => join(fx.root, String(n)))])
        chmodSync(p, 0o755);
      chmodSync(dir, 0o555);
      await expectWriteError(dir, 'EACCES', 65534);
    } else {
      await expectWriteError(dir, 'EACCES');
    }
  });

  it('a read-only file system (EROFS)', async () => {
    const dir = join(fx.root, 'ro');
    if (!mountTmpfs(dir, 1024)) {
      skipNote('EROFS', 'cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)');
      return;
    }
    mounts.push(dir);
    expect(remountReadOnly(dir)).toBe(true);
    await expectWriteError(dir, 'EROFS');
  });

  it('a full disk (ENOSPC), leaving no partial output', async () => {
    const dir = join(fx.root, 'full');
    if (!mountTmpfs(dir, 256)) {
      skipNote('ENOSPC', 'cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)');
      return;
    }
    mounts.push(dir);
    fill(dir);
    await expectWriteError(dir, 'ENOSPC');
  });
});
