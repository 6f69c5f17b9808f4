/**
 * download.ts: fetch dataset files from the Hugging Face hub with a cache and resume.
 *
 *   URL    ${HF_ENDPOINT:-https://huggingface.co}/datasets/<repo>/resolve/main/<file>
 *   cache  <dir>/<repo name>/<file>; a complete file there is reused without touching the network
 *   resume bytes go to <file>.part; a later run asks for `Range: bytes=<size>-` and appends
 *          (a server that answers 200 instead of 206 restarts the file); renamed when complete
 *
 *   fail   no answer or no body bytes for 30 s (TRM_DOWNLOAD_TIMEOUT) is a timeout; timeouts,
 *          dropped connections and 5xx are retried (resuming); a complete body that is an HTML
 *          page or not the expected CSV is deleted, never cached; local write errors are one line
 *
 * Uses Node's fetch; HF_TOKEN, when set, is sent as a bearer token (gated or rate-limited repos).
 */
import { open, rename, rm, stat, truncate } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { TrmError } from '../errors.js';
import { mkdirp, writeError } from '../io/files.js';
import { hfEndpoint } from '../io/schema.js';
import { csvHeader } from './sudoku/csv.js';

export const SUDOKU_EXTREME = {
  repo: 'sapientinc/sudoku-extreme',
  files: { train: 'train.csv', test: 'test.csv' },
} as const;

export function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'trm');
}

/** The file's URL on the hub; `endpoint` defaults to HF_ENDPOINT (checked: an http(s) URL) or the public hub. */
export function hubUrl(repo: string, file: string, endpoint = hfEndpoint()): string {
  return `${endpoint.replace(/\/+$/, '')}/datasets/${repo}/resolve/main/${file}`;
}

export interface DownloadReport {
  path: string;
  bytes: number; // size of the complete file
  fetched: number; // bytes transferred by this call
  cached: boolean; // the file was already complete
  resumedFrom: number; // bytes of .part reused (0 when starting fresh)
}

async function sizeOf(path: string): Promise<number | undefined> {
  return stat(path).then(
    s => s.size,
    () => undefined,
  );
}

export interface DownloadOptions {
  force?: boolean;
  onProgress?: (done: number, total: number) => void;
  /** ms without a response or without a byte of the body before giving up (default: TRM_DOWNLOAD_TIMEOUT s, else 30 s) */
  timeoutMs?: number;
  /** further attempts after a timeout, a dropped connection or HTTP 5xx/429, resuming the .part (default 0) */
  retries?: number;
  /** ms before the first retry, doubling (default 1000) */
  retryDelayMs?: number;
  /** the first bytes of the complete file -> why it is not the expected file, or null */
  check?: (head: Buffer) => string | null;
}

/** The read timeout: TRM_DOWNLOAD_TIMEOUT (seconds, > 0) or 30 s. */
export function defaultTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.TRM_DOWNLOAD_TIMEOUT;
  if (v === undefined || v === '') return 30_000;
  const s = Number(v);
  if (!(s > 0) || !Number.isFinite(s))
    throw new TrmError(
      'TRM_BAD_ENV',
      `TRM_DOWNLOAD_TIMEOUT=${JSON.stringify(v)}: expected a positive number of seconds`,
    );
  return s * 1000;
}

/** A failure worth another attempt (timeout, dropped connection, server error). */
class Transient extends Error {
  constructor(readonly error: TrmError) {
    super(error.message);
  }
}

/** The first bytes, quoted, with whitespace runs as one space and every other non-ASCII-printable byte as \xNN. */
const preview = (head: Buffer) =>
  `"${head
    .subarray(0, 48)
    .toString('latin1')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[^\x20-\x7e]/g, c => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)}"`;

/** Why `head` (a complete file's first bytes) is an error page rather than a data file, or null. */
export function htmlProblem(head: Buffer, contentType = ''): string | null {
  if (/text\/html/i.test(contentType) || /^\s*<(!doctype|html|\?xml|head|body)/i.test(head.toString('latin1')))
    return `the server sent an HTML page, not the file (starts ${preview(head)})`;
  return null;
}

