/** files.ts: file helpers of the data layer: atomic writes and friendly missing-file errors. */
import { constants } from 'node:fs';
import { access, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { TrmError } from '../errors.js';
import { mkdirp, writeError } from '../io/files.js';
import { removeOnSignal, removeStaleTemps, tempPath } from '../io/tmp.js';

/**
 * Write `data` to `path` through `path.tmp-<pid>` and a rename, so no reader sees half a file.
 * Temp files of dead processes beside it are removed first; SIGINT/SIGTERM during the write
 * removes this one; a failing disk is one line, `cannot write PATH: reason`.
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = tempPath(path),
    release = removeOnSignal(tmp);
  try {
    mkdirp(dirname(path));
    removeStaleTemps(dirname(path), `${basename(path)}.tmp-`);
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => {});
    throw writeError(path, e);
  } finally {
    release();
  }
}

/**
 * Fail early, before long work, when `path` could not be written: its parent directory is created
 * (mkdir -p) and must be writable. The error is the one write error, naming `path`.
 */
export async function checkWritable(path: string): Promise<void> {
  const dir = dirname(path);
  try {
    mkdirp(dir);
    await access(dir, constants.W_OK);
  } catch (e) {
    throw writeError(path, e);
  }
}

/** Throw a one-line TrmError if `path` is not a readable file; `hint` says how to get one. */
export async function requireFile(path: string, hint = ''): Promise<void> {
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new TrmError('TRM_NO_FILE', `${path}: not a file${hint ? `; ${hint}` : ''}`);
  } catch (e) {
    if (e instanceof TrmError) throw e;
    throw new TrmError('TRM_NO_FILE', `${path}: no such file${hint ? `; ${hint}` : ''}`);
  }
}
