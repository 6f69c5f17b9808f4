/** files.ts: file helpers of the data layer: atomic writes and friendly missing-file errors. */
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TrmError } from '../errors.js';

/** Write `data` to `path` through `path.tmp-<pid>` and a rename, so no reader sees half a file. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
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
