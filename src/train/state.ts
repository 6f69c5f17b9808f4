/**
 * state.ts: TrainState, everything a run owns and a checkpoint holds (style 14): the resolved
 * configs, the step, parameters, optimizer moments, EMA shadow, carry and data cursor. The RNG
 * needs no field: the data order is a function of (seed, epoch) and ACT exploration of
 * (seed, step). Also the model config a dataset implies, and the run length (spec 9).
 */
import type { DatasetMetadata } from '../data/dataset.js';
import { device, type F32T, type Precision } from '../kernels/core.js';
import { actsBytes, allocActs } from '../model/acts.js';
import { TrmError } from '../errors.js';
import { dims, resolveConfig, type TrmConfig } from '../model/config.js';
import { createParams, type Weights } from '../model/params.js';
import { newTrainCarry, type TrainCarry } from './carry.js';
import type { TrainConfig } from './config.js';
import type { DataCursor } from './data.js';
import { emptySums, type MetricSums } from './metrics.js';
import { emaInit, optInit, type OptState } from './optim.js';

export interface TrainState {
  config: TrainConfig;
  model: TrmConfig;
  /** optimizer steps of the whole run */
  totalSteps: number;
  /** optimizer steps done */
  step: number;
  params: Weights;
  opt: OptState;
  /** EMA shadow (parameter layout), null without EMA */
  ema: F32T | null;
  carry: TrainCarry;
  cursor: DataCursor;
  /** metrics of the log interval in progress (saved, so a resumed run logs the same lines) */
  sums: MetricSums;
}

/** The model config: the preset's architecture plus the sizes the dataset fixes. */
export function modelConfigFor(cfg: TrainConfig, meta: DatasetMetadata): TrmConfig {
  const fromData = {
    vocab_size: meta.vocab_size,
    seq_len: meta.seq_len,
    num_puzzle_identifiers: meta.num_puzzle_identifiers,
  };
  for (const [k, v] of Object.entries(fromData)) {
    const set = (cfg.model as Record<string, unknown>)[k];
    if (set !== undefined && set !== v)
      throw new TrmError(
        'TRM_BAD_CONFIG',
        `train config: ${k} = ${set} was set, but the dataset has ${k} = ${v}; drop the setting (the data decides it)`,
      );
  }
  return resolveConfig({ ...cfg.model, ...fromData });
}

/** Optimizer steps of the run: `steps`, or int(epochs * groups * mean examples / B) (spec 9). */
export function runLength(cfg: TrainConfig, meta: DatasetMetadata): number {
  if (cfg.steps > 0) return cfg.steps;
  return Math.floor((cfg.epochs * meta.total_groups * meta.mean_puzzle_examples) / cfg.batch_size);
}

/** Throws TRM_OUT_OF_MEMORY, before allocating, when B samples' activations would not fit in 80% of the
 *  device's memory (RAM on a host device). kept: the precision the step keeps its SwiGLU activations in
 *  (train precision=bf16 keeps them in bf16 where the device has bf16 tensors: half their bytes). */
export function checkActsFit(c: TrmConfig, B: number, key: string, kept: Precision = 'fp32'): void {
  const totalmem = () => device().memoryBytes;
  const perSample = actsBytes(allocActs(c, 1, kept)),
    need = perSample * B;
  if (need <= 0.8 * totalmem()) return;
  const fit = Math.max(1, Math.floor((0.5 * totalmem()) / perSample));
  throw new TrmError(
    'TRM_OUT_OF_MEMORY',
    `${key} ${B} needs about ${(need / 2 ** 30).toFixed(1)} GiB of activations ` +
      `(${(perSample / 2 ** 20).toFixed(1)} MiB per sample), this machine has ${(totalmem() / 2 ** 30).toFixed(1)} GiB; use e.g. --set ${key}=${fit}`,
  );
}

/** The precision a run keeps its SwiGLU activations in (train/loop.ts allocates them so). */
export function keptPrecision(cfg: TrainConfig): Precision {
  return cfg.precision === 'bf16' ? 'bf16' : 'fp32';
}

/** A fresh run: parameters from the seed, zero moments, EMA = parameters, all slots halted. */
export function createTrainState(cfg: TrainConfig, meta: DatasetMetadata): TrainState {
  const model = modelConfigFor(cfg, meta);
  checkActsFit(model, cfg.batch_size, 'batch_size', keptPrecision(cfg));
  const d = dims(model, cfg.batch_size);
  const params = createParams(model, cfg.seed);
  return {
    config: cfg,
    model,
    totalSteps: runLength(cfg, meta),
    step: 0,
    params,
    opt: optInit(params),
    ema: cfg.ema ? emaInit(params) : null,
    carry: newTrainCarry(d.B, d.L, d.S, d.D),
    cursor: { epoch: 0, pos: 0 },
    sums: emptySums(),
  };
}
