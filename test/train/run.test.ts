/**
 * train.run as a library call, with no terminal: callbacks in order and matching the files it
 * writes, an AbortSignal stopping with a checkpoint and an exact resume, in-memory data, one run
 * per directory also within one process, and the data checks before anything is written.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { train } from '../../src/index.js';
import { addon, device, nativeBackend } from '../../src/kernels/index.js';
import { TrainSampler } from '../../src/train/data.js';
import { bf16PeakWarning, type RunData } from '../../src/train/run.js';
import { makeSudoku4, type Sudoku4 } from './fixture.js';

let d: Sudoku4, data: RunData;
const root = mkdtempSync(join(tmpdir(), 'trm-run-'));
beforeAll(async () => {
  d = await makeSudoku4(20, 6, 1, root);
  data = { train: d.train, test: d.test, path: d.dir };
});

const sets = [
  'hidden_size=16',
  'puzzle_emb_ndim=16',
  'batch_size=4',
  'eval_limit=8',
  'eval_batch_size=8',
  'log_interval=2',
  'eval_interval=4',
  'steps=8',
];

describe('train.run', () => {
  it('reports through callbacks only, in order, and writes what it reports', async () => {
    const out = vi.spyOn(process.stdout, 'write'),
      err = vi.spyOn(process.stderr, 'write');
    const events: string[] = [];
    const runDir = join(root, 'a');
    const r = await train.run({ preset: 'cpu-sudoku4', sets, out: runDir }, d.dir, {
      onStart: s => events.push(`start ${s.step}/${s.totalSteps} ${s.resumed}`),
      onLog: rec => events.push(`log ${rec.step}`),
      onEval: (step, _e, w) => events.push(`eval ${step} ${w}`),
      onCheckpoint: (p, step, why) =>
        events.push(`ckpt ${step} ${why} ${p === join(runDir, 'checkpoints', `step_000000${step}`)}`),
      onWarning: m => events.push(`warn ${m}`),
    });
    const printed = out.mock.calls.length + err.mock.calls.length;
    out.mockRestore();
    err.mockRestore();
    expect(printed).toBe(0);
    expect(events).toEqual([
      'start 0/8 false',
      'log 2',
      'log 4',
      'eval 4 ema',
      'ckpt 4 interval true',
      'log 6',
      'log 8',
      'eval 8 ema',
      'ckpt 8 end true',
    ]);
    expect(r).toMatchObject({
      runDir,
      stopped: false,
      steps: 8,
      checkpoint: join(runDir, 'checkpoints', 'step_0000008'),
    });
    expect(r.state.step).toBe(8);
    expect(r.lastEval?.examples).toBe(6);
    const lines = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map(l => JSON.parse(l));
    expect(lines.map(l => `${l.type}@${l.step}`)).toEqual([
      'train@2',
      'train@4',
      'eval@4',
      'train@6',
      'train@8',
      'eval@8',
    ]);
    expect(JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8'))).toMatchObject({
      data: d.dir,
      preset: 'cpu-sudoku4',
      total_steps: 8,
    });
    expect(existsSync(join(runDir, '.lock'))).toBe(false);
  });

  it('an aborted signal stops after the step in progress with a checkpoint; resuming gives the uninterrupted weights', async () => {
    const full = await train.run({ preset: 'cpu-sudoku4', sets, out: join(root, 'full') }, data);
    const ac = new AbortController(),
      runDir = join(root, 'stopped');
    const part = await train.run({ preset: 'cpu-sudoku4', sets, out: runDir }, data, {
      signal: ac.signal,
      onStep: s => {
        if (s.step === 3) ac.abort('test');
      },
    });
    expect(part).toMatchObject({ stopped: true, steps: 3, checkpoint: join(runDir, 'checkpoints', 'step_0000003') });
    const rest = await train.run({ resume: runDir }, data);
    expect(rest).toMatchObject({ stopped: false, steps: 5 });
    expect(rest.state.params.data).toEqual(full.state.params.data);
    expect(rest.state.ema).toEqual(full.state.ema);
    const strip = (f: string) =>
      readFileSync(f, 'utf8')
        .trim()
        .split('\n')
        .map(l => {
          const r = JSON.parse(l);
          delete r.time;
          delete r.step_time;
          delete r.seconds;
          return r;
        });
    expect(strip(join(runDir, 'metrics.jsonl'))).toEqual(strip(join(root, 'full', 'metrics.jsonl')));
  });

  it('a resolved config and data without a test split; a complete run refuses to resume', async () => {
    const cfg = train.resolveTrainConfig('cpu-sudoku4', train.parseSets(sets));
    const r = await train.run({ config: cfg, out: join(root, 'cfg') }, { train: d.train, test: null });
    expect(r.lastEval).toBeNull();
    await expect(train.run({ resume: join(root, 'cfg') }, { train: d.train, test: null })).rejects.toThrow(
      /the run is complete \(step 8 of 8\); extend it with --set steps=N/,
    );
  });

  it('two runs of one process may not share a run directory', async () => {
    const runDir = join(root, 'twice');
    const first = train.run({ preset: 'cpu-sudoku4', sets: [...sets, 'steps=40'], out: runDir }, data);
    await new Promise(res => setTimeout(res, 0)); // the first holds the lock from its first await on
    await expect(train.run({ preset: 'cpu-sudoku4', sets, out: runDir }, data)).rejects.toThrow(
      /is in use by another run in this process/,
    );
    expect((await first).steps).toBe(40);
  });

  it('refuses an empty training split before creating anything, naming it', async () => {
    const empty = {
      ...d.train,
      inputs: new Uint8Array(0),
      labels: new Uint8Array(0),
      puzzleIdentifiers: new Int32Array(0),
      puzzleIndices: Int32Array.of(0),
      groupIndices: Int32Array.of(0),
    };
    const runDir = join(root, 'empty');
    await expect(
      train.run({ preset: 'cpu-sudoku4', sets, out: runDir }, { train: empty, test: null, trainName: 'mem/train' }),
    ).rejects.toThrow(/^mem\/train: the training split holds no examples \(0 rows, 0 groups\)/);
    expect(existsSync(runDir)).toBe(false);
    expect(() => new TrainSampler(empty, 0, 'mem/train')).toThrow(/mem\/train: the training split holds no examples/);
  });
  // precision=bf16 without bf16 hardware runs on the fp32 kernel, slower than fp32: the run says so
  // once, through onWarning; with AVX512_BF16 or AMX (or off the native backend) it says nothing.
  it('precision=bf16 warns where the CPU emulates bf16, and only there', async () => {
    const warnings: string[] = [];
    await train.run(
      { preset: 'cpu-sudoku4', sets: [...sets, 'steps=2', 'precision=bf16'], out: join(root, 'bf16') },
      d.dir,
      {
        onWarning: m => warnings.push(m),
      },
    );
    const emulated = nativeBackend !== null && device().name === 'native' && addon !== null && !addon.info().bf16Native;
    expect(warnings.filter(m => m.startsWith('precision=bf16: this CPU has no AVX512_BF16 or AMX'))).toHaveLength(
      emulated ? 1 : 0,
    );
    // at most one bf16 warning, and the VDPBF16PS one never where bf16 is emulated or on AMX
    const bf16Warnings = warnings.filter(m => m.startsWith('precision=bf16:'));
    expect(bf16Warnings.length).toBeLessThanOrEqual(1);
    if (emulated || (addon?.info().amx ?? false))
      expect(bf16Warnings.filter(m => m.includes('VDPBF16PS'))).toHaveLength(0);
  });
  // VDPBF16PS without AMX warns where its one-thread peak is under 1.3x the FMAs' (an Intel core: ~0.5x),
  // not where it is twice (Zen 4/5)
  it('bf16PeakWarning: the bf16 unit against the fp32 FMAs', () => {
    expect(bf16PeakWarning(140, 69)).toMatch(
      /^precision=bf16: this CPU's bf16 products run on VDPBF16PS \(AMX tiles absent or off\), which reads 69 GFLOP\/s on one thread against 140 for fp32's FMAs/,
    );
    expect(bf16PeakWarning(140, 170)).not.toBeNull();
    expect(bf16PeakWarning(214, 428)).toBeNull();
    expect(bf16PeakWarning(100, 130)).toBeNull();
    expect(bf16PeakWarning(0, 0)).toBeNull();
  });
});
