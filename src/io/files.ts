/**
 * files.ts: the one error path for filesystem writes, and a directory lock.
 *
 * Every write a command makes (config files, appended metrics lines, checkpoints, reports) goes
 * through these helpers, so a failing disk gives one line, `cannot write PATH: reason` (TrmError
 * 'TRM_WRITE'), never a raw Node stack, and never a half-written file under the final name
 * (whole files are written to `PATH.tmp-<pid>` and renamed).
 *
 * The lock (lockDir) is a file holding the owner's pid and host: a second writer is refused with
 * a message naming that pid; a lock left by a dead process on this host is taken over.
 */
import {
  appendFileSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { TrmError } from '../errors.js';

const REASONS: Record<string, string> = {
  ENOTDIR: 'a part of the path is a file, not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EEXIST: 'a file is in the way (exists and is not a directory)',
  EISDIR: 'is a directory',
  ENOENT: 'a parent directory does not exist',
  ENAMETOOLONG: 'file name too long',
  EMFILE: 'too many open files',
  EIO: 'input/output error',
};

/** The human reason of a Node filesystem error: "permission denied (EACCES)". */
export function ioReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code) return REASONS[code] ? `${REASONS[code]} (${code})` : code;
  return e instanceof Error ? e.message : String(e);
}

/** The TrmError for a failed write of `path`; a TrmError passes through unchanged. */
export function writeError(path: string, e: unknown): TrmError {
  if (e instanceof TrmError) return e;
  return new TrmError('TRM_WRITE', `cannot write ${path}: ${ioReason(e)}`);
}

/** Run `fn` (which writes `path`), turning any filesystem error into `cannot write PATH: reason`. */
export function withWrite<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw writeError(path, e);
  }
}

/**
 * `mkdir -p dir`, with the one write error. Each missing level is made on its own, so the reason
 * is the real one (a recursive mkdir reports ENOENT for a read-only parent).
 */
export function mkdirp(dir: string): void {
  const missing: string[] = [];
  for (let p = resolve(dir); !existsSync(p); p = dirname(p)) {
    missing.push(p);
    if (dirname(p) === p) break;
  }
  for (const p of missing.reverse()) {
    try {
      mkdirSync(p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST' && statSync(p).isDirectory()) continue; // made meanwhile
      throw writeError(dir, e);
    }
  }
  withWrite(dir, () => {
    if (!statSync(dir).isDirectory()) {
      const e = new Error('EEXIST') as NodeJS.ErrnoException;
      e.code = 'EEXIST';
      throw e;
    }
  });
}

/**
 * Write a whole file atomically: `path.tmp-<pid>`, fsync, rename. The parent directory must exist
 * (or pass `mkdir: true`). On failure the temporary file is removed and nothing replaces `path`.
 */
export function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  o: { mkdir?: boolean; sync?: boolean } = {},
): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    if (o.mkdir) mkdirSync(dirname(path), { recursive: true });
    if (o.sync) {
      const fd = openSync(tmp, 'w');
      try {
        const buf = typeof data === 'string' ? Buffer.from(data) : data;
        let off = 0;
        while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    } else {
      writeFileSync(tmp, data);
    }
    renameSync(tmp, path);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      /* the original error says more */
    }
    throw writeError(path, e);
  }
}

/** Append one line (a trailing newline is added) to `path`, with the one write error. */
export function appendLine(path: string, line: string): void {
  const text = line.endsWith('\n') ? line : line + '\n';
  failpoint('append', () => appendFileSync(path, text.slice(0, text.length >> 1))); // a torn write, as a full disk leaves
  withWrite(path, () => appendFileSync(path, text));
}

// ---- lock --------------------------------------------------------------------------------------

export interface LockInfo {
  pid: number;
  host: string;
  started: string;
  /** what holds it, e.g. "trm train" */
  what?: string;
}

/** Whether a process with this pid exists on this host (EPERM: it exists, owned by someone else). */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(file: string): LockInfo | null {
  try {
    const j = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockInfo>;
    return typeof j.pid === 'number'
      ? { pid: j.pid, host: String(j.host ?? ''), started: String(j.started ?? ''), what: j.what }
      : null;
  } catch {
    return null; // unreadable or half-written (a writer died between create and write): stale
  }
}

