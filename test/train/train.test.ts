/** The training loop end to end on tiny 4x4 data: overfitting, exact resume, NaN and checkpoint errors. */
import { copyFileSync, mkdtempSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TrmError } from '../../src/errors.js';
import { resolveTrainConfig, type TrainConfig } from '../../src/train/config.js';
import { loadModel, loadTrainState, saveCheckpoint } from '../../src/train/checkpoint.js';
import { evaluate } from '../../src/train/evaluate.js';
import { createWorkspace, evalWeights, type LogRecord, train } from '../../src/train/loop.js';
import { createTrainState, type TrainState } from '../../src/train/state.js';
import { host } from '../helpers.js';
import { makeSudoku4, type Sudoku4 } from './fixture.js';

let d: Sudoku4;
const root = mkdtempSync(join(tmpdir(), 'trm-train-'));
beforeAll(async () => {
  d = await makeSudoku4(40, 20, 2, root);
});

const tiny = (over: Partial<TrainConfig> = {}) =>
  resolveTrainConfig('cpu-sudoku4', {
    model: { hidden_size: 16, puzzle_emb_ndim: 16 },
    batch_size: 4,
    steps: 6,
    log_interval: 2,
    eval_interval: 0,
    ...over,
  });

describe('training loop', () => {
  it('overfits a few puzzles to 100% exact accuracy', async () => {
    const few = await makeSudoku4(4, 1, 0, mkdtempSync(join(tmpdir(), 'trm-few-')));
    const cfg = resolveTrainConfig('cpu-sudoku4', {
      batch_size: 4,
      steps: 160,
      lr: 3e-3,
      puzzle_emb_lr: 3e-3,
      lr_warmup_steps: 10,
      ema: false,
      eval_interval: 0,
      log_interval: 20,
    });
    const st = createTrainState(cfg, few.train.meta);
    const before = await evaluate(st.model, st.params, few.train, { batchSize: 4 });
    await train(st, createWorkspace(st, few.train));
    const after = await evaluate(st.model, st.params, few.train, { batchSize: 4 });
    expect(before.exact_acc).toBe(0);
    expect(after.exact_acc).toBe(1);
  });

  /** k steps, save, load, k more = 2k uninterrupted (losses, logs, weights, moments, EMA, carry). */
  const resumesExactly = async (over: Partial<TrainConfig>, runName: string) => {
    const runLogged = async (st: TrainState, losses: number[], logs: LogRecord[], stopAt?: number) => {
      let stop = false;
      await train(st, createWorkspace(st, d.train), {
        onStep: (s, r) => {
          losses.push(r.loss);
          if (s.step === stopAt) stop = true;
        },
        onLog: rec => logs.push({ ...rec, step_time: 0 }),
        stopRequested: () => stop,
      });
    };
    const cfg = tiny({ steps: 7, ...over });
    const full = createTrainState(cfg, d.train.meta),
      lossA: number[] = [],
      logA: LogRecord[] = [];
    await runLogged(full, lossA, logA);

    const part = createTrainState(cfg, d.train.meta),
      lossB: number[] = [],
      logB: LogRecord[] = [];
    await runLogged(part, lossB, logB, 3); // stops after step 3 (mid log interval)
    expect(part.step).toBe(3);
    const run = join(root, runName);
    saveCheckpoint(run, part);
    const { state: resumed } = loadTrainState(run);
    expect(resumed.step).toBe(3);
    await runLogged(resumed, lossB, logB);
    expect(lossB).toEqual(lossA);
    expect(logB).toEqual(logA);
    expect(resumed.params.data).toEqual(full.params.data);
    expect(resumed.opt.m).toEqual(full.opt.m);
    expect(resumed.opt.v).toEqual(full.opt.v);
    expect(resumed.ema).toEqual(full.ema);
    expect(resumed.carry.y).toEqual(full.carry.y);
    expect(resumed.carry.z).toEqual(full.carry.z);
    expect(resumed.carry.halted).toEqual(full.carry.halted);
    expect(resumed.cursor).toEqual(full.cursor);
  };
  it('resumes exactly: k steps, save, load, k more = 2k uninterrupted (losses, logs, weights, moments, EMA, carry)', () =>
    resumesExactly({}, 'resume-run'));
  // EqR damped noisy updates: their noise stream is keyed by the step, so it resumes like the rest
  it('resumes exactly with damping, train_noise and random-per-sample init', () =>
    resumesExactly(
      {
        model: { hidden_size: 16, puzzle_emb_ndim: 16, damping: 0.05, train_noise: 0.01 },
        train_init: 'random-per-sample',
      },
      'resume-run-eqr',
    ));

  it('a NaN loss stops with TRM_NAN naming the step, before touching the weights', async () => {
    const st = createTrainState(tiny({ steps: 4 }), d.train.meta);
    const ws = createWorkspace(st, d.train);
    await train(st, ws, { stopRequested: () => st.step === 2 });
    host(st.params.lmHead)[0] = NaN;
    const snapshot = host(st.params.data).slice();
    st.config.steps = 4;
    await expect(train(st, ws)).rejects.toThrow(/step 3: loss is NaN/);
    expect(st.step).toBe(2);
    expect(st.params.data).toEqual(snapshot);
  });

  it('checkpoint model.safetensors holds the EMA weights and loads for evaluation', async () => {
    const st = createTrainState(tiny({ steps: 3 }), d.train.meta);
    await train(st, createWorkspace(st, d.train));
    const dir = saveCheckpoint(join(root, 'ema-run'), st, { note: 1 });
    const m = loadModel(dir);
    expect(m.weights.data).toEqual(evalWeights(st).data);
    expect(m.weights.data).not.toEqual(st.params.data);
    const byFile = loadModel(join(dir, 'model.safetensors'));
    expect(byFile.config).toEqual(st.model);
    const e = await evaluate(m.config, m.weights, d.test, { batchSize: 8, nsup: 2 });
    expect(e.exact_by_step.length).toBe(2);
  });
});

