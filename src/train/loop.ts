/**
 * loop.ts: the training loop as the official code runs it (reference/trm-algorithm.md 6.1, 7-9;
 * pretrain.py train_batch): one batch = one supervision step = one optimizer step. Per step:
 * fill halted carry slots -> forward + loss -> (zero grads, backward) -> dense optimizer and
 * SignSGD on the batch's puzzle-embedding rows -> EMA -> halting -> metrics; every log_interval a
 * metrics line, every eval_interval an evaluation, checkpoints through the caller's hooks.
 * The recursion depth of a step (randomised n / T / N_sup, curriculum, supervision weights) comes
 * from recursion.ts. Not here: files, progress bars and signals (the CLI), the evaluation (evaluate.ts).
 * Everything of a step runs as kernels on the device; the host reads one small readout per step
 * (q, per-sample counts and losses: stepReadout), because the official data order depends on which
 * slots halt (only halted slots take new samples) and a non-finite loss must stop the run before
 * the optimizer touches the weights.
 */
import type { DatasetSplit } from '../data/dataset.js';
import { TrmError } from '../errors.js';
import { Rng, STREAM } from '../data/rng.js';
import { allocActs, type StepActs } from '../model/acts.js';
import {
  device,
  f32,
  fill,
  type F32T,
  i32,
  type I32T,
  read,
  setGemmPrecision,
  sizeOf,
  write,
} from '../kernels/core.js';
import { checkPuzzleIds } from '../nn/embedding.js';
import { type Weights, weightsView } from '../model/params.js';
import {
  type HostBatch,
  lossesOf,
  type StepLosses,
  type StepResult,
  supervisionStep,
  uploadBatch,
} from '../model/step.js';
import { fillHalted, updateHalting } from './carry.js';
import type { TrainConfig } from './config.js';
import { newBatch, TrainSampler } from './data.js';
import { addStep, emptySums, summarize, type TrainMetrics } from './metrics.js';
import { denseStep, emaStep, emaWeightsInto, puzzleEmbStep } from './optim.js';
import { lrAt } from './schedule.js';
import { milestoneLabels } from './milestones.js';
import { drawNsup, fillRng, maxDepth, stepDepth, supervisionWeights } from './recursion.js';
import { checkActsFit, keptPrecision, type TrainState } from './state.js';

/** Buffers a run reuses every step (not part of the state: rebuilt on resume). */
export interface Workspace {
  acts: StepActs;
  grads: Weights;
  fresh: HostBatch;
  sampler: TrainSampler;
  /** per-sample loss weights (hsw_decay): filled on the host, written to the device */
  weights: Float32Array;
  weightsDev: F32T;
  /** (B) the distinct puzzle ids of a batch, for the SignSGD rows (host, then device) */
  rows: Int32Array;
  rowsDev: I32T;
  /** milestone supervision: the train split's milestone indices, the fresh samples' example
   *  indices and this step's labels (host); null without milestones */
  milestones: { rounds: Uint8Array; examples: Int32Array; labels: Int32Array } | null;
}

/** The host's view of a step: the losses and the per-slot outputs halting and metrics need. */
export interface StepReadout extends StepLosses {
  q: Float32Array; // (B, 2)
  seqCorrect: Uint8Array; // (B)
  counts: Int32Array; // (2B)
}

/** Read a step's outputs (one round trip on a GPU; free on host devices, where the arrays are the
 *  step's own buffers and stay valid until the next step). */
export async function stepReadout(r: StepResult): Promise<StepReadout> {
  const [q, seqCorrect, counts, tokLoss, bce] = await Promise.all([
    read(r.q),
    read(r.seqCorrect),
    read(r.counts),
    read(r.tokLoss),
    read(r.bce),
  ]);
  return { q, seqCorrect, counts, ...lossesOf(tokLoss, counts, bce, sizeOf(r.bce)) };
}

/** The run's GEMM precision on the active device. f16 (f16 storage of the GEMM operands) needs a
 *  device that offers it (webgpu); bf16 is the bf16 GEMM path's; fp32 resets the device. */
