/**
 * download.ts: fetch dataset files from the Hugging Face hub with a cache and resume.
 *
 *   URL    ${HF_ENDPOINT:-https://huggingface.co}/datasets/<repo>/resolve/main/<file>
 *   cache  <dir>/<repo name>/<file>; a complete file there is reused without touching the network
 *   resume bytes go to <file>.part; a later run asks for `Range: bytes=<size>-` and appends
 *          (a server that answers 200 instead of 206 restarts the file); renamed when complete
 *
 * Uses Node's fetch; HF_TOKEN, when set, is sent as a bearer token (gated or rate-limited repos).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, truncate } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { TrmError } from '../errors.js';

export const SUDOKU_EXTREME = { repo: 'sapientinc/sudoku-extreme', files: { train: 'train.csv', test: 'test.csv' } } as const;

export function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'trm');
}

export function hubUrl(repo: string, file: string, endpoint = process.env.HF_ENDPOINT || 'https://huggingface.co'): string {
  return `${endpoint.replace(/\/+$/, '')}/datasets/${repo}/resolve/main/${file}`;
}

export interface DownloadReport {
  path: string;
  bytes: number;        // size of the complete file
  fetched: number;      // bytes transferred by this call
  cached: boolean;      // the file was already complete
  resumedFrom: number;  // bytes of .part reused (0 when starting fresh)
}

async function sizeOf(path: string): Promise<number | undefined> {
  return stat(path).then(s => s.size, () => undefined);
}

/** Download `url` to `dest` (resuming dest.part); `onProgress(done, total)` gets bytes (total 0 if unknown). */
export async function downloadFile(url: string, dest: string, opts: { force?: boolean; onProgress?: (done: number, total: number) => void } = {}): Promise<DownloadReport> {
  const part = `${dest}.part`;
  if (opts.force) { await rm(dest, { force: true }); await rm(part, { force: true }); }
  const have = await sizeOf(dest);
  if (have !== undefined) return { path: dest, bytes: have, fetched: 0, cached: true, resumedFrom: 0 };
  await mkdir(join(dest, '..'), { recursive: true });

  let start = (await sizeOf(part)) ?? 0;
  const headers: Record<string, string> = { 'user-agent': 'trm' };
  if (process.env.HF_TOKEN) headers.authorization = `Bearer ${process.env.HF_TOKEN}`;
  if (start > 0) headers.range = `bytes=${start}-`;
  let res: Response;
  try {
    res = await fetch(url, { headers, redirect: 'follow' });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new TrmError('TRM_DOWNLOAD', `cannot reach ${new URL(url).host}: ${cause?.code ?? cause?.message ?? (e as Error).message} (set HF_ENDPOINT to use a mirror)`);
  }
  if (res.status === 416 && start > 0) {
    // Range past the end: the .part is already complete when its size equals the reported total.
    const total = Number(/\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1]);
    await res.body?.cancel();
    if (total === start) { await rename(part, dest); return { path: dest, bytes: start, fetched: 0, cached: false, resumedFrom: start }; }
    await rm(part, { force: true });
    return downloadFile(url, dest, opts);
  }
  if (res.status !== 200 && res.status !== 206) {
    await res.body?.cancel();
    const hint = res.status === 401 || res.status === 403 ? ' (set HF_TOKEN if the repository is gated)' : res.status === 404 ? ' (check the file name and HF_ENDPOINT)' : '';
    throw new TrmError('TRM_DOWNLOAD', `GET ${url}: HTTP ${res.status} ${res.statusText}${hint}`);
  }
  if (res.status === 200 && start > 0) { await truncate(part, 0); start = 0; }   // server ignored the Range
  if (res.status === 206) {
    const from = Number(/bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1]);
    if (from !== start) {
      await res.body?.cancel();
      throw new TrmError('TRM_DOWNLOAD', `GET ${url}: asked for bytes from ${start}, server sent '${res.headers.get('content-range')}'; delete ${part} and retry`);
    }
  }
  const length = Number(res.headers.get('content-length') ?? NaN);
  const total = Number.isFinite(length) ? start + length : 0;
  let done = start;
  opts.onProgress?.(done, total);
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) { done += chunk.length; opts.onProgress?.(done, total); cb(null, chunk); },
  });
  try {
    await pipeline(Readable.fromWeb(res.body as never), counter, createWriteStream(part, { flags: start > 0 ? 'a' : 'w' }));
  } catch (e) {
    throw new TrmError('TRM_DOWNLOAD', `download of ${url} interrupted after ${done} bytes (${(e as Error).message}); run the same command again to resume`);
  }
  if (total && done !== total)
    throw new TrmError('TRM_DOWNLOAD', `download of ${url} ended at ${done} of ${total} bytes; run the same command again to resume`);
  await rename(part, dest);
  return { path: dest, bytes: done, fetched: done - start, cached: false, resumedFrom: start };
}

/** Fetch Sudoku-Extreme's train.csv and/or test.csv into <dir>/sudoku-extreme/. */
export async function downloadSudokuExtreme(opts: { split?: 'train' | 'test'; dir?: string; force?: boolean; onProgress?: (file: string, done: number, total: number) => void }): Promise<DownloadReport[]> {
  const dir = join(opts.dir ?? defaultCacheDir(), 'sudoku-extreme');
  const splits = opts.split ? [opts.split] : (['train', 'test'] as const);
  const out: DownloadReport[] = [];
  for (const s of splits) {
    const file = SUDOKU_EXTREME.files[s];
    out.push(await downloadFile(hubUrl(SUDOKU_EXTREME.repo, file), join(dir, file), { force: opts.force, onProgress: (d, t) => opts.onProgress?.(file, d, t) }));
  }
  return out;
}
