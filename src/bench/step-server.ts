/**
 * bench/step-server.ts: a process that times one training step per request, for `trm bench step`'s
 * interleaved rounds. The trm child (step-child.ts) and the PyTorch reference
 * (tools/torch_step_bench.py --serve) speak the same line protocol: after their warm-up they print
 * {"ready": true}; each "step" line on stdin is answered with {"s": wall seconds, "cpu": CPU
 * seconds}; "end" makes them print one last JSON line (their peak RSS) and exit. Alternating the two
 * processes' steps puts both under the same machine load, which on a shared host drifts by tens of
 * percent within a minute (docs/PERFORMANCE.md), so their ratio means something.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

/** One timed step: wall and CPU seconds (all threads of the serving process). */
export interface ServedStep {
  s: number;
  cpu: number;
}

export class StepServer {
  private readonly lines: string[] = [];
  private waiting: ((line: string | null) => void) | null = null;
  private closed = false;
  private failedToStart = false;
  private stderr = '';

  private constructor(
    private readonly label: string,
    private readonly proc: ChildProcessWithoutNullStreams,
  ) {
    createInterface({ input: proc.stdout }).on('line', line => {
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        w(line);
      } else this.lines.push(line);
    });
    proc.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-8192);
    });
    proc.on('close', () => {
      this.closed = true;
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        w(null);
      }
    });
    proc.on('error', err => {
      this.failedToStart ||= proc.pid === undefined;
      this.stderr += `\n${err.message}`;
    });
    proc.stdin.on('error', () => {}); // a dead server is reported by the next read, not here
  }

  /** Start `command args` and wait for its {"ready": true} (after its warm-up steps). */
  static async start(label: string, command: string, args: string[], env: NodeJS.ProcessEnv): Promise<StepServer> {
    const server = new StepServer(label, spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] }));
    const ready = await server.next();
    if (!ready.ready) throw new Error(`${label}: expected {"ready": true} first, got ${JSON.stringify(ready)}`);
    return server;
  }

  /** Time one step in the server. */
  async step(): Promise<ServedStep> {
    this.proc.stdin.write('step\n');
    const r = await this.next();
    if (typeof r.s !== 'number' || typeof r.cpu !== 'number')
      throw new Error(`${this.label}: expected {"s", "cpu"} for a step, got ${JSON.stringify(r)}`);
    return { s: r.s, cpu: r.cpu };
  }

  /** Stop the server; its last JSON line (peak RSS and the like). */
  async end(): Promise<Record<string, unknown>> {
    this.proc.stdin.end('end\n');
    return this.next();
  }

  /** Kill the server if it still runs (after an error elsewhere). */
  kill(): void {
    if (!this.closed) this.proc.kill('SIGKILL');
  }

  private async next(): Promise<Record<string, unknown>> {
    const line =
      this.lines.shift() ??
      (this.closed ? null : await new Promise<string | null>(resolve => (this.waiting = resolve)));
    if (line === null) {
      const code = this.proc.exitCode,
        signal = this.proc.signalCode;
      const why = signal
        ? `killed by ${signal}${signal === 'SIGKILL' ? ' (out of memory?)' : ''}`
        : this.failedToStart
          ? 'did not start'
          : `exit ${code}`;
      const last = this.stderr.trim().split('\n').pop() ?? '';
      throw new Error(`${this.label} stopped (${why})${last ? `: ${last}` : ''}`);
    }
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`${this.label}: expected a JSON line, got ${line.slice(0, 200)}`);
    }
  }
}
