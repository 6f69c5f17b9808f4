/**
 * `trm worker --queue URL --runs DIR`: take the runs of distributed sweeps (`trm sweep SPEC --queue
 * URL`) from a Redis queue and train them in the shared run root, N at a time, until stopped. The
 * work is in src/queue/ (BullMQ); docs/REPORTS.md has the setup for several machines.
 */
import { availableParallelism } from 'node:os';
import { dirname, relative, resolve } from 'node:path';
import { defineCommand, intOption, type ParsedArgs } from '../command.js';
import { UsageError } from '../../errors.js';
import { parseQueueUrl } from '../../queue/connection.js';
import { readSweepSpec } from '../../report/spec.js';

export const workerCommand = defineCommand({
  name: 'worker',
  summary: 'take sweep runs from a Redis queue and train them (distributed sweeps)',
  usage: '--queue redis://HOST:PORT[/DB] --runs DIR [--concurrency N]',
  options: {
    queue: {
      type: 'string',
      argument: 'URL',
      description: 'the Redis server holding the queue: redis://HOST:PORT[/DB]',
    },
    runs: {
      type: 'string',
      argument: 'DIR',
      description: "the shared run root on this machine: the sweeps' paths are relative to it",
    },
    concurrency: {
      type: 'string',
      argument: 'N',
      description: 'runs at a time; each gets TRM_THREADS = floor(cores / N)',
      default: '1',
    },
    'lock-seconds': {
      type: 'string',
      argument: 'S',
      description: "job lock: a dead worker's run moves to another worker about S seconds after it died",
      default: '30',
    },
    name: {
      type: 'string',
      argument: 'NAME',
      description: "this worker's name in `trm sweep --status` (default: HOST:PID)",
    },
  },
  details: [
    'Example (three machines, one shared filesystem mounted at /shared):',
    "  redis-server --bind 0.0.0.0 --port 6379 --save '' --appendonly no      # the queue, anywhere",
    '  trm worker --queue redis://queue-host:6379 --runs /shared                # on every machine',
    '  trm sweep /shared/study.yaml --queue redis://queue-host:6379 --runs /shared',
    '  trm sweep /shared/study.yaml --queue redis://queue-host:6379 --runs /shared --status',
    'A worker killed (or a machine lost) loses nothing: after the lock expires another worker takes the',
    'run and resumes it from its last checkpoint. Ctrl-C: running trainers save a checkpoint and their',
    'runs go back to the queue at once; a second Ctrl-C exits immediately.',
  ].join('\n'),
  async run(args) {
    if (args.positionals.length)
      throw new UsageError(`worker: unexpected argument '${args.positionals[0]}' (see 'trm worker --help')`);
    if (!args.values.queue) throw new UsageError('worker: --queue redis://HOST:PORT[/DB] is required');
    if (!args.values.runs) throw new UsageError('worker: --runs DIR (the shared run root) is required');
    const conn = parseQueueUrl(String(args.values.queue));
    const concurrency = intOption(args, 'concurrency', 1, 256)!;
    const lock = intOption(args, 'lock-seconds', 1, 3600)!;
    const cores = Number(process.env.TRM_THREADS) || availableParallelism();
    const { startWorker } = await import('../../queue/worker.js'); // BullMQ loads only for queue commands
    const w = await startWorker({
      conn,
      root: resolve(String(args.values.runs)),
      concurrency,
      lockMs: lock * 1000,
      threads: Math.max(1, Math.floor(cores / concurrency)),
      name: args.values.name,
      log: line => console.log(`${new Date().toISOString().slice(11, 19)} ${line}`),
    });
    await new Promise<void>(res => {
      let signals = 0;
      const onSignal = () => {
        if (++signals > 1) {
          process.stderr.write(
            'trm worker: second signal, exiting now; the running runs move to other workers when their lock expires\n',
          );
          process.exit(130);
        }
        process.stderr.write(
          'trm worker: stopping: running trainers save a checkpoint and go back to the queue (Ctrl-C again to exit now)\n',
        );
        w.stop().then(res, e => {
          process.stderr.write(`trm worker: ${(e as Error).message}\n`);
          res();
        });
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
    console.log(`trm worker: ${w.name} stopped`);
    return 0;
  },
});

const mmss = (s: number) => `${Math.floor(s / 60)}m${String(Math.floor(s % 60)).padStart(2, '0')}s`;

/** `trm sweep SPEC --queue URL [--runs DIR] [--status | --cancel]`: the queue branch of `trm sweep`. */
export async function sweepOnQueue(args: ParsedArgs): Promise<number> {
  if (args.positionals.length !== 1) throw new UsageError("sweep: expected one SPEC.yaml (see 'trm sweep --help')");
  if (!args.values.queue)
    throw new UsageError('sweep: --runs, --status and --cancel need --queue redis://HOST:PORT[/DB]');
  if (args.values.status && args.values.cancel) throw new UsageError('sweep: --status and --cancel exclude each other');
  for (const k of ['parallel', 'dry-run', 'only'] as const)
    if (args.values[k] !== undefined && args.values[k] !== false && !(k === 'parallel' && args.values[k] === '1'))
      throw new UsageError(
        `sweep: --${k} is for local sweeps; with --queue the workers decide (trm worker --concurrency)`,
      );
  const conn = parseQueueUrl(String(args.values.queue));
  const file = args.positionals[0],
    spec = readSweepSpec(file);
  const root = resolve(args.values.runs !== undefined ? String(args.values.runs) : dirname(resolve(file)));
  const where = relative(root, spec.out) || '.';
  const { cancelSweep, submitSweep, sweepStatus } = await import('../../queue/sweep.js'); // BullMQ loads only here

  if (args.values.cancel) {
    const c = await cancelSweep(conn, spec, root);
    console.log(
      `trm sweep: cancelled ${c.sweep} (${where}): ${c.removed.length} queued run(s) removed` +
        (c.stopping.length ? `; stopping ${c.stopping.join(', ')} (their trainers save a checkpoint)` : ''),
    );
    return 0;
  }
  if (args.values.status) {
    const s = await sweepStatus(conn, spec, root);
    const done = s.runs.filter(r => r.state === 'done').length,
      failed = s.runs.filter(r => r.state === 'failed').length;
    console.log(
      `sweep ${s.sweep} (${where}) on ${conn.url}: ${s.state}${s.cancelled ? ' (cancelled)' : ''}, ${done} of ${s.runs.length} runs done${failed ? `, ${failed} failed` : ''}`,
    );
    const w = Math.max(...s.runs.map(r => r.name.length));
    for (const r of s.runs) {
      const p = r.progress;
      let info = '';
      if (r.state === 'running' && p)
        info = `${p.worker}  ${p.stage}${p.step !== null ? ` step ${p.step}${p.total !== null ? `/${p.total}` : ''}` : ''}${p.eta_s !== null ? `  ETA ${mmss(p.eta_s)}` : ''}`;
      else if (r.state === 'done' && r.result)
        info = `${r.result.action} in ${r.result.seconds.toFixed(1)} s on ${r.result.worker}`;
      else if (r.state === 'failed') info = r.error ?? '';
      console.log(`  ${r.name.padEnd(w)}  ${r.state.padEnd(10)}  ${info}`.trimEnd());
    }
    if (s.result)
      console.log(
        `results: ${s.result.results ?? 'none (no run has metrics)'}${s.result.failed.length ? ` (without the failed ${s.result.failed.join(', ')})` : ''}`,
      );
    if (s.error) console.log(`sweep job failed: ${s.error}`);
    return 0;
  }
  const o = await submitSweep(conn, spec, root);
  const hint = `trm sweep ${file} --queue ${String(args.values.queue)}${args.values.runs !== undefined ? ` --runs ${String(args.values.runs)}` : ''} --status`;
  console.log(
    o.queued
      ? `trm sweep: queued ${o.runs} runs as ${o.sweep} (${where} under the run root ${root})${o.replaced ? `, replacing ${o.replaced} earlier job(s)` : ''}; workers: trm worker --queue ${String(args.values.queue)} --runs DIR; progress: ${hint}`
      : `trm sweep: ${o.sweep} (${where}) is already queued or running; progress: ${hint} (or --cancel)`,
  );
  return 0;
}