describe('checkpoint errors', () => {
  let dir = '';
  beforeAll(async () => {
    const st = createTrainState(tiny({ steps: 1 }), d.train.meta);
    await train(st, createWorkspace(st, d.train));
    dir = saveCheckpoint(join(root, 'bad-run'), st);
  });
  const copy = (name: string) => {
    const out = mkdtempSync(join(tmpdir(), 'trm-ck-'));
    for (const f of ['checkpoint.json', 'model.safetensors', 'train_state.safetensors'])
      copyFileSync(join(dir, f), join(out, f));
    return { out, file: join(out, name) };
  };
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return e instanceof TrmError ? `${e.code}: ${e.message}` : String(e);
    }
    return 'no error';
  };

  it('a truncated state file is an error naming the tensor', async () => {
    const { out, file } = copy('train_state.safetensors');
    truncateSync(file, readFileSync(file).length - 10);
    expect(code(() => loadTrainState(out))).toMatch(
      /TRM_BAD_SAFETENSORS: .*train_state.safetensors: tensor '[^']+'[\s\S]*truncated/,
    );
  });
  it('a truncated model file is an error naming the tensor', async () => {
    const { out, file } = copy('model.safetensors');
    truncateSync(file, readFileSync(file).length - 10);
    expect(code(() => loadModel(out))).toMatch(/model.safetensors: tensor '[^']+'[\s\S]*truncated/);
  });
  it('a model config that does not match the tensors names the tensor and both shapes', async () => {
    const { out, file } = copy('checkpoint.json');
    const side = JSON.parse(readFileSync(file, 'utf8'));
    side.model_config.hidden_size = 32;
    side.model_config.puzzle_emb_ndim = 32;
    writeFileSync(file, JSON.stringify(side));
    expect(code(() => loadModel(out))).toMatch(
      /TRM_BAD_CHECKPOINT: .*tensor 'inner\.H_init' has shape \[16\], this config needs \[32\]/,
    );
    expect(code(() => loadTrainState(out))).toMatch(
      /TRM_BAD_CHECKPOINT: .*tensor 'param\.inner\.H_init' has shape \[16\], expected \[32\]/,
    );
  });
  it('resume refuses shape-defining changes and a different batch size', async () => {
    expect(code(() => loadTrainState(dir, { model: { hidden_size: 32 } }))).toMatch(
      /cannot resume with hidden_size = 32/,
    );
    expect(code(() => loadTrainState(dir, { batch_size: 8 }))).toMatch(/cannot resume with batch_size = 8/);
    expect(loadTrainState(dir, { steps: 9, lr: 1e-4 }).state.totalSteps).toBe(9);
  });
  it('a missing or damaged sidecar, and a path that is no checkpoint, are clear errors', async () => {
    const { out, file } = copy('checkpoint.json');
    writeFileSync(file, '{"format":');
    expect(code(() => loadTrainState(out))).toMatch(/checkpoint\.json: not valid JSON/);
    expect(code(() => loadTrainState(join(root, 'nowhere')))).toMatch(/no such checkpoint/);
    expect(code(() => loadTrainState(root))).toMatch(/not a checkpoint/);
  });
});