/** The live process holding `file` on this host (null: free, stale or another host's). */
export function lockHolder(file: string): LockInfo | null {
  const held = readLock(file);
  return held && held.host === hostname() && held.pid !== process.pid && pidAlive(held.pid) ? held : null;
}

/** The refusal for a directory whose lock a live process holds. */
export function lockedError(file: string, held: LockInfo): TrmError {
  return new TrmError(
    'TRM_LOCKED',
    `${dirname(file)} is in use by pid ${held.pid}${held.what ? ` (${held.what})` : ''} since ${held.started}; wait for it to finish or stop it (kill ${held.pid}), or choose another directory`,
  );
}

export interface DirLock {
  file: string;
  /** a lock of a dead process that this one took over (null when the directory was free) */
  tookOver: LockInfo | null;
  release(): void;
}

/**
 * Lock `file` (e.g. RUN_DIR/.lock) for this process. Refuses (TrmError 'TRM_LOCKED', naming the
 * pid) when a live process holds it; takes over a lock whose pid is dead on this host. A lock of
 * another host cannot be checked and is refused (delete the file if that host is gone).
 * `release()` removes the file only while it still names this process.
 */
export function lockDir(file: string, what = 'trm'): DirLock {
  const key = resolve(file);
  if (heldHere.has(key))
    throw new TrmError(
      'TRM_LOCKED',
      `${dirname(file)} is in use by another run in this process (pid ${process.pid}); choose another directory`,
    );
  const me: LockInfo = { pid: process.pid, host: hostname(), started: new Date().toISOString(), what };
  const body = JSON.stringify(me) + '\n';
  let tookOver: LockInfo | null = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(file, body, { flag: 'wx' });
      return makeLock(file, tookOver);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw writeError(file, e);
    }
    const held = readLock(file);
    if (held && held.pid === process.pid && held.host === me.host) return makeLock(file, null); // left by this pid before (reused pid)
    if (held && held.host !== me.host)
      throw new TrmError(
        'TRM_LOCKED',
        `${file}: the directory is in use by pid ${held.pid} on host ${held.host}${held.what ? ` (${held.what})` : ''} since ${held.started}; if that process is gone, delete ${file}`,
      );
    if (held && pidAlive(held.pid)) throw lockedError(file, held);
    // stale: the owner is dead (or the lock is unreadable); replace it through a rename, then make sure we won
    tookOver = held ?? { pid: 0, host: me.host, started: '' };
    const tmp = `${file}.tmp-${process.pid}`;
    try {
      writeFileSync(tmp, body);
      renameSync(tmp, file);
    } catch (e) {
      try {
        rmSync(tmp, { force: true });
      } catch {
        /* ignore */
      }
      throw writeError(file, e);
    }
    const now = readLock(file);
    if (now && now.pid === process.pid && now.host === me.host) return makeLock(file, tookOver);
  }
  const held = readLock(file);
  throw new TrmError(
    'TRM_LOCKED',
    `${dirname(file)} is in use${held ? ` by pid ${held.pid}` : ''}; another process took the lock at the same time`,
  );
}

/** Lock files this process holds (two runs of one process may not share a directory either). */
const heldHere = new Set<string>();

function makeLock(file: string, tookOver: LockInfo | null): DirLock {
  let released = false;
  const key = resolve(file);
  heldHere.add(key);
  return {
    file,
    tookOver,
    release() {
      if (released) return;
      released = true;
      heldHere.delete(key);
      const held = readLock(file);
      if (held && held.pid === process.pid) {
        try {
          rmSync(file, { force: true });
        } catch {
          /* best effort */
        }
      }
    },
  };
}

// ---- fault injection (tests) ---------------------------------------------------------------------

const hits = new Map<string, number>();

/**
 * A named crash point for the fault-injection tests: with `TRM_FAULT=NAME@N` in the environment
 * the process kills itself with SIGKILL the N-th time it reaches `failpoint(NAME)` (after `partial`,
 * e.g. writing half a line). Without TRM_FAULT it does nothing.
 */
export function failpoint(name: string, partial?: () => void): void {
  const spec = process.env.TRM_FAULT;
  if (!spec) return;
  for (const part of spec.split(',')) {
    const [n, at] = part.trim().split('@');
    if (n !== name) continue;
    const count = (hits.get(name) ?? 0) + 1;
    hits.set(name, count);
    if (count === Number(at ?? 1)) {
      partial?.();
      process.kill(process.pid, 'SIGKILL');
    }
  }
}
