/**
 * connection.ts: the `--queue redis://[USER:PASSWORD@]HOST:PORT[/DB]` URL, as BullMQ connection
 * options, and a quick reachability check (a raw PING with a timeout), so a wrong address is one
 * line naming the URL rather than a client retrying forever.
 */
import { Socket } from 'node:net';
import { TrmError } from '../errors.js';

export interface QueueConnection {
  /** the URL without its password, for messages */
  url: string;
  host: string;
  port: number;
  db: number;
  username?: string;
  password?: string;
}

/** Parse `redis://HOST:PORT[/DB]` (also `rediss://` is refused: TLS is not wired up). */
export function parseQueueUrl(text: string): QueueConnection {
  const bad = (why: string): never => {
    throw new TrmError(
      'TRM_BAD_QUEUE_URL',
      `--queue ${text}: ${why}; expected redis://HOST:PORT[/DB], e.g. redis://127.0.0.1:6379/0`,
    );
  };
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return bad('not a URL');
  }
  if (u.protocol !== 'redis:') bad(`scheme ${u.protocol.replace(/:$/, '')} is not supported`);
  if (!u.hostname) bad('no host');
  const port = u.port ? Number(u.port) : 6379;
  const path = u.pathname.replace(/^\//, '');
  if (path && !/^\d+$/.test(path)) bad(`database '${path}' is not a number`);
  if (u.search || u.hash) bad('no query or fragment is allowed');
  const db = path ? Number(path) : 0;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return {
    url: `redis://${u.username ? `${decodeURIComponent(u.username)}@` : ''}${u.host}/${db}`,
    host,
    port,
    db,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
  };
}

/** ioredis options as BullMQ takes them (workers need maxRetriesPerRequest: null). */
export function redisOptions(c: QueueConnection) {
  return {
    host: c.host,
    port: c.port,
    db: c.db,
    username: c.username,
    password: c.password,
    maxRetriesPerRequest: null,
  };
}

/** Resolves when a Redis server answers at `c` (PONG, or an auth demand); throws TRM_QUEUE_UNREACHABLE otherwise. */
export function checkReachable(c: QueueConnection, timeoutMs = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = new Socket();
    let answer = '';
    const fail = (why: string) => {
      s.destroy();
      reject(new TrmError('TRM_QUEUE_UNREACHABLE', `cannot reach the queue at ${c.url}: ${why}`));
    };
    s.setTimeout(timeoutMs, () => fail(`no answer within ${timeoutMs / 1000} s`));
    s.on('error', e => fail((e as NodeJS.ErrnoException).code ?? e.message));
    s.on('data', d => {
      answer += d.toString('latin1');
      if (!answer.includes('\r\n')) return;
      s.destroy();
      if (answer.startsWith('+PONG') || /^-(NOAUTH|WRONGPASS)/.test(answer)) resolve();
      else
        reject(
          new TrmError(
            'TRM_QUEUE_UNREACHABLE',
            `${c.url} is not a Redis server (it answered ${JSON.stringify(answer.trim().slice(0, 60))})`,
          ),
        );
    });
    s.connect(c.port, c.host, () => s.write('PING\r\n'));
  });
}
