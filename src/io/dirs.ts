/**
 * dirs.ts: `mkdir -p` with the one write error and the true reason. Node's recursive mkdir
 * reports ENOENT when it cannot create a missing parent for another reason (a read-only file
 * system gives "no such file or directory" for a directory that plainly exists); the first
 * missing ancestor is then created alone to learn why.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeError } from './files.js';

/** Create `dir` and its parents; a failure is `cannot write NAME: reason (CODE)`, NAME = `dir` or the file it is for. */
export function ensureDir(dir: string, name = dir): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      let missing = dir;
      while (!existsSync(dirname(missing)) && dirname(missing) !== missing) missing = dirname(missing);
      try { mkdirSync(missing); } catch (e2) { throw writeError(name, e2); }
    }
    throw writeError(name, e);
  }
}