/** A check for a CSV whose first line must be `header`. */
export function csvHeaderCheck(header: string): (head: Buffer) => string | null {
  return head => {
    const first = head
      .toString('latin1')
      .split(/\r?\n/, 1)[0]
      .replace(/^\ufeff/, '');
    return first === header ? null : `expected a CSV starting with '${header}', got ${preview(head)}`;
  };
}

async function firstBytes(path: string, n = 4096): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const { bytesRead } = await fh.read(buf, 0, n, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/**
 * Download `url` to `dest` (resuming dest.part); `onProgress(done, total)` gets bytes (total 0 if
 * unknown). No response or no body bytes for `timeoutMs` is a timeout; timeouts, dropped
 * connections and 5xx answers are retried `retries` times (resuming). A complete body that is an
 * HTML page or fails `check` is deleted, never renamed into the cache.
 */
export async function downloadFile(url: string, dest: string, opts: DownloadOptions = {}): Promise<DownloadReport> {
  const part = `${dest}.part`;
  if (opts.force) {
    await rm(dest, { force: true });
    await rm(part, { force: true });
  }
  const have = await sizeOf(dest);
  if (have !== undefined) return { path: dest, bytes: have, fetched: 0, cached: true, resumedFrom: 0 };
  mkdirp(dirname(dest));
  const retries = opts.retries ?? 0,
    timeoutMs = opts.timeoutMs ?? defaultTimeoutMs();
  for (let attempt = 0; ; attempt++) {
    try {
      return await attemptDownload(url, dest, part, opts, timeoutMs);
    } catch (e) {
      if (!(e instanceof Transient)) throw e;
      if (attempt >= retries)
        throw retries > 0
          ? new TrmError(e.error.code, `${e.error.message} (gave up after ${attempt + 1} attempts)`)
          : e.error;
      const wait = (opts.retryDelayMs ?? 1000) * 2 ** attempt;
      process.stderr.write(
        `trm: warning: ${e.error.message}; retrying in ${(wait / 1000).toFixed(0)} s (attempt ${attempt + 2} of ${retries + 1})\n`,
      );
      await new Promise(resolve => setTimeout(resolve, wait));
    }
  }
}

async function attemptDownload(
  url: string,
  dest: string,
  part: string,
  opts: DownloadOptions,
  timeoutMs: number,
): Promise<DownloadReport> {
  const host = new URL(url).host;
  let start = (await sizeOf(part)) ?? 0;
  const headers: Record<string, string> = { 'user-agent': 'trm' };
  if (process.env.HF_TOKEN) headers.authorization = `Bearer ${process.env.HF_TOKEN}`;
  if (start > 0) headers.range = `bytes=${start}-`;
  const ac = new AbortController();
  let timedOut = false,
    timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      ac.abort();
    }, timeoutMs);
  };
  const secs = `${+(timeoutMs / 1000).toFixed(1)} s`;
  arm();
  try {
    let res: Response;
    try {
      res = await fetch(url, { headers, redirect: 'follow', signal: ac.signal });
    } catch (e) {
      if (timedOut)
        throw new Transient(
          new TrmError(
            'TRM_DOWNLOAD',
            `GET ${url}: no answer from ${host} in ${secs} (TRM_DOWNLOAD_TIMEOUT sets the limit)`,
          ),
        );
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      throw new Transient(
        new TrmError(
          'TRM_DOWNLOAD',
          `cannot reach ${host}: ${cause?.code ?? cause?.message ?? (e as Error).message} (set HF_ENDPOINT to use a mirror)`,
        ),
      );
    }
    const finish = async (
      bytes: number,
      fetched: number,
      resumedFrom: number,
      contentType: string,
    ): Promise<DownloadReport> => {
      const head = await firstBytes(part);
      const problem = htmlProblem(head, contentType) ?? opts.check?.(head) ?? null;
      if (problem) {
        await rm(part, { force: true });
        throw new TrmError(
          'TRM_DOWNLOAD',
          `GET ${url}: ${problem}; nothing was saved (check HF_ENDPOINT and the repository)`,
        );
      }
      await rename(part, dest).catch(e => {
        throw writeError(dest, e);
      });
      return { path: dest, bytes, fetched, cached: false, resumedFrom };
    };
    if (res.status === 416 && start > 0) {
      // Range past the end: the .part is already complete when its size equals the reported total.
      const total = Number(/\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1]);
      await res.body?.cancel();
      if (total === start) return await finish(start, 0, start, '');
      await rm(part, { force: true });
      return await attemptDownload(url, dest, part, opts, timeoutMs);
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      const hint =
        res.status === 401 || res.status === 403
          ? ' (set HF_TOKEN if the repository is gated)'
          : res.status === 404
            ? ' (check the file name and HF_ENDPOINT)'
            : '';
      const err = new TrmError('TRM_DOWNLOAD', `GET ${url}: HTTP ${res.status} ${res.statusText}${hint}`);
      throw res.status >= 500 || res.status === 429 ? new Transient(err) : err;
    }
    const contentType = res.headers.get('content-type') ?? '';
    if (/text\/html/i.test(contentType)) {
      await res.body?.cancel();
      throw new TrmError(
        'TRM_DOWNLOAD',
        `GET ${url}: the server sent an HTML page (content-type ${contentType}), not the file; nothing was saved (check HF_ENDPOINT)`,
      );
    }
    if (res.status === 200 && start > 0) {
      await truncate(part, 0);
      start = 0;
    } // server ignored the Range
    if (res.status === 206) {
      const from = Number(/bytes (\d+)-/.exec(res.headers.get('content-range') ?? '')?.[1]);
      if (from !== start) {
        await res.body?.cancel();
        throw new TrmError(
          'TRM_DOWNLOAD',
          `GET ${url}: asked for bytes from ${start}, server sent '${res.headers.get('content-range')}'; delete ${part} and retry`,
        );
      }
    }
    const length = Number(res.headers.get('content-length') ?? NaN);
    const total = Number.isFinite(length) ? start + length : 0;
    let done = start;
    opts.onProgress?.(done, total);
    arm();
    // each chunk is written before the next is read, so bytes received before a failure are on disk for the resume
    const fh = await open(part, start > 0 ? 'a' : 'w').catch(e => {
      throw writeError(part, e);
    });
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        arm();
        await fh.write(chunk).catch(e => {
          throw writeError(part, e);
        });
        done += chunk.length;
        opts.onProgress?.(done, total);
      }
    } catch (e) {
      if (e instanceof TrmError) throw e;
      const why = timedOut ? `no data for ${secs}` : ((e as { cause?: Error }).cause?.message ?? (e as Error).message);
      throw new Transient(
        new TrmError(
          'TRM_DOWNLOAD',
          `download of ${url} interrupted after ${done} bytes (${why}); run the same command again to resume`,
        ),
      );
    } finally {
      await fh.close().catch(() => {});
    }
    if (total && done !== total)
      throw new Transient(
        new TrmError(
          'TRM_DOWNLOAD',
          `download of ${url} ended at ${done} of ${total} bytes; run the same command again to resume`,
        ),
      );
    return await finish(done, done - start, start, contentType);
  } finally {
    clearTimeout(timer);
  }
}

/** Fetch Sudoku-Extreme's train.csv and/or test.csv into <dir>/sudoku-extreme/. */
export async function downloadSudokuExtreme(opts: {
  split?: 'train' | 'test';
  dir?: string;
  force?: boolean;
  retries?: number;
  timeoutMs?: number;
  onProgress?: (file: string, done: number, total: number) => void;
}): Promise<DownloadReport[]> {
  const dir = join(opts.dir ?? defaultCacheDir(), 'sudoku-extreme');
  const splits = opts.split ? [opts.split] : (['train', 'test'] as const);
  const out: DownloadReport[] = [];
  for (const s of splits) {
    const file = SUDOKU_EXTREME.files[s];
    out.push(
      await downloadFile(hubUrl(SUDOKU_EXTREME.repo, file), join(dir, file), {
        force: opts.force,
        retries: opts.retries ?? 2,
        timeoutMs: opts.timeoutMs,
        check: csvHeaderCheck(csvHeader()),
        onProgress: (d, t) => opts.onProgress?.(file, d, t),
      }),
    );
  }
  return out;
}
