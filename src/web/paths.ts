/**
 * paths.ts: where the web server may read. Every run, checkpoint, dataset and static file a
 * request names is a path relative to one root (the --runs, --data or front-end directory); it is
 * resolved inside that root or refused: absolute paths, '..' segments, NUL, backslashes and
 * symbolic links that lead outside (real paths are compared) are errors, never reads.
 */
import { existsSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { TrmError } from '../errors.js';

/** The path `rel` (a '/'-separated id from a URL) inside `root`, or a TRM_FORBIDDEN error. */
export function resolveInside(root: string, rel: string, what = 'path'): string {
  const refuse = (why: string): never => {
    throw new TrmError('TRM_FORBIDDEN', `${what} '${rel}': ${why}`);
  };
  if (rel.includes('\0')) refuse('contains a NUL byte');
  if (rel.includes('\\')) refuse('contains a backslash');
  if (isAbsolute(rel) || /^[A-Za-z]:/.test(rel)) refuse('must be relative to its root');
  const parts = rel.split('/').filter(p => p !== '' && p !== '.');
  if (parts.some(p => p === '..')) refuse("'..' is not allowed");
  const realRoot = realpathSync(resolve(root));
  const p = join(realRoot, ...parts);
  if (!within(realRoot, p)) refuse('outside its root');
  if (existsSync(p) && !within(realRoot, realpathSync(p))) refuse('leads outside its root (symbolic link)');
  return p;
}

/** True when `p` is `root` or below it. */
export function within(root: string, p: string): boolean {
  const r = relative(root, p);
  return r === '' || (!r.startsWith('..') && !isAbsolute(r) && !r.startsWith(`..${sep}`));
}

/** The '/'-separated id of `p` below `root`. */
export function idOf(root: string, p: string): string {
  return relative(root, p).split(sep).join('/');
}
