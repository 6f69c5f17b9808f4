/**
 * The web server's API without a browser (Hono's app.request): what it lists, what it serves,
 * that paths outside the --runs / --data roots are refused, the token, and `trm serve`'s checks.
 */
import { appendFileSync, readFileSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createWebApp } from '../../src/web/server.js';
import { resolveInside } from '../../src/web/paths.js';
import { parseSafetensors } from '../../src/io/safetensors-bytes.js';
import { spawn } from 'node:child_process';
import { CLI, tinyRun, trm, type Fixture } from './fixture.js';

let f: Fixture;
beforeAll(() => {
  f = tinyRun(20);
});

describe('web API', () => {
  it('lists checkpoints, runs and splits, and serves a checkpoint and puzzles', async () => {
    const app = createWebApp({ runs: f.runs, data: f.data });
    const idx = (await (await app.request('/api/index.json')).json()) as {
      checkpoints: { id: string; step: number }[];
      runs: { id: string }[];
      splits: { id: string; size: number }[];
    };
    expect(idx.checkpoints).toEqual([{ id: 's4/checkpoints/step_0000020', run: 's4', step: 20, kind: 'checkpoint' }]);
    expect(idx.runs.map(r => r.id)).toEqual(['s4']);
    expect(idx.splits.map(s => [s.id, s.size])).toEqual([
      ['s4/test', 4],
      ['s4/train', 4],
    ]);
    const cfg = (await (await app.request('/api/checkpoint/s4/checkpoints/step_0000020/config.json')).json()) as {
      config: { seq_len: number; hidden_size: number };
    };
    expect(cfg.config.seq_len).toBe(16);
    const w = await app.request('/api/checkpoint/s4/checkpoints/step_0000020/model.safetensors');
    const bytes = new Uint8Array(await w.arrayBuffer());
    expect(bytes).toEqual(
      new Uint8Array(readFileSync(join(f.run, 'checkpoints', 'step_0000020', 'model.safetensors'))),
    );
    expect(parseSafetensors(bytes).tensors.size).toBeGreaterThan(5);
    const pz = (await (await app.request('/api/data/s4/test/puzzles.json?offset=1&limit=2')).json()) as {
      total: number;
      puzzles: { index: number; puzzle: string; solution: string }[];
    };
    expect(pz.total).toBe(20);
    expect(pz.puzzles.map(p => p.index)).toEqual([1, 2]);
    expect(pz.puzzles[0].puzzle).toMatch(/^[.1-4]{16}$/);
    expect(pz.puzzles[0].solution).toMatch(/^[1-4]{16}$/);
    // every given of the puzzle is kept by its solution
    for (const p of pz.puzzles)
      for (let i = 0; i < 16; i++) if (p.puzzle[i] !== '.') expect(p.solution[i]).toBe(p.puzzle[i]);
  });

  it('refuses paths outside the roots (403) and unknown ones (404)', async () => {
    const app = createWebApp({ runs: f.runs, data: f.data });
    const outside = join(f.root, 'secret');
    mkdirSync(outside, { recursive: true });
    writeFileSync(join(outside, 'checkpoint.json'), '{}');
    symlinkSync(outside, join(f.runs, 'link'));
    // dot segments (also %2e%2e) are removed by URL parsing before routing: they cannot climb out of /api/...
    for (const url of [
      '/api/checkpoint/%2e%2e/secret/config.json',
      '/api/checkpoint/s4/%2e%2e/%2e%2e/%2e%2e/secret/config.json',
      '/api/checkpoint/../../secret/config.json',
    ]) {
      const r = await app.request(url),
        body = await r.text();
      // a 404 from the API, or the app's own index.html when the path left /api/ altogether
      expect([url, r.status === 404 || (r.status === 200 && body.startsWith('<!doctype html>'))]).toEqual([url, true]);
    }
    // what reaches the resolver (encoded separators, absolute paths, links out) is refused
    for (const url of [
      '/api/checkpoint/%2Fetc/config.json',
      '/api/checkpoint/s4%2F..%2F..%2Fsecret/config.json',
      '/api/checkpoint/link/config.json',
      '/api/checkpoint/s4%5C..%5C..%5Csecret/config.json',
      '/api/data/..%2F..%2Fetc/puzzles.json',
      '/api/run/s4%2F..%2F../metrics.jsonl',
    ]) {
      const r = await app.request(url);
      expect([url, r.status]).toEqual([url, 403]);
      expect(((await r.json()) as { code: string }).code).toBe('TRM_FORBIDDEN');
    }
    expect((await app.request('/api/compare.json?dir=..')).status).toBe(403);
    expect((await app.request('/api/compare.json?dir=%2Fetc')).status).toBe(403);
    expect((await app.request('/api/checkpoint/s4/nope/config.json')).status).toBe(404);
    expect((await app.request('/api/data/s4/test/other.json')).status).toBe(404);
    expect(() => resolveInside(f.runs, '../x')).toThrow(/'\.\.' is not allowed/);
    expect(() => resolveInside(f.runs, '/etc/passwd')).toThrow(/relative/);
    expect(resolveInside(f.runs, 's4/./latest')).toBe(join(f.runs, 's4', 'latest'));
  });

  it('with a token, refuses requests without it and accepts bearer, query (setting a cookie) and cookie', async () => {
    const app = createWebApp({ runs: f.runs, data: f.data, token: 's3cret' });
    expect((await app.request('/api/index.json')).status).toBe(401);
    expect((await app.request('/api/index.json', { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await app.request('/api/index.json', { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
    const q = await app.request('/api/index.json?token=s3cret');
    expect(q.status).toBe(200);
    expect(q.headers.get('set-cookie')).toMatch(/^trm_token=s3cret; .*HttpOnly/);
    expect((await app.request('/api/index.json', { headers: { cookie: 'trm_token=s3cret' } })).status).toBe(200);
    expect((await app.request('/', { headers: { cookie: 'trm_token=nope' } })).status).toBe(401);
  });

  it('streams metrics.jsonl as server-sent events, each new line as it is logged', async () => {
    const app = createWebApp({ runs: f.runs, data: f.data, pollMs: 50 });
    const ac = new AbortController();
    const r = await app.request('/api/run/s4/metrics.sse', { signal: ac.signal });
    expect(r.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = r.body!.getReader(),
      dec = new TextDecoder();
    let text = '';
    const lines = readFileSync(join(f.run, 'metrics.jsonl'), 'utf8').trim().split('\n');
    const events = () => (text.match(/^event: metric$/gm) ?? []).length;
    while (events() < lines.length) text += dec.decode((await reader.read()).value);
    expect(events()).toBe(lines.length);
    appendFileSync(join(f.run, 'metrics.jsonl'), JSON.stringify({ type: 'train', step: 999, lm_loss: 0.5 }) + '\n');
    while (!text.includes('"step":999')) text += dec.decode((await reader.read()).value);
    expect(events()).toBe(lines.length + 1);
    ac.abort();
    await reader.cancel();
  });

  it('checks a training request before starting anything', async () => {
    const app = createWebApp({ runs: f.runs, data: f.data });
    const post = (body: unknown, header = true) =>
      app.request('/api/train', {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json', ...(header ? { 'x-trm-request': '1' } : {}) },
      });
    const ok = { data: 's4', preset: 'cpu-sudoku4', steps: 10, name: 'x1' };
    expect((await post(ok, false)).status).toBe(403); // a cross-site form cannot set the header
    for (const [body, msg] of [
      [{ ...ok, preset: 'paper-sudoku-att' }, /preset must be one of/],
      [{ ...ok, steps: 0 }, /steps must be an integer/],
      [{ ...ok, name: '../x' }, /name must be/],
      [{ ...ok, name: 's4' }, /already exists/],
      [{ ...ok, data: '../..' }, /'\.\.' is not allowed/],
      [{ ...ok, data: 's4/test' }, /no train\/ and test\/ splits/],
    ] as const) {
      const r = await post(body);
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(((await r.json()) as { error: string }).error).toMatch(msg);
    }
    expect(((await (await app.request('/api/train')).json()) as { jobs: unknown[] }).jobs).toEqual([]);
    expect(
      (await app.request('/api/train/x1/stop', { method: 'POST', headers: { 'x-trm-request': '1' } })).status,
    ).toBe(404);
  });

  it('trm serve listens on loopback, prints its URL and serves the app and the API', async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--runs', 'runs', '--data', 'data'], {
      cwd: f.root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const line = await new Promise<string>((ok, fail) => {
        let buf = '';
        child.stdout.on('data', (b: Buffer) => {
          buf += b.toString();
          if (buf.includes('\n')) ok(buf.split('\n')[0]);
        });
        child.on('exit', code => fail(new Error(`serve exited ${code}`)));
      });
      const url = /^trm serve: (http:\/\/127\.0\.0\.1:\d+\/) /.exec(line)?.[1];
      expect(url, line).toBeDefined();
      expect(await (await fetch(url!)).text()).toMatch(/^<!doctype html>/);
      const idx = (await (await fetch(`${url}api/index.json`)).json()) as { checkpoints: unknown[] };
      expect(idx.checkpoints.length).toBe(1);
    } finally {
      child.kill('SIGTERM');
      await new Promise(ok => child.once('exit', ok));
    }
  });

  it('trm serve needs --token off loopback and names a bad root', () => {
    const a = trm(['serve', '--host', '0.0.0.0', '--port', '0'], f.root);
    expect(a.status).toBe(2);
    expect(a.stderr).toMatch(/^trm: serve: --host 0\.0\.0\.0 .*--token/);
    const b = trm(['serve', '--runs', 'nope', '--port', '0'], f.root);
    expect(b.status).toBe(2);
    expect(b.stderr).toMatch(/--runs nope: not a directory/);
  });
});
