/**
 * trainer.ts: small trainings started from the Training page. Each is a `trm train` child process
 * (the same command a terminal runs; the server stays responsive and a crash stays in the child)
 * writing a new run directory under the runs root, on a dataset directory under the data root,
 * with a cpu-* preset and a step count. Stop sends SIGTERM, on which `trm train` saves a
 * checkpoint and exits. One training at a time (the machine's cores are the limit).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TrmError } from '../errors.js';
import { resolveInside } from './paths.js';

export const WEB_PRESETS = ['cpu-sudoku4', 'cpu-sudoku6', 'cpu-sudoku9'] as const;
const MAX_STEPS = 20_000;

export interface TrainRequest {
  data: string;
  preset: string;
  steps: number;
  name: string;
  seed?: number;
}
export interface JobStatus {
  run: string;
  data: string;
  preset: string;
  steps: number;
  state: 'running' | 'stopping' | 'exited';
  code: number | null;
  log: string[];
}

const bad = (msg: string): never => {
  throw new TrmError('TRM_BAD_CONFIG', `train request: ${msg}`);
};

export class Trainer {
  private jobs = new Map<string, { status: JobStatus; child: ChildProcess }>();
  constructor(
    private runsRoot: string,
    private dataRoot: string,
    private threads = 1,
  ) {}

  list(): JobStatus[] {
    return [...this.jobs.values()].map(j => ({ ...j.status, log: [...j.status.log] }));
  }

  start(r: TrainRequest): JobStatus {
    if (typeof r !== 'object' || r === null) bad('expected a JSON object');
    if ([...this.jobs.values()].some(j => j.status.state !== 'exited'))
      bad('a training is already running (stop it first)');
    if (!(WEB_PRESETS as readonly string[]).includes(r.preset))
      bad(`preset must be one of ${WEB_PRESETS.join(', ')}, got ${JSON.stringify(r.preset)}`);
    if (!Number.isInteger(r.steps) || r.steps < 1 || r.steps > MAX_STEPS)
      bad(`steps must be an integer in [1, ${MAX_STEPS}], got ${JSON.stringify(r.steps)}`);
    if (typeof r.name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(r.name))
      bad('name must be 1-64 letters, digits, . _ - (starting with a letter or digit)');
    if (r.seed !== undefined && !(Number.isInteger(r.seed) && r.seed >= 0)) bad('seed must be a non-negative integer');
    if (typeof r.data !== 'string') bad('data must be a dataset id');
    const data = resolveInside(this.dataRoot, r.data, 'dataset');
    if (!existsSync(join(data, 'train', 'dataset.json')) || !existsSync(join(data, 'test', 'dataset.json')))
      bad(`dataset '${r.data}' has no train/ and test/ splits`);
    const out = resolveInside(this.runsRoot, r.name, 'run');
    if (existsSync(out)) bad(`run '${r.name}' already exists`);
    const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli', 'main.js');
    const args = [
      cli,
      'train',
      '--data',
      data,
      '--preset',
      r.preset,
      '--set',
      `steps=${r.steps}`,
      '--out',
      out,
      ...(r.seed !== undefined ? ['--seed', String(r.seed)] : []),
    ];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, TRM_THREADS: String(this.threads) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const status: JobStatus = {
      run: r.name,
      data: r.data,
      preset: r.preset,
      steps: r.steps,
      state: 'running',
      code: null,
      log: [],
    };
    const keep = (b: Buffer) => {
      for (const l of b.toString('utf8').split(/[\r\n]+/)) if (l.trim()) status.log.push(l.trim());
      status.log.splice(0, Math.max(0, status.log.length - 20));
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.on('exit', code => {
      status.state = 'exited';
      status.code = code;
    });
    child.on('error', e => {
      status.state = 'exited';
      status.code = -1;
      status.log.push(e.message);
    });
    this.jobs.set(r.name, { status, child });
    return { ...status };
  }

  stop(name: string): JobStatus {
    const j = this.jobs.get(name);
    if (!j) throw new TrmError('TRM_NOT_FOUND', `no training '${name}' was started here`);
    if (j.status.state === 'running') {
      j.status.state = 'stopping';
      j.child.kill('SIGTERM');
    }
    return { ...j.status };
  }

  /** Stops every child (server shutdown). */
  close(): void {
    for (const j of this.jobs.values()) if (j.status.state !== 'exited') j.child.kill('SIGTERM');
  }
}
