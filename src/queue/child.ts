/**
 * child.ts: `node dist/queue/child.js CLI ARGS...` runs `trm ARGS` (the CLI entry CLI) in this process
 * and dies with its parent: the worker holds this process's stdin open, and when the worker goes
 * away (kill -9, a lost machine) the pipe closes and this process kills itself at once. The job is
 * then retried by another worker from the run's last checkpoint, and no orphan keeps writing the run
 * directory next to it. A graceful stop is a SIGINT from the worker (the trainer saves a checkpoint).
 */
import { pathToFileURL } from 'node:url';

const [cli, ...args] = process.argv.slice(2);
if (!cli) {
  process.stderr.write('usage: node child.js CLI_ENTRY ARGS...\n');
  process.exit(2);
}
process.stdin.on('end', () => process.kill(process.pid, 'SIGKILL'));
process.stdin.on('error', () => process.kill(process.pid, 'SIGKILL'));
process.stdin.resume();
(process.stdin as unknown as { unref?: () => void }).unref?.(); // watching the pipe must not keep the process alive
process.argv = [process.argv[0], cli, ...args];
await import(pathToFileURL(cli).href);