export function usePrecision(p: TrainConfig['precision']): void {
  const dev = device();
  if (p === 'f16') {
    if (!dev.setPrecision)
      throw new TrmError(
        'TRM_BAD_CONFIG',
        `precision=f16: f16 storage of GEMM operands needs --backend webgpu; the ${dev.name} backend computes in fp32 (use precision=fp32 or bf16)`,
      );
    dev.setPrecision('f16');
  } else dev.setPrecision?.('fp32');
}

export function createWorkspace(st: TrainState, train: DatasetSplit): Workspace {
  usePrecision(st.config.precision);
  const B = st.config.batch_size,
    deepest = { ...st.model, L_cycles: maxDepth(st.config, st.model).n };
  // bf16: the SwiGLU activations the backward reads are kept in bf16 (model/acts.ts)
  const kept = keptPrecision(st.config);
  checkActsFit(deepest, B, 'batch_size', kept);
  const acts = allocActs(deepest, B, kept);
  if (st.config.milestones !== 'none' && !train.milestones)
    throw new TrmError(
      'TRM_DATASET',
      `milestones = ${st.config.milestones}: the training split's milestones are not loaded (train.run reads them from the split's all__milestones.npy)`,
    );
  return {
    acts,
    grads: weightsView(st.model),
    fresh: newBatch(st.config.batch_size, acts.d.L),
    sampler: new TrainSampler(train, st.config.seed),
    weights: new Float32Array(B),
    weightsDev: f32(B),
    rows: new Int32Array(B),
    rowsDev: i32(B),
    milestones:
      st.config.milestones !== 'none'
        ? { rounds: train.milestones!, examples: new Int32Array(B), labels: new Int32Array(B * acts.d.L) }
        : null,
  };
}

/** lr of the dense and the puzzle-embedding optimizer at optimizer step t (from 1). */
export function learningRates(st: TrainState, t: number): { lr: number; puzzleLr: number } {
  const s = { ...st.config, steps: st.totalSteps };
  return { lr: lrAt(t, st.config.lr, s), puzzleLr: lrAt(t, st.config.puzzle_emb_lr, s) };
}

/** One optimizer step; st.step advances by one. Throws TRM_NAN (before any update) on a non-finite loss. */
export async function trainStep(st: TrainState, ws: Workspace): Promise<StepReadout & { netCalls: number }> {
  const { config: cfg, model: c, params: w, carry } = st,
    B = cfg.batch_size,
    t = st.step + 1;
  const ms = ws.milestones;
  ws.sampler.next(st.cursor, ws.fresh, ms?.examples);
  const rng = fillRng(cfg, t);
  fillHalted(carry, ws.fresh, w, c.hidden_size, {
    init: { mode: cfg.train_init, scale: cfg.init_scale, training: true },
    rng,
    drawCap: cfg.rand_nsup_width > 0 ? r => drawNsup(cfg, c, r) : undefined,
  });
  if (ms) {
    // refilled slots (still flagged halted) take their sample's milestone indices
    const L = ms.labels.length / B;
    for (let b = 0; b < B; b++)
      if (carry.halted[b]) carry.rounds.set(ms.rounds.subarray(ms.examples[b] * L, (ms.examples[b] + 1) * L), b * L);
  }
  const depth = stepDepth(cfg, c, t, st.totalSteps);
  const cStep = depth.n === c.L_cycles && depth.T === c.H_cycles ? c : { ...c, L_cycles: depth.n, H_cycles: depth.T };
  let weights: F32T | undefined;
  if (cfg.hsw_decay < 1) {
    write(ws.weightsDev, supervisionWeights(ws.weights, carry.steps, cfg.hsw_decay));
    weights = ws.weightsDev;
  }
  // EqR noise (train_noise > 0): the step's own counter-based stream, so a resumed run draws the same
  carry.noise = c.train_noise > 0 ? new Rng(cfg.seed, STREAM.eqrNoise, t) : null;
  checkPuzzleIds(carry.batch.puzzleIds, B, c.num_puzzle_identifiers);
  uploadBatch(carry.dev, carry.batch);
  if (ms) {
    // this step's milestone as the labels; the solution for the halting target (train/milestones.ts)
    const dev = carry.dev;
    dev.finalLabels ??= i32(ms.labels.length);
    write(dev.finalLabels, carry.batch.labels);
    write(
      dev.labels,
      milestoneLabels(
        ms.labels,
        carry.batch.labels,
        carry.rounds,
        carry.steps,
        carry.cap,
        c.halt_max_steps,
        cfg.milestone_schedule,
      ),
    );
  }
  fill(ws.grads.data, 0, sizeOf(ws.grads.data)); // the one place gradients are zeroed (kernels add into them)
  const r = await stepReadout(supervisionStep(cStep, w, ws.acts, carry, carry.dev, ws.grads, 1 / B, weights));
  if (!Number.isFinite(r.loss))
    throw new TrmError(
      'TRM_NAN',
      `step ${t}: loss is ${r.loss} (lm ${r.lmLoss}, q_halt ${r.qHaltLoss}); stopped before updating the weights. Lower lr or raise warm-up`,
    );
  const { lr, puzzleLr } = learningRates(st, t);
  denseStep(w, ws.grads, st.opt, cfg, lr, t);
  puzzleEmbStep(w, ws.grads, carry.batch.puzzleIds, ws.rows, ws.rowsDev, puzzleLr, cfg.puzzle_emb_weight_decay);
  if (st.ema) emaStep(st.ema, w, cfg.ema_rate);
  updateHalting(carry, r.q, {
    nsup: c.halt_max_steps,
    exploreProb: c.halt_exploration_prob,
    training: true,
    seed: cfg.seed,
    step: t,
  });
  st.step = t;
  return { ...r, netCalls: depth.T * (depth.n + 1) };
}

