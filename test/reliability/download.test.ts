/**
 * Root cause 10 (issue 13): `trm data download` against servers that misbehave, on 127.0.0.1 only.
 * A server that accepts and never answers, or stops sending mid-body, is a timeout with retries
 * and one clear line (TRM_DOWNLOAD_TIMEOUT shortens the wait here); an HTML page or garbage sent
 * with status 200 is deleted, never cached as the file; HF_ENDPOINT that is not a URL is one line.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectCleanError, fixture, type Fixture, trm } from './helpers.js';

type Mode = 'silent' | 'stall-body' | 'html' | 'garbage' | 'html-as-csv' | 'flaky' | 'ok';
let fx: Fixture,
  server: Server,
  endpoint = '',
  mode: Mode = 'ok',
  csv = Buffer.alloc(0);
let hits = 0;
const open = new Set<ServerResponse>();

function handle(req: IncomingMessage, res: ServerResponse) {
  hits++;
  open.add(res);
  res.on('close', () => open.delete(res));
  if (mode === 'silent') return; // accept, read the request, never answer
  if (mode === 'stall-body') {
    res.writeHead(200, { 'content-type': 'text/csv', 'content-length': csv.length });
    res.write(csv.subarray(0, 40));
    return;
  }
  if (mode === 'html') {
    res.writeHead(200, { 'content-type': 'text/html' }).end('<!DOCTYPE html><html><body>Sign in</body></html>');
    return;
  }
  if (mode === 'html-as-csv') {
    res
      .writeHead(200, { 'content-type': 'text/csv' })
      .end('<!doctype html>\n<html><body>captive portal</body></html>\n');
    return;
  }
  if (mode === 'garbage') {
    res
      .writeHead(200, { 'content-type': 'application/octet-stream' })
      .end(Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x1b, 0x5b, 0x33, 0x31, 0x6d, 0xff, 0xfe]));
    return;
  }
  if (mode === 'flaky' && hits === 1) {
    res.writeHead(503, 'Service Unavailable').end();
    return;
  }
  res.writeHead(200, { 'content-type': 'text/csv', 'content-length': csv.length }).end(csv);
}

beforeAll(async () => {
  fx = await fixture(false);
  csv = readFileSync(fx.testCsv);
  server = createServer(handle);
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`;
});
afterAll(async () => {
  for (const r of open) r.destroy();
  server.closeAllConnections();
  await new Promise(resolve => server.close(resolve));
});

async function download(m: Mode, dir: string, extra: Record<string, string> = {}) {
  mode = m;
  hits = 0;
  const t0 = performance.now();
  const r = await trm(
    ['data', 'download', 'sudoku-extreme', '--split', 'test', '--dir', join(fx.root, dir)],
    // a short limit where the server stalls on purpose; a generous one where it answers (a loaded machine can be slow)
    {
      env: {
        HF_ENDPOINT: endpoint,
        TRM_DOWNLOAD_TIMEOUT: m === 'silent' || m === 'stall-body' ? '0.5' : '20',
        ...extra,
      },
    },
  );
  return {
    ...r,
    seconds: (performance.now() - t0) / 1000,
    files: existsSync(join(fx.root, dir, 'sudoku-extreme')) ? readdirSync(join(fx.root, dir, 'sudoku-extreme')) : [],
  };
}

describe('data download against a misbehaving server', () => {
  it('a server that accepts and never answers: a timeout, retried, then one line', async () => {
    const r = await download('silent', 'silent');
    expectCleanError(
      r,
      /GET http:\/\/127\.0\.0\.1:\d+\/.*test\.csv: no answer from 127\.0\.0\.1:\d+ in 0\.5 s .*\(gave up after 3 attempts\)$/,
    );
    expect(hits).toBe(3);
    expect(r.err.match(/trm: warning: .*retrying in/g)).toHaveLength(2);
    expect(r.seconds).toBeLessThan(60); // not a hang (3 x 0.5 s + 1 s + 2 s of back-off)
    expect(r.files).toEqual([]);
  });

  it('a body that stops arriving: a read timeout, keeping the .part to resume', async () => {
    const r = await download('stall-body', 'stall');
    expectCleanError(
      r,
      /download of .*test\.csv interrupted after 40 bytes \(no data for 0\.5 s\); run the same command again to resume \(gave up after 3 attempts\)$/,
    );
    expect(r.files).toEqual(['test.csv.part']);
    const ok = await download('ok', 'stall');
    expect(ok.code, ok.err).toBe(0);
    expect(readFileSync(join(fx.root, 'stall', 'sudoku-extreme', 'test.csv')).equals(csv)).toBe(true);
  });

  it('a transient 503 is retried and the download completes', async () => {
    const r = await download('flaky', 'flaky');
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/trm: warning: GET .*: HTTP 503 Service Unavailable; retrying/);
    expect(readFileSync(join(fx.root, 'flaky', 'sudoku-extreme', 'test.csv')).equals(csv)).toBe(true);
  });

  for (const [m, re] of [
    ['html', /the server sent an HTML page \(content-type text\/html\), not the file; nothing was saved/],
    [
      'html-as-csv',
      /the server sent an HTML page, not the file \(starts "<!doctype html> <html><body>captive portal.*"\); nothing was saved/,
    ],
    [
      'garbage',
      /expected a CSV starting with 'source,question,answer,rating', got "\\x1f\\x8b\\x08\\x00\\x1b\[31m\\xff\\xfe"; nothing was saved/,
    ],
  ] as const) {
    it(`a 200 answer that is not the file (${m}) is not cached, and the message is printable`, async () => {
      const r = await download(m, m);
      expectCleanError(r, re);
      expect(r.err).not.toMatch(/\x1b/); // the bytes are escaped, not sent to the terminal
      expect(hits).toBe(1); // not retried: the server answered, wrongly
      expect(r.files).toEqual([]); // neither test.csv nor a .part
      const again = await download('ok', m); // and the next run fetches the real file
      expect(again.code, again.err).toBe(0);
      expect(readFileSync(join(fx.root, m, 'sudoku-extreme', 'test.csv')).equals(csv)).toBe(true);
    });
  }

  it('HF_ENDPOINT that is not an http(s) URL, and a bad TRM_DOWNLOAD_TIMEOUT, are one line each', async () => {
    for (const bad of ['not a url', 'ftp://mirror.example', 'huggingface.co']) {
      const r = await trm(['data', 'download', 'sudoku-extreme', '--split', 'test', '--dir', join(fx.root, 'env')], {
        env: { HF_ENDPOINT: bad },
      });
      expectCleanError(
        r,
        new RegExp(`^trm: HF_ENDPOINT="${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}" is not an http\\(s\\) URL`),
      );
    }
    const r = await trm(['data', 'download', 'sudoku-extreme', '--split', 'test', '--dir', join(fx.root, 'env')], {
      env: { HF_ENDPOINT: endpoint, TRM_DOWNLOAD_TIMEOUT: 'soon' },
    });
    expectCleanError(r, /TRM_DOWNLOAD_TIMEOUT="soon": expected a positive number of seconds/);
  });
});
