/**
 * server.ts: `trm serve` as a Hono app: the built front end (dist/app, made by `vite build` in
 * `npm run prepare`) and a small JSON API over the --runs and --data roots:
 *   GET /api/index.json                               mode, checkpoints, runs, dataset splits
 *   GET /api/checkpoint/<id>/config.json              the model config of a checkpoint
 *   GET /api/checkpoint/<id>/model.safetensors        its weights (the page runs the model)
 *   GET /api/data/<id>/puzzles.json?offset=&limit=    puzzles of a dataset split as grid text
 *   GET /api/run/<id>/metrics.jsonl                   a run's metrics so far
 *   GET /api/run/<id>/metrics.sse                     the same, then each new line as it is logged
 *   GET /api/compare.json?dir=<id>                    a sweep's results table and report figures (Vega-Lite)
 *   GET /api/train, POST /api/train, POST /api/train/<run>/stop   small trainings started from the page
 *       (POSTs need the header x-trm-request: 1, which a cross-site form cannot send)
 * Ids are paths relative to their root with '/' (resolved by paths.ts; traversal is refused with
 * 403). With a token, every request needs it: `Authorization: Bearer T`, `?token=T` (which sets
 * a cookie for the page's own requests) or that cookie. Static export (export-web) writes the
 * same paths as files, so the page cannot tell the two apart.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { timingSafeEqual } from 'node:crypto';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { serve } from '@hono/node-server';
import { TrmError } from '../errors.js';
import { checkpointModel, compareData, listCheckpoints, listSplits, readPuzzles } from './catalog.js';
import { resolveInside } from './paths.js';
import { type TrainRequest, Trainer, WEB_PRESETS } from './trainer.js';

export interface ServeOptions {
  /** root of run directories and checkpoint files (null: none offered) */
  runs: string | null;
  /** root of dataset directories (null: none offered) */
  data: string | null;
  /** required on every request when set */
  token?: string | null;
  /** the built front end (default: dist/app of this package) */
  appDir?: string;
  /** metrics.sse poll interval, ms */
  pollMs?: number;
  /** threads of a training started from the page */
  trainThreads?: number;
}

/** dist/app of this package (the same from src/web under vitest and from dist/web). */
export function defaultAppDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'app');
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.safetensors': 'application/octet-stream',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.wasm': 'application/wasm',
};

const STATUS: Record<string, 400 | 401 | 403 | 404 | 500> = {
  TRM_FORBIDDEN: 403,
  TRM_NOT_FOUND: 404,
  TRM_BAD_CHECKPOINT: 404,
  TRM_DATASET: 404,
  TRM_BAD_SAFETENSORS: 400,
  TRM_BAD_CONFIG: 400,
  TRM_IO: 404,
};

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a),
    y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookieToken(c: Context): string | undefined {
  const m = /(?:^|;\s*)trm_token=([^;]*)/.exec(c.req.header('cookie') ?? '');
  return m ? decodeURIComponent(m[1]) : undefined;
}

/** The rest of the path after `prefix`, percent-decoded per segment; null when malformed. */
function tail(c: Context, prefix: string): string[] | null {
  const raw = new URL(c.req.url).pathname.slice(prefix.length);
  try {
    return raw.split('/').map(decodeURIComponent);
  } catch {
    return null;
  }
}

