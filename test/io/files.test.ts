/** io/files.ts: the one write error, atomic writes that leave nothing half-written, and the directory lock. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendLine, lockDir, mkdirp, writeFileAtomic } from '../../src/io/files.js';

const root = mkdtempSync(join(tmpdir(), 'trm-files-'));

describe('write helpers', () => {
  it('writeFileAtomic replaces whole files and leaves no temporary file on failure', () => {
    const f = join(root, 'a.json');
    writeFileAtomic(f, 'one');
    writeFileAtomic(f, 'two');
    expect(readFileSync(f, 'utf8')).toBe('two');
    mkdirSync(join(root, 'dir.json'));
    expect(() => writeFileAtomic(join(root, 'dir.json'), 'x')).toThrow(
      /^cannot write .*dir\.json: is a directory \(EISDIR\)$/,
    );
    expect(readdirSync(root).filter(n => n.includes('.tmp'))).toEqual([]);
    writeFileAtomic(join(root, 'deep', 'b.txt'), 'b', { mkdir: true, sync: true });
    expect(readFileSync(join(root, 'deep', 'b.txt'), 'utf8')).toBe('b');
  });

  it('appendLine and mkdirp fail with the path and the reason', () => {
    writeFileSync(join(root, 'file'), '');
    expect(() => appendLine(join(root, 'file', 'x.jsonl'), '{}')).toThrow(
      /^cannot write .*file\/x\.jsonl: a part of the path is a file, not a directory \(ENOTDIR\)$/,
    );
    expect(() => mkdirp(join(root, 'file', 'sub'))).toThrow(
      /^cannot write .*file\/sub: a part of the path is a file, not a directory \(ENOTDIR\)$/,
    );
    expect(() => mkdirp(join(root, 'file'))).toThrow(/file: a file is in the way/);
    expect(() => appendLine('/dev/full', '{}')).toThrow(
      /^cannot write \/dev\/full: no space left on device \(ENOSPC\)$/,
    );
    appendLine(join(root, 'ok.jsonl'), '{"a":1}');
    appendLine(join(root, 'ok.jsonl'), '{"a":2}\n');
    expect(readFileSync(join(root, 'ok.jsonl'), 'utf8')).toBe('{"a":1}\n{"a":2}\n');
  });
});

describe('lockDir', () => {
  it('refuses a live holder naming its pid, takes over a dead one, releases only its own lock', async () => {
    const dir = join(root, 'run');
    mkdirSync(dir);
    const file = join(dir, '.lock');
    const sleeper = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)']);
    try {
      writeFileSync(file, JSON.stringify({ pid: sleeper.pid, host: hostname(), started: 'then', what: 'trm train' }));
      expect(() => lockDir(file)).toThrow(new RegExp(`run is in use by pid ${sleeper.pid} \\(trm train\\) since then`));
    } finally {
      sleeper.kill('SIGKILL');
    }
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout.trim());
    writeFileSync(file, JSON.stringify({ pid: deadPid, host: hostname(), started: 'then' }));
    const lock = lockDir(file, 'test');
    expect(lock.tookOver?.pid).toBe(deadPid);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ pid: process.pid, what: 'test' });
    expect(() => lockDir(file)).toThrow(/in use by another run in this process/);
    lock.release();
    expect(existsSync(file)).toBe(false);
    // an empty lock file (a writer killed between create and write) is stale
    writeFileSync(file, '');
    const again = lockDir(file);
    expect(again.tookOver).toEqual({ pid: 0, host: hostname(), started: '' });
    again.release();
    // another host's lock cannot be checked: refused, saying how to clear it
    writeFileSync(file, JSON.stringify({ pid: 1, host: 'elsewhere', started: 'then' }));
    expect(() => lockDir(file)).toThrow(/in use by pid 1 on host elsewhere .*if that process is gone, delete/);
  });
});