/** The weights to evaluate and save: the EMA (buffers current) or the live parameters. */
export function evalWeights(st: TrainState, scratch?: Weights): Weights {
  if (!st.ema) return st.params;
  return emaWeightsInto(scratch ?? weightsView(st.model), st.ema, st.params);
}

export interface LogRecord extends TrainMetrics {
  step: number;
  lr: number;
}

export interface TrainHooks {
  /** after every step */
  onStep?(st: TrainState, r: StepReadout, seconds: number): void;
  /** every log_interval steps and at the end: metrics averaged over the interval */
  onLog?(rec: LogRecord): void;
  /** every eval_interval steps and at the end (awaited) */
  onEval?(st: TrainState): void | Promise<void>;
  /** checkpoint_interval (or each evaluation), at the end, and when stopped (awaited) */
  onSave?(st: TrainState, why: 'interval' | 'end' | 'stop'): void | Promise<void>;
  /** polled between steps (SIGINT) */
  stopRequested?(): boolean;
}

/** Run until totalSteps (or a stop request). Yields to the event loop between steps so signals land. */
export async function train(st: TrainState, ws: Workspace, hooks: TrainHooks = {}): Promise<'done' | 'stopped'> {
  // precision=bf16: every product of the steps and evaluations below (a checkpoint written
  // before the key existed trained in fp32)
  const prevPrecision = setGemmPrecision(st.config.precision === 'bf16' ? 'bf16' : 'fp32');
  try {
    return await trainLoop(st, ws, hooks);
  } finally {
    setGemmPrecision(prevPrecision);
  }
}

async function trainLoop(st: TrainState, ws: Workspace, hooks: TrainHooks): Promise<'done' | 'stopped'> {
  const cfg = st.config,
    total = st.totalSteps;
  while (st.step < total) {
    if (hooks.stopRequested?.()) {
      await hooks.onSave?.(st, 'stop');
      return 'stopped';
    }
    const t0 = performance.now();
    const r = await trainStep(st, ws);
    const seconds = (performance.now() - t0) / 1000;
    addStep(st.sums, r, st.carry, seconds, r.netCalls);
    hooks.onStep?.(st, r, seconds);
    const end = st.step === total;
    if (st.step % cfg.log_interval === 0 || end) {
      hooks.onLog?.({ step: st.step, lr: learningRates(st, st.step).lr, ...summarize(st.sums) });
      st.sums = emptySums();
    }
    const evalNow = (cfg.eval_interval > 0 && st.step % cfg.eval_interval === 0) || end;
    if (evalNow) await hooks.onEval?.(st);
    if (end) await hooks.onSave?.(st, 'end');
    else if (cfg.checkpoint_interval > 0 ? st.step % cfg.checkpoint_interval === 0 : evalNow)
      await hooks.onSave?.(st, 'interval');
    await new Promise<void>(resolve => setImmediate(resolve));
  }
  return 'done';
}
