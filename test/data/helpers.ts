/** helpers.ts: shared bits of the data tests: temp dirs, the trm CLI from sources, tiny CSVs. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll } from 'vitest';

export const ROOT = resolve(import.meta.dirname, '../..');
export const FIXTURES = join(ROOT, 'test/fixtures/data');

/** A temp directory removed after the file's tests. */
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'trm-data-'));
  afterAll(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

export function writeCsv(path: string, rows: string[], header = 'source,question,answer,rating'): string {
  writeFileSync(path, [header, ...rows].join('\n') + '\n');
  return path;
}

/** Run `trm ...args` from the TypeScript sources (vite-node); exit code and output. */
export function trm(args: string[], cwd = ROOT): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(
    process.execPath,
    [join(ROOT, 'node_modules/vite-node/vite-node.mjs'), join(ROOT, 'src/cli/main.ts'), '--', ...args],
    { cwd, encoding: 'utf8', env: { ...process.env, TRM_DEBUG: '' } },
  );
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export const PUZZLE = '........669..3.4...5.....37..7....1536....9......48....7.493.....21.....1......4.';
export const ANSWER = '713824596698735421254916837487369215365271984921548673876493152542187369139652748';
