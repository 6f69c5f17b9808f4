/**
 * tmp.ts: temporary siblings and their cleanup. A writer builds `PATH.tmp-<pid>` (a file or a
 * directory) and renames it into place, so a reader never sees half of it. What can be left:
 *  - the process is stopped by SIGINT, SIGTERM or SIGHUP: `removeOnSignal` deletes the registered
 *    temp paths and exits 128 + the signal number (the default action, minus the debris);
 *  - the process is killed (kill -9, power loss): nothing can run, so the next writer of the same
 *    directory calls `removeStaleTemps`, which deletes `*.tmp-<pid>` entries whose pid is no
 *    longer a live process on this machine (entries of live processes are left alone).
 * Checkpoint saving (train/checkpoint.ts) and the dataset builder use both.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pidAlive } from './files.js';

const TMP_RE = /\.tmp-(\d+)$/;

/** The temporary sibling of `path` for this process. */
export function tempPath(path: string, pid = process.pid): string {
  return `${path}.tmp-${pid}`;
}

/**
 * Delete entries of `dir` named `<prefix>*.tmp-<pid>` whose pid is dead (or is this process:
 * a leftover of an earlier call). Returns the removed paths; a missing `dir` removes nothing.
 */
export function removeStaleTemps(dir: string, prefix = ''): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TMP_RE.exec(name);
    if (!m || !name.startsWith(prefix)) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && pidAlive(pid)) continue;
    const p = join(dir, name);
    try {
      rmSync(p, { recursive: true, force: true });
      removed.push(p);
    } catch {
      /* not ours to fight over */
    }
  }
  return removed;
}

/** The signals that end a process by default and can be caught (a closed terminal sends SIGHUP). */
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
const registered = new Set<string>();
let installed = false;

function onSignal(sig: NodeJS.Signals): void {
  for (const p of registered) {
    try {
      rmSync(p, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
  const left = [...registered];
  registered.clear();
  process.stderr.write(`\ntrm: stopped by ${sig}${left.length ? `; removed the partial ${left.join(', ')}` : ''}\n`);
  process.exit(128 + ({ SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as Record<string, number>)[sig]);
}

/**
 * Remove `path` if SIGINT, SIGTERM or SIGHUP arrives before the returned function is called (call it once
 * the temp path has been renamed into place or removed). The handlers are process-wide and stay
 * installed only while something is registered.
 */
export function removeOnSignal(path: string): () => void {
  registered.add(path);
  if (!installed) {
    installed = true;
    for (const sig of SIGNALS) process.on(sig, onSignal);
  }
  return () => {
    registered.delete(path);
    if (registered.size === 0 && installed) {
      installed = false;
      for (const sig of SIGNALS) process.off(sig, onSignal);
    }
  };
}
