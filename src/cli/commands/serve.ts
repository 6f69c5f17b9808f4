/**
 * `trm serve`: the web app (Solve, Training, Compare pages; the model runs in the page) and its
 * JSON API over a runs root and a data root (src/web/server.ts). Loopback by default; any other
 * host needs --token.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { intOption, type Command } from '../command.js';
import { UsageError } from '../../errors.js';
import { isLoopback, startServer } from '../../web/server.js';

function root(v: string | undefined, flag: string): string | null {
  if (v === undefined) return null;
  const p = resolve(v);
  if (!existsSync(p) || !statSync(p).isDirectory()) throw new UsageError(`serve: --${flag} ${v}: not a directory`);
  return p;
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'the web app: solve puzzles with a checkpoint in the browser, watch every step',
  usage: '[--port P] [--host H] [--runs DIR] [--data DIR] [--token T]',
  options: {
    port: { type: 'string', argument: 'P', description: 'TCP port (0: any free port)', default: '8080' },
    host: {
      type: 'string',
      argument: 'H',
      description: 'address to bind; anything but loopback needs --token',
      default: '127.0.0.1',
    },
    runs: {
      type: 'string',
      argument: 'DIR',
      description: 'root of run directories and checkpoints offered (default: ./runs when it exists)',
    },
    data: {
      type: 'string',
      argument: 'DIR',
      description: 'root of dataset directories offered (default: ./data when it exists)',
    },
    token: { type: 'string', argument: 'T', description: 'secret every request must carry (open the printed URL)' },
  },
  details: 'Example: trm serve --runs runs --data data   (then open http://127.0.0.1:8080/)',
  async run(args) {
    const host = args.values.host as string,
      token = args.values.token as string | undefined;
    if (!isLoopback(host) && !token)
      throw new UsageError(
        `serve: --host ${host} is reachable from other machines; pass --token SECRET (or bind 127.0.0.1)`,
      );
    const runs = root((args.values.runs as string | undefined) ?? (existsSync('runs') ? 'runs' : undefined), 'runs');
    const data = root((args.values.data as string | undefined) ?? (existsSync('data') ? 'data' : undefined), 'data');
    const port = intOption(args, 'port', 0, 65535) ?? 8080;
    const s = await startServer({ host, port, runs, data, token: token ?? null });
    console.log(
      `trm serve: ${s.url}${token ? `?token=${encodeURIComponent(token)}` : ''}  (runs: ${runs ?? 'none'}, data: ${data ?? 'none'}; Ctrl-C stops)`,
    );
    await new Promise<void>(res => {
      const stop = () => {
        void s.close().then(res);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  },
};
