/**
 * The sweep: planning against fake run directories (skip finished runs, resume short ones, re-run
 * stale evals), the runner with a stand-in CLI (threads per child, a failure stops new runs and
 * names the run and log), and a tiny real sweep end to end through `trm sweep` and `trm report`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSweepSpec } from '../../src/report/spec.js';
import { cliEntry, planSweep, runSweep } from '../../src/report/sweep.js';
import { makeSudoku4 } from '../train/fixture.js';
import { writeFakeRun } from './fixture.js';

const specText = (out: string, steps = 4, extra = '') =>
  `data: ${out}\npreset: cpu-sudoku4\nout: ${out}\nseeds: [1, 2, 3, 4]\nset: { steps: ${steps} }\n${extra}`;
const evalText = 'eval: { nsup: [1, 2], k: [1, 2], init: random, aas: true }\n';
const scaling = (step: number) => ({
  step,
  nsup: [1, 2],
  k: [1, 2],
  aggregators: ['single', 'oracle'],
  acc: () => 0.5,
});
const aas = (step: number) => ({ step, aas_y: 0.1, aas_z: 0.2, pred_match: 0.3, exact_acc: 0.5 });

function fakeSweep(): string {
  const root = mkdtempSync(join(tmpdir(), 'trm-sweep-'));
  writeFakeRun(join(root, 'default', 'seed-1'), {
    seed: 1,
    step: 4,
    total: 4,
    exact: [0.5],
    scaling: scaling(4),
    aas: aas(4),
  });
  writeFakeRun(join(root, 'default', 'seed-2'), {
    seed: 2,
    step: 4,
    total: 4,
    exact: [0.5],
    scaling: scaling(2),
    aas: aas(4),
  });
  writeFakeRun(join(root, 'default', 'seed-3'), { seed: 3, step: 2, total: 4, exact: [0.5] });
  return root; // seed-4 has no directory yet
}

describe('planSweep', () => {
  it('skips finished runs, evaluates stale ones, resumes short ones, trains new ones', () => {
    const root = fakeSweep();
    const plan = planSweep(parseSweepSpec(specText(root, 4, evalText), join(root, 'spec.yaml')));
    expect(plan.map(r => [r.seed, r.action, r.step, r.target])).toEqual([
      [1, 'skip', 4, 4],
      [2, 'eval', 4, 4],
      [3, 'resume', 2, 4],
      [4, 'train', null, 4],
    ]);
    expect(plan[0].children).toEqual([]);
    // seed-2's scaling.json is from step 2: only that eval runs again
    expect(plan[1].children.map(c => c.kind)).toEqual(['scaling']);
    expect(plan[1].children[0].args).toEqual([
      'eval',
      '--nsup',
      '1,2',
      '--k',
      '1,2',
      '--checkpoint',
      join(root, 'default', 'seed-2'),
      '--data',
      root,
      '--init',
      'random',
      '--seed',
      '2',
      '--out',
      join(root, 'default', 'seed-2', 'eval'),
    ]);
    expect(plan[1].children[0].log).toBe(join(root, 'default', 'seed-2', 'eval.log'));
    expect(plan[2].children.map(c => c.kind)).toEqual(['train', 'scaling', 'aas']);
    expect(plan[2].children[0].args).toEqual([
      'train',
      '--data',
      root,
      '--resume',
      join(root, 'default', 'seed-3'),
      '--set',
      'steps=4',
      '--set',
      'seed=3',
    ]);
    expect(plan[2].children[2].args.slice(0, 2)).toEqual(['eval', '--aas']);
    expect(plan[3].children[0].args).toEqual([
      'train',
      '--data',
      root,
      '--preset',
      'cpu-sudoku4',
      '--set',
      'steps=4',
      '--set',
      'seed=4',
      '--out',
      join(root, 'default', 'seed-4'),
    ]);
    expect(plan[3].children[0].log).toBe(join(root, 'default', 'seed-4', 'train.log'));
  });

  it('without eval, a trained run is finished; more steps in the spec resume it', () => {
    const root = fakeSweep();
    expect(planSweep(parseSweepSpec(specText(root), 's.yaml')).map(r => r.action)).toEqual([
      'skip',
      'skip',
      'resume',
      'train',
    ]);
    expect(planSweep(parseSweepSpec(specText(root, 6), 's.yaml')).map(r => [r.action, r.target])).toEqual([
      ['resume', 6],
      ['resume', 6],
      ['resume', 6],
      ['train', 6],
    ]);
  });

  it('checks every training config before anything runs, naming the spec and variant', () => {
    const root = fakeSweep();
    const spec = parseSweepSpec(
      specText(root, 4, 'variants: [{ name: ok }, { name: typo, set: { lrr: 1 } }]\n'),
      'study.yaml',
    );
    expect(() => planSweep(spec)).toThrow(/^study\.yaml: variant 'typo': .*unknown key 'lrr'/);
  });
});

describe('runSweep', () => {
  // a stand-in for `trm`: records its arguments and TRM_THREADS, runs FAKE_MS (300) or until SIGINT; the seed-2 run fails
  function fakeCli(root: string): { cli: string; calls: () => { args: string[]; threads: string }[] } {
    const cli = join(root, 'fake-trm.mjs'),
      log = join(root, 'calls.jsonl');
    // the SIGINT handler is in place before the call is recorded, so a recorded child can be stopped cleanly
    writeFileSync(
      cli,
      `import { appendFileSync } from 'node:fs';
const args = process.argv.slice(2);
const t = setTimeout(() => {}, Number(process.env.FAKE_MS ?? 300));
process.on('SIGINT', () => { console.log('saved on SIGINT'); clearTimeout(t); process.exitCode = 130; });
appendFileSync(${JSON.stringify(log)}, JSON.stringify({ args, threads: process.env.TRM_THREADS }) + '\\n');
console.log('fake trm', args[0]);
if (args.includes('seed=2')) process.exit(3);
`,
    );
    return {
      cli,
      // whole lines only: a poll may read the log while a child is creating it or appending to it (an
      // empty file, or half a line, made JSON.parse throw inside the poll's timer: a flaky CI failure)
      calls: () =>
        readFileSync(log, 'utf8')
          .split('\n')
          .slice(0, -1)
          .map(l => JSON.parse(l)),
    };
  }

  it('gives each child floor(cores / N) threads; a failure lets in-flight runs finish, starts no more, names the run and its log', async () => {
    const root = mkdtempSync(join(tmpdir(), 'trm-sweep-run-'));
    const spec = parseSweepSpec(specText(root), join(root, 'spec.yaml')),
      { cli, calls } = fakeCli(root);
    const events: string[] = [];
    const run = runSweep(spec, planSweep(spec), {
      parallel: 2,
      cores: 5,
      cli,
      onEvent: e => events.push(`${e.type} ${e.run.seed}`),
    });
    await expect(run).rejects.toThrow(
      `run default/seed-2: trm train exited with code 3; see ${join(root, 'default', 'seed-2', 'train.log')}`,
    );
    expect(calls().map(c => c.args.at(-3))).toEqual(expect.arrayContaining(['seed=1', 'seed=2']));
    expect(calls()).toHaveLength(2); // seeds 3 and 4 never started
    expect(calls().every(c => c.threads === '2')).toBe(true);
    expect(events).toEqual(expect.arrayContaining(['failed 2', 'done 1']));
    expect(readFileSync(join(root, 'default', 'seed-1', 'train.log'), 'utf8')).toMatch(
      /^# \S+ trm train --data .*\nfake trm train\n$/,
    );
  });

  it('on abort passes one SIGINT to the running children, starts nothing new and reports the runs as stopped', async () => {
    const root = mkdtempSync(join(tmpdir(), 'trm-sweep-stop-'));
    const spec = parseSweepSpec(specText(root).replace('[1, 2, 3, 4]', '[1, 3, 4]'), 's.yaml'),
      { cli, calls } = fakeCli(root);
    const ac = new AbortController(),
      events: string[] = [];
    process.env.FAKE_MS = '20000';
    try {
      const run = runSweep(spec, planSweep(spec), {
        cli,
        parallel: 2,
        signal: ac.signal,
        onEvent: e => events.push(`${e.type} ${e.run.seed}`),
      });
      const poll = setInterval(() => {
        if (existsSync(join(root, 'calls.jsonl')) && calls().length === 2) {
          clearInterval(poll);
          ac.abort('SIGINT');
        }
      }, 20);
      expect(await run).toEqual({ ran: 0, skipped: 0, stopped: true });
    } finally {
      delete process.env.FAKE_MS;
    }
    expect(events.sort()).toEqual(['start 1', 'start 3', 'stopped 1', 'stopped 3']);
    expect(calls()).toHaveLength(2);
    expect(readFileSync(join(root, 'default', 'seed-1', 'train.log'), 'utf8')).toContain('saved on SIGINT');
  });

  it('runs nothing for a finished sweep and reports each skip', async () => {
    const root = fakeSweep(),
      { cli } = fakeCli(root);
    const spec = parseSweepSpec(specText(root).replace('[1, 2, 3, 4]', '[1, 2]'), 's.yaml'),
      events: string[] = [];
    const out = await runSweep(spec, planSweep(spec), { cli, onEvent: e => events.push(`${e.type} ${e.run.seed}`) });
    expect(out).toEqual({ ran: 0, skipped: 2, stopped: false });
    expect(events).toEqual(['skip 1', 'skip 2']);
    expect(existsSync(join(root, 'calls.jsonl'))).toBe(false);
  });
});

describe.runIf(existsSync(cliEntry))('trm sweep and trm report end to end', () => {
  const trm = (args: string[], cwd: string) => {
    const r = spawnSync(process.execPath, [cliEntry, ...args], { encoding: 'utf8', cwd, timeout: 60_000 });
    return { code: r.status, out: r.stdout, err: r.stderr };
  };

  it('trains and evaluates a tiny sweep, skips it on restart, gathers results and renders the report', async () => {
    const root = mkdtempSync(join(tmpdir(), 'trm-sweep-e2e-'));
    const d = await makeSudoku4(20, 6, 1, root);
    writeFileSync(
      join(root, 'spec.yaml'),
      [
        `data: ${d.dir}`,
        'preset: cpu-sudoku4',
        'out: study',
        'seeds: [1, 2]',
        'set: { steps: 2, hidden_size: 16, puzzle_emb_ndim: 16, batch_size: 4, eval_limit: 8, eval_batch_size: 8, log_interval: 1, eval_interval: 1 }',
        'eval: { nsup: [1, 2], k: [1, 2], aggregate: [single, cell-vote, oracle], init: random, aas: 2 }',
        '',
      ].join('\n'),
    );
    let r = trm(['sweep', 'spec.yaml', '--parallel', '2'], root);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/2 runs \(2 new, 0 to resume, 0 to evaluate, 0 finished\), 2 at a time/);
    expect(r.out).toContain('done default/seed-1');
    for (const s of [1, 2]) {
      const run = join(root, 'study', 'default', `seed-${s}`);
      expect(readFileSync(join(run, 'latest'), 'utf8').trim()).toBe('step_0000002');
      expect(existsSync(join(run, 'eval', 'scaling.json')) && existsSync(join(run, 'eval', 'aas.json'))).toBe(true);
    }
    const res = JSON.parse(readFileSync(join(root, 'study', 'results.json'), 'utf8'));
    expect(res.variants.map((v: { variant: string; n: number }) => [v.variant, v.n])).toEqual([['default', 2]]);
    expect(res.metrics).toEqual(
      expect.arrayContaining(['exact_acc', 'single@k1', 'cell-vote@k2', 'oracle@k2', 'aas_z']),
    );
    expect(res.variants[0].metrics['single@k1'].n).toBe(2);

    r = trm(['sweep', 'spec.yaml'], root);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('skip (finished) default/seed-1');
    expect(r.out).toContain('skip (finished) default/seed-2');
    expect(r.out).toContain('ran 0, skipped 2');

    r = trm(['report', 'study', '--out', 'report', '--title', 'tiny sweep'], root);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('trm report: 2 runs');
    const html = readFileSync(join(root, 'report', 'index.html'), 'utf8');
    expect(html).toContain('<title>tiny sweep</title>');
    expect(html).toContain('default/seed-2');
    expect(html).toContain('Sweep results: study');
    expect((html.match(/<svg /g) ?? []).length).toBe(7); // exact, loss and time curves, scaling, compute, AAS scatter and curve
  }, 60_000);

  it('reports a bad spec in one line naming the file and key (exit 1), a missing spec argument as usage (exit 2)', () => {
    const root = mkdtempSync(join(tmpdir(), 'trm-sweep-bad-'));
    writeFileSync(join(root, 'bad.yaml'), 'data: d\npreset: cpu-sudoku4\nout: o\nseeds: [1, x]\n');
    let r = trm(['sweep', 'bad.yaml'], root);
    expect(r.code).toBe(1);
    expect(r.err).toBe('trm: bad.yaml: seeds: expected a non-empty list of integers >= 0, got [1,"x"]\n');
    r = trm(['sweep'], root);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^trm: sweep: expected one SPEC\.yaml/);
  });
});