export function createWebApp(o: ServeOptions): Hono & { trainer: Trainer | null } {
  const app = new Hono() as Hono & { trainer: Trainer | null };
  const trainer = (app.trainer = o.runs && o.data ? new Trainer(o.runs, o.data, o.trainThreads ?? 1) : null);
  const appDir = o.appDir ?? defaultAppDir();
  const needRoot = (root: string | null, what: string): string => {
    if (!root) throw new TrmError('TRM_NOT_FOUND', `no ${what} root was given to trm serve`);
    return root;
  };

  app.onError((e, c) => {
    const code = (e as TrmError).code;
    const status = (code && STATUS[code]) || (e instanceof TrmError ? 400 : 500);
    return c.json({ error: e.message.split('\n')[0], code: code ?? 'TRM_INTERNAL' }, status);
  });

  if (o.token) {
    const token = o.token;
    app.use('*', async (c, next) => {
      const auth = c.req.header('authorization');
      const q = c.req.query('token');
      if (
        (auth && sameSecret(auth, `Bearer ${token}`)) ||
        (cookieToken(c) !== undefined && sameSecret(cookieToken(c)!, token))
      )
        return next();
      if (q !== undefined && sameSecret(q, token)) {
        await next();
        c.header('set-cookie', `trm_token=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict`);
        return;
      }
      return c.json(
        { error: 'a token is required (open the URL trm serve printed, with ?token=...)', code: 'TRM_UNAUTHORIZED' },
        401,
      );
    });
  }

  app.get('/api/index.json', c => {
    const cat = o.runs ? listCheckpoints(o.runs) : { checkpoints: [], runs: [], sweeps: [] };
    const splits = o.data ? listSplits(o.data) : [];
    // dataset directories (train/ + test/ splits) a training can use
    const datasets = [
      ...new Set(splits.filter(s => s.id.endsWith('/train')).map(s => s.id.slice(0, -'/train'.length))),
    ].filter(d => splits.some(s => s.id === `${d}/test`));
    return c.json({
      mode: 'server',
      checkpoints: cat.checkpoints,
      runs: cat.runs,
      sweeps: cat.sweeps,
      splits,
      datasets,
    });
  });

  app.get('/api/compare.json', c => c.json(compareData(needRoot(o.runs, 'runs'), c.req.query('dir') ?? '')));

  app.get('/api/checkpoint/*', c => {
    const parts = tail(c, '/api/checkpoint/');
    if (!parts || parts.length < 2)
      throw new TrmError('TRM_NOT_FOUND', 'expected /api/checkpoint/<id>/config.json or /model.safetensors');
    const file = parts.pop()!,
      id = parts.join('/');
    const m = checkpointModel(needRoot(o.runs, 'runs'), id);
    if (file === 'config.json') return c.json({ id, step: m.step, config: m.config });
    if (file === 'model.safetensors') {
      const bytes = readFileSync(m.file);
      return c.body(bytes, 200, { 'content-type': TYPES['.safetensors'], 'content-length': String(bytes.length) });
    }
    throw new TrmError('TRM_NOT_FOUND', `checkpoint '${id}': no '${file}' (config.json or model.safetensors)`);
  });

  app.get('/api/data/*', async c => {
    const parts = tail(c, '/api/data/');
    if (!parts || parts.length < 2 || parts[parts.length - 1] !== 'puzzles.json')
      throw new TrmError('TRM_NOT_FOUND', 'expected /api/data/<split>/puzzles.json');
    parts.pop();
    const int = (k: string, d: number, max: number) => {
      const v = Number(c.req.query(k) ?? d);
      return Number.isInteger(v) && v >= 0 ? Math.min(v, max) : d;
    };
    return c.json(
      await readPuzzles(needRoot(o.data, 'data'), parts.join('/'), int('offset', 0, 1e9), int('limit', 50, 500)),
    );
  });

  app.get('/api/run/*', c => {
    const parts = tail(c, '/api/run/');
    if (!parts || parts.length < 2)
      throw new TrmError('TRM_NOT_FOUND', 'expected /api/run/<id>/metrics.jsonl or metrics.sse');
    const file = parts.pop()!,
      id = parts.join('/');
    const path = join(resolveInside(needRoot(o.runs, 'runs'), id, 'run'), 'metrics.jsonl');
    if (file === 'metrics.jsonl') {
      if (!existsSync(path)) throw new TrmError('TRM_NOT_FOUND', `run '${id}': no metrics.jsonl`);
      return c.body(readFileSync(path), 200, { 'content-type': 'application/x-ndjson' });
    }
    if (file !== 'metrics.sse') throw new TrmError('TRM_NOT_FOUND', `run '${id}': no '${file}'`);
    return streamSSE(c, async stream => {
      let pos = 0,
        rest = '',
        closed = false;
      stream.onAbort(() => {
        closed = true;
      });
      while (!closed) {
        const size = existsSync(path) ? statSync(path).size : 0;
        if (size < pos) {
          pos = 0;
          rest = '';
        } // rewritten: start over
        if (size > pos) {
          const fd = openSync(path, 'r'),
            buf = Buffer.alloc(size - pos);
          try {
            readSync(fd, buf, 0, buf.length, pos);
          } finally {
            closeSync(fd);
          }
          pos = size;
          const lines = (rest + buf.toString('utf8')).split('\n');
          rest = lines.pop()!; // a line still being written waits for its newline
          for (const l of lines) if (l.trim()) await stream.writeSSE({ event: 'metric', data: l });
        }
        await stream.sleep(o.pollMs ?? 500);
      }
    });
  });

  const needTrainer = (): Trainer =>
    trainer ??
    (() => {
      throw new TrmError('TRM_NOT_FOUND', 'training from the page needs both --runs and --data');
    })();
  app.get('/api/train', c => c.json({ enabled: trainer !== null, presets: WEB_PRESETS, jobs: trainer?.list() ?? [] }));
  const sameSite = (c: Context) => c.req.header('x-trm-request') === '1';
  const notSameSite = (c: Context) => c.json({ error: 'missing header x-trm-request: 1', code: 'TRM_FORBIDDEN' }, 403);
  app.post('/api/train', async c => {
    if (!sameSite(c)) return notSameSite(c);
    let body: TrainRequest;
    try {
      body = (await c.req.json()) as TrainRequest;
    } catch {
      throw new TrmError('TRM_BAD_CONFIG', 'train request: the body is not JSON');
    }
    return c.json(needTrainer().start(body));
  });
  app.post('/api/train/*', c => {
    if (!sameSite(c)) return notSameSite(c);
    const parts = tail(c, '/api/train/');
    if (!parts || parts.length !== 2 || parts[1] !== 'stop')
      throw new TrmError('TRM_NOT_FOUND', 'expected /api/train/<run>/stop');
    return c.json(needTrainer().stop(parts[0]));
  });

  app.get('/api/*', () => {
    throw new TrmError('TRM_NOT_FOUND', 'no such API path');
  });

  app.get('*', c => {
    if (!existsSync(join(appDir, 'index.html')))
      return c.text('the front end is not built: run npm run build:web', 500);
    let parts: string[];
    try {
      parts = new URL(c.req.url).pathname.split('/').map(decodeURIComponent);
    } catch {
      return c.text('bad path', 400);
    }
    let p = resolveInside(appDir, parts.join('/').replace(/^\/+/, ''), 'file');
    if (!existsSync(p) || statSync(p).isDirectory()) p = join(appDir, 'index.html');
    return c.body(readFileSync(p), 200, { 'content-type': TYPES[extname(p)] ?? 'application/octet-stream' });
  });
  return app;
}

export interface RunningServer {
  url: string;
  close(): Promise<void>;
}

/** Listen on host:port (port 0: any free port). */
export function startServer(o: ServeOptions & { host: string; port: number }): Promise<RunningServer> {
  const app = createWebApp(o);
  return new Promise((res, rej) => {
    const server = serve({ fetch: app.fetch, hostname: o.host, port: o.port }, info => {
      const host = info.address.includes(':') ? `[${info.address}]` : info.address;
      res({
        url: `http://${host}:${info.port}/`,
        close: () =>
          new Promise(r => {
            app.trainer?.close();
            (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
            server.close(() => r());
          }),
      });
    });
    server.on('error', (e: NodeJS.ErrnoException) =>
      rej(new TrmError('TRM_IO', `cannot listen on ${o.host}:${o.port} (${e.code ?? e.message})`)),
    );
  });
}

/** True for loopback host names / addresses (no token needed). */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
