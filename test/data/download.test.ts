import { createServer, type IncomingMessage, type Server } from 'node:http';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadFile, downloadSudokuExtreme, hubUrl } from '../../src/data/download.js';
import { FIXTURES, tempDir } from './helpers.js';

// A local stand-in for the Hugging Face hub: serves fixture files at the hub's URL layout, honours
// Range, and can be told to cut the next transfer short (an interrupted download).
const body = Buffer.concat(Array.from({ length: 40 }, () => readFileSync(join(FIXTURES, 'sudoku-mini.csv'))));
const files: Record<string, Buffer> = {
  'train.csv': body,
  'test.csv': readFileSync(join(FIXTURES, 'sudoku-mini.csv')),
};
const requests: { url: string; range?: string }[] = [];
let cutNext = 0;
let server: Server,
  endpoint = '';

function handle(req: IncomingMessage, res: import('node:http').ServerResponse) {
  requests.push({ url: req.url!, range: req.headers.range });
  const m = /^\/datasets\/sapientinc\/sudoku-extreme\/resolve\/main\/(.+)$/.exec(req.url!);
  const data = m ? files[m[1]] : undefined;
  if (!data) {
    res.writeHead(404, 'Not Found').end();
    return;
  }
  let start = 0,
    status = 200;
  const r = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const headers: Record<string, string | number> = { 'content-type': 'text/csv', 'accept-ranges': 'bytes' };
  if (r) {
    start = Number(r[1]);
    if (start >= data.length) {
      res.writeHead(416, { 'content-range': `bytes */${data.length}` }).end();
      return;
    }
    status = 206;
    headers['content-range'] = `bytes ${start}-${data.length - 1}/${data.length}`;
  }
  headers['content-length'] = data.length - start;
  res.writeHead(status, headers);
  if (cutNext > 0) {
    const n = cutNext;
    cutNext = 0;
    res.write(data.subarray(start, start + n), () => setTimeout(() => res.destroy(), 20));
    return;
  }
  res.end(data.subarray(start));
}

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address() as import('node:net').AddressInfo;
  endpoint = `http://127.0.0.1:${addr.port}`;
});
afterAll(() => new Promise<void>(resolve => server.close(() => resolve())));

describe('download', () => {
  const dir = tempDir();

  it('builds hub URLs from HF_ENDPOINT', () => {
    expect(hubUrl('sapientinc/sudoku-extreme', 'test.csv', 'https://hf-mirror.example/')).toBe(
      'https://hf-mirror.example/datasets/sapientinc/sudoku-extreme/resolve/main/test.csv',
    );
  });

  it('fetches both splits into the cache, with progress, and then reuses them', async () => {
    process.env.HF_ENDPOINT = endpoint;
    try {
      const seen: number[] = [];
      const r = await downloadSudokuExtreme({ dir, onProgress: (_f, done) => seen.push(done) });
      expect(r.map(x => [x.cached, x.bytes])).toEqual([
        [false, body.length],
        [false, files['test.csv'].length],
      ]);
      expect(readFileSync(join(dir, 'sudoku-extreme/train.csv')).equals(body)).toBe(true);
      expect(seen.at(-1)).toBe(files['test.csv'].length);
      const before = requests.length;
      const again = await downloadSudokuExtreme({ dir, split: 'train' });
      expect(again[0].cached).toBe(true);
      expect(requests.length).toBe(before); // no network for a cached file
    } finally {
      delete process.env.HF_ENDPOINT;
    }
  });

  it('resumes an interrupted transfer with a Range request', async () => {
    const dest = join(dir, 'resume/train.csv'),
      url = hubUrl('sapientinc/sudoku-extreme', 'train.csv', endpoint);
    cutNext = 5000;
    await expect(downloadFile(url, dest)).rejects.toThrow(
      /interrupted after \d+ bytes.*run the same command again to resume|ended at \d+ of \d+ bytes/,
    );
    expect(existsSync(dest)).toBe(false);
    const partial = statSync(`${dest}.part`).size;
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(body.length);
    const r = await downloadFile(url, dest);
    expect(requests.at(-1)!.range).toBe(`bytes=${partial}-`);
    expect(r).toMatchObject({ resumedFrom: partial, fetched: body.length - partial, cached: false });
    expect(readFileSync(dest).equals(body)).toBe(true);
    expect(existsSync(`${dest}.part`)).toBe(false);
  });

  it('finishes a .part that is already complete (416) and restarts a corrupt one', async () => {
    const url = hubUrl('sapientinc/sudoku-extreme', 'test.csv', endpoint);
    mkdirSync(join(dir, 'c416'), { recursive: true });
    const full = join(dir, 'c416/test.csv'),
      longer = join(dir, 'c416/long.csv');
    writeFileSync(`${full}.part`, files['test.csv']);
    const r = await downloadFile(url, full);
    expect(r).toMatchObject({ bytes: files['test.csv'].length, fetched: 0 });
    expect(readFileSync(full).equals(files['test.csv'])).toBe(true);
    writeFileSync(`${longer}.part`, Buffer.concat([files['test.csv'], Buffer.from('junk')]));
    const r2 = await downloadFile(url, longer);
    expect(r2).toMatchObject({ resumedFrom: 0, fetched: files['test.csv'].length });
    expect(readFileSync(longer).equals(files['test.csv'])).toBe(true);
  });

  it('reports HTTP and connection errors in one line', async () => {
    await expect(
      downloadFile(hubUrl('sapientinc/sudoku-extreme', 'nope.csv', endpoint), join(dir, 'x/nope.csv')),
    ).rejects.toThrow(
      /GET http:\/\/127\.0\.0\.1:\d+\/datasets\/sapientinc\/sudoku-extreme\/resolve\/main\/nope\.csv: HTTP 404 Not Found \(check the file name/,
    );
    const closed = createServer();
    await new Promise<void>(resolve => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as import('node:net').AddressInfo).port;
    await new Promise(resolve => closed.close(resolve));
    await expect(downloadFile(`http://127.0.0.1:${port}/x.csv`, join(dir, 'y/x.csv'))).rejects.toThrow(
      /^cannot reach 127\.0\.0\.1:\d+: ECONNREFUSED/,
    );
  });
});
