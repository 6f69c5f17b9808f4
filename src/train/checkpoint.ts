/**
 * checkpoint.ts: run checkpoints (reference/trm-algorithm.md 4, 8; style 13-14). A checkpoint is
 * a directory RUN/checkpoints/step_NNNNNNN/ written under a temporary name and renamed:
 *   model.safetensors        the weights to use (EMA when on), official names: loads like an official checkpoint
 *   train_state.safetensors  param.*, adam_m.*, adam_v.*, ema.* by official name; carry.* (y, z, steps, halted, samples)
 *   checkpoint.json          format, step, resolved model + train config, data cursor, metrics
 * RUN/latest names the newest one. The RNG needs no state (data order from (seed, epoch), ACT
 * exploration from (seed, step)). Loading checks every tensor by name and shape. Device tensors
 * are read to the host (readSync: host devices) and loaded ones uploaded to the active device.
 * A crash at any moment of a save leaves RUN/latest naming a complete checkpoint (the new one only
 * once it is whole); a failed write is one TrmError 'TRM_WRITE' (`cannot write PATH: reason`).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { TrmError } from '../errors.js';
import { failpoint, writeError, writeFileAtomic } from '../io/files.js';
import { sidecarSchema } from '../io/schema.js';
import { encodeSafetensors, readSafetensors, toF32, toI32, type Tensor, type WriteTensor } from '../io/safetensors.js';
import { dims, resolveConfig, storedConfig, swigluInner, type TrmConfig } from '../model/config.js';
import { device, read, readSync, upload, write } from '../kernels/core.js';
import {
  canonicalName,
  type HostWeights,
  loadStateDict,
  weightsOf,
  type NamedTensor,
  paramSpec,
  specSize,
  stateDict,
  type Weights,
  weightsView,
} from '../model/params.js';
import { resolveTrainConfig, SHAPE_KEYS, storedTrainConfig, type TrainConfig } from './config.js';
import type { DataCursor } from './data.js';
import { emptySums, type MetricSums } from './metrics.js';
import { newTrainCarry } from './carry.js';
import { slotMilestones } from './milestones.js';
import type { TrainState } from './state.js';

export const CHECKPOINT_FORMAT = 'trm-checkpoint/1';

export interface Sidecar {
  format: string;
  step: number;
  total_steps: number;
  model_config: TrmConfig;
  train_config: TrainConfig;
  /** which weights model.safetensors holds */
  weights: 'ema' | 'raw';
  cursor: DataCursor;
  sums: MetricSums;
  /** ACT exploration and data order are counter-based: nothing to store beyond seed, step, cursor */
  rng: { kind: 'counter'; seed: number };
  metrics: Record<string, unknown>;
  data?: string;
  saved_at: string;
}

function bad(msg: string): never {
  throw new TrmError('TRM_BAD_CHECKPOINT', msg);
}

/** Write a file atomically (temporary name, then rename); moved to src/io/files.ts, re-exported for its users. */
export { writeFileAtomic };

function trainStateTensors(st: TrainState): Map<string, WriteTensor> {
  const out = new Map<string, WriteTensor>();
  const view = (a: Float32Array, e: { offset: number; size: number }) => a.subarray(e.offset, e.offset + e.size);
  const params = readSync(st.params.data),
    ema = st.ema && readSync(st.ema),
    m = readSync(st.opt.m),
    v = readSync(st.opt.v);
  for (const e of st.params.spec) {
    out.set(`param.${e.name}`, { shape: e.shape, data: view(params, e) });
    if (ema) out.set(`ema.${e.name}`, { shape: e.shape, data: view(ema, e) });
    if (!e.trainable) continue;
    out.set(`adam_m.${e.name}`, { shape: e.shape, data: view(m, e) });
    out.set(`adam_v.${e.name}`, { shape: e.shape, data: view(v, e) });
  }
  const c = st.carry,
    B = c.steps.length,
    L = c.batch.inputs.length / B,
    y = readSync(c.y),
    SD = y.length / B;
  out.set('carry.y', { shape: [B, SD], data: y });
  out.set('carry.z', { shape: [B, SD], data: readSync(c.z) });
  out.set('carry.steps', { shape: [B], data: c.steps });
  out.set('carry.halted', { shape: [B], data: c.halted });
  out.set('carry.inputs', { shape: [B, L], data: c.batch.inputs });
  out.set('carry.labels', { shape: [B, L], data: c.batch.labels });
  out.set('carry.puzzle_ids', { shape: [B], data: c.batch.puzzleIds });
  out.set('carry.cap', { shape: [B], data: c.cap });
  if (st.config.milestones !== 'none') out.set('carry.rounds', { shape: [B, L], data: c.rounds });
  return out;
}

/** The weights a checkpoint's model.safetensors holds (EMA shadow for trainable tensors, current
 *  buffers: spec 8), assembled on the host from host-readable state (see hostSnapshot). */
function evalWeightsHost(st: TrainState): HostWeights {
  const p = readSync(st.params.data);
  if (!st.ema) return weightsOf(st.params.spec, p);
  const e = readSync(st.ema),
    out = new Float32Array(p.length);
  for (const en of st.params.spec) out.set((en.trainable ? e : p).subarray(en.offset, en.offset + en.size), en.offset);
  return weightsOf(st.params.spec, out);
}

/** A copy of st whose tensors are host arrays (one read per tensor): what saveCheckpoint needs on
 *  a GPU device. On a host device st itself is returned (its tensors are host arrays already). */
export async function hostSnapshot(st: TrainState): Promise<TrainState> {
  if (device().host) return st;
  const [params, m, v, ema, y, z] = await Promise.all([
    read(st.params.data),
    read(st.opt.m),
    read(st.opt.v),
    st.ema ? read(st.ema) : Promise.resolve(null),
    read(st.carry.y),
    read(st.carry.z),
  ]);
  return { ...st, params: weightsOf(st.params.spec, params), opt: { m, v }, ema, carry: { ...st.carry, y, z } };
}

/**
 * Save st under runDir/checkpoints/step_N and point runDir/latest at it; returns the directory.
 * The files go to step_N.tmp-PID, which is renamed when whole; `latest` is replaced atomically last.
 * A checkpoint that `latest` already names is not replaced (same step: nothing was trained since).
 */
export function saveCheckpoint(
  runDir: string,
  st: TrainState,
  metrics: Record<string, unknown> = {},
  data?: string,
): string {
  const name = `step_${String(st.step).padStart(7, '0')}`;
  const root = join(runDir, 'checkpoints'),
    dir = join(root, name),
    tmp = join(root, `${name}.tmp-${process.pid}`);
  const latest = join(runDir, 'latest');
  if (existsSync(join(dir, 'checkpoint.json')) && existsSync(latest) && readFileSync(latest, 'utf8').trim() === name)
    return dir;
  let writing = dir;
  try {
    mkdirSync(tmp, { recursive: true });
    writing = tmp;
    const ema = st.ema !== null;
    const modelMeta = {
      trm_model_config: JSON.stringify(storedConfig(st.model)),
      trm_step: String(st.step),
      trm_weights: ema ? 'ema' : 'raw',
    };
    const out = new Map<string, WriteTensor>();
    for (const [k, t] of stateDict(evalWeightsHost(st))) out.set(k, { shape: t.shape, data: t.data });
    writeFileSync((writing = join(tmp, 'model.safetensors')), encodeSafetensors(out, { format: 'pt', ...modelMeta }));
    failpoint('checkpoint:model');
    writeFileSync(
      (writing = join(tmp, 'train_state.safetensors')),
      encodeSafetensors(trainStateTensors(st), { format: 'trm' }),
    );
    const side: Sidecar = {
      format: CHECKPOINT_FORMAT,
      step: st.step,
      total_steps: st.totalSteps,
      model_config: storedConfig(st.model) as TrmConfig,
      train_config: storedTrainConfig(st.config) as TrainConfig,
      weights: ema ? 'ema' : 'raw',
      cursor: { ...st.cursor },
      sums: { ...st.sums },
      rng: { kind: 'counter', seed: st.config.seed },
      metrics,
      data,
      saved_at: new Date().toISOString(),
    };
    writeFileSync((writing = join(tmp, 'checkpoint.json')), JSON.stringify(side, null, 2) + '\n');
    failpoint('checkpoint:files');
    writing = dir;
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true }); // a leftover of an attempt that crashed before updating latest
    renameSync(tmp, dir);
    failpoint('checkpoint:renamed');
    writing = latest;
    writeFileAtomic(latest, name + '\n');
  } catch (e) {
    try {
      rmSync(tmp, { recursive: true, force: true });
    } catch {
      /* the write error says more */
    }
    throw writeError(writing, e);
  }
  return dir;
}

/** A checkpoint directory from a checkpoint dir, a run dir (its `latest`) or a file inside a checkpoint. */
export function findCheckpoint(path: string): string {
  if (!existsSync(path)) bad(`${path}: no such checkpoint, run directory or file`);
  if (statSync(path).isFile()) return dirname(path);
  if (existsSync(join(path, 'checkpoint.json'))) return path;
  const latest = join(path, 'latest');
  if (existsSync(latest)) {
    const dir = join(path, 'checkpoints', readFileSync(latest, 'utf8').trim());
    if (!existsSync(join(dir, 'checkpoint.json')))
      bad(`${latest} names ${dir}, which has no checkpoint.json (deleted or incomplete)`);
    return dir;
  }
  if (existsSync(join(path, 'config.json')))
    bad(
      `${path}: this run has no checkpoint yet (it stopped before its first save); start it again: trm train --data DIR --preset NAME --out ${path}`,
    );
  bad(`${path}: not a checkpoint (no checkpoint.json) nor a run directory (no 'latest')`);
}

/** The first problem of a zod result as `field.path: what` (e.g. "cursor.pos: expected a number, got a string"). */
function zodProblem(e: z.ZodError): string {
  const i = e.issues[0];
  return `${i.path.length ? i.path.join('.') : '(the whole file)'}: ${i.message}`;
}

/** checkpoint.json of a checkpoint directory, every field checked (errors name the file and the field). */
export function readSidecar(dir: string): Sidecar {
  const file = join(dir, 'checkpoint.json');
  if (!existsSync(file))
    bad(`${file}: missing (a checkpoint directory holds checkpoint.json, model.safetensors, train_state.safetensors)`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    bad(`${file}: not valid JSON (${(e as Error).message}); the checkpoint is damaged`);
  }
  const fmt = (raw as { format?: unknown } | null)?.format;
  if (raw !== null && typeof raw === 'object' && fmt !== CHECKPOINT_FORMAT)
    bad(`${file}: format ${JSON.stringify(fmt)}, expected ${CHECKPOINT_FORMAT}`);
  const r = sidecarSchema.safeParse(raw);
  if (!r.success) bad(`${file}: ${zodProblem(r.error)}; the checkpoint is damaged`);
  const s = raw as Sidecar;
  if (s.step > s.total_steps)
    bad(`${file}: step ${s.step} is past total_steps ${s.total_steps}; the checkpoint is damaged`);
  try {
    resolveConfig(s.model_config as Partial<TrmConfig>); // checked only: the loaders resolve it with their overrides
  } catch (e) {
    if (e instanceof TrmError) bad(`${file}: model_config: ${e.message.replace(/^model config: /, '')}`);
    throw e;
  }
  return s;
}

function tensorOf(file: Map<string, Tensor>, path: string, name: string, shape: number[]): Tensor {
  const t = file.get(name);
  if (!t) bad(`${path}: missing tensor '${name}'`);
  if (t.shape.length !== shape.length || t.shape.some((v, i) => v !== shape[i]))
    bad(`${path}: tensor '${name}' has shape [${t.shape}], expected [${shape}]`);
  return t;
}

/**
 * Restore a training state from a checkpoint. `over` may change training keys (steps, lr, eval...)
 * but not shape-defining model keys, nor batch_size (the carry has B slots).
 */
export function loadTrainState(
  path: string,
  over: Partial<TrainConfig> = {},
): { state: TrainState; sidecar: Sidecar; dir: string } {
  const dir = findCheckpoint(path),
    side = readSidecar(dir);
  for (const k of Object.keys(over.model ?? {}) as (keyof TrmConfig)[])
    if (SHAPE_KEYS.includes(k) && over.model![k] !== side.model_config[k])
      bad(
        `cannot resume with ${k} = ${over.model![k]}: the checkpoint has ${k} = ${side.model_config[k]} (shape-defining); start a new run instead`,
      );
  if (over.batch_size !== undefined && over.batch_size !== side.train_config.batch_size)
    bad(
      `cannot resume with batch_size = ${over.batch_size}: the checkpoint's carry has ${side.train_config.batch_size} slots`,
    );
  let config: TrainConfig;
  try {
    config = resolveTrainConfig(undefined, {
      ...side.train_config,
      ...over,
      model: { ...side.train_config.model, ...over.model },
    });
  } catch (e) {
    // an override is the user's (the message names the key); a bad stored value is the checkpoint's
    if (e instanceof TrmError) {
      try {
        resolveTrainConfig(undefined, { ...side.train_config, model: { ...side.train_config.model } });
      } catch (e2) {
        if (e2 instanceof TrmError)
          bad(
            `${join(dir, 'checkpoint.json')}: train_config: ${e2.message.replace(/^train config: /, '')}; the checkpoint is damaged`,
          );
      }
    }
    throw e;
  }
  const model = resolveConfig({ ...side.model_config, ...over.model });
  const file = join(dir, 'train_state.safetensors');
  const tensors = readSafetensors(file).tensors;
  const n = specSize(paramSpec(model));
  const params = weightsView(model, new Float32Array(n)),
    m = new Float32Array(n),
    v = new Float32Array(n);
  const ema = config.ema ? new Float32Array(n) : null;
  if (config.ema && side.train_config.ema === false)
    bad(`cannot resume with ema = true: the checkpoint was trained without EMA`);
  for (const e of params.spec) {
    const put = (dst: Float32Array, key: string) =>
      dst.set(toF32(tensorOf(tensors, file, key, e.shape), `${file}: ${key}`), e.offset);
    put(params.data, `param.${e.name}`);
    if (ema) put(ema, `ema.${e.name}`);
    if (!e.trainable) continue;
    put(m, `adam_m.${e.name}`);
    put(v, `adam_v.${e.name}`);
  }
  const d = dims(model, config.batch_size),
    B = d.B;
  const carry = newTrainCarry(B, d.L, d.S, d.D);
  write(carry.y, toF32(tensorOf(tensors, file, 'carry.y', [B, d.S * d.D]), 'carry.y'));
  write(carry.z, toF32(tensorOf(tensors, file, 'carry.z', [B, d.S * d.D]), 'carry.z'));
  carry.steps.set(toI32(tensorOf(tensors, file, 'carry.steps', [B])));
  carry.halted.set(tensorOf(tensors, file, 'carry.halted', [B]).data as Uint8Array);
  carry.batch.inputs.set(toI32(tensorOf(tensors, file, 'carry.inputs', [B, d.L])));
  carry.batch.labels.set(toI32(tensorOf(tensors, file, 'carry.labels', [B, d.L])));
  carry.batch.puzzleIds.set(toI32(tensorOf(tensors, file, 'carry.puzzle_ids', [B])));
  // halting caps (randomised N_sup); checkpoints written before they existed hold none (= N_sup)
  if (tensors.has('carry.cap')) carry.cap.set(toI32(tensorOf(tensors, file, 'carry.cap', [B])));
  // milestone supervision: the slots' milestone indices; a checkpoint trained without milestones
  // holds none, and they are recomputed from the slots' samples (the builder's own function)
  if (tensors.has('carry.rounds'))
    carry.rounds.set(tensorOf(tensors, file, 'carry.rounds', [B, d.L]).data as Uint8Array);
  else if (config.milestones !== 'none') slotMilestones(carry.batch.inputs, carry.batch.labels, d.L, carry.rounds);
  const totalSteps = over.steps !== undefined && over.steps > 0 ? over.steps : side.total_steps;
  const state: TrainState = {
    config,
    model,
    totalSteps,
    step: side.step,
    params: weightsView(model, upload(params.data)),
    opt: { m: upload(m), v: upload(v) },
    ema: ema && upload(ema),
    carry,
    cursor: { ...side.cursor },
    sums: { ...emptySums(), ...side.sums },
  };
  return { state, sidecar: side, dir };
}

// ---- inference loading -----------------------------------------------------------------------

/**
 * The model config of a bare safetensors file, from its tensor shapes: D and V from
 * embed_tokens, L_layers from the layer indices, mlp_t from the token mixer, expansion from the
 * SwiGLU width, the puzzle table. seq_len comes from the token mixer (mlp_t) or `seqLen`.
 * Loop counts (H_cycles, L_cycles, halt_max_steps) are not shapes: the defaults, or `over`.
 */
export function inferModelConfig(
  tensors: Map<string, NamedTensor>,
  seqLen: number | undefined,
  over: Partial<TrmConfig>,
  where: string,
): TrmConfig {
  const get = (k: string) => {
    for (const [key, t] of tensors) if (canonicalName(key) === 'inner.' + k) return t;
    return undefined;
  };
  const emb = get('embed_tokens.embedding_weight');
  if (!emb)
    bad(
      `${where}: no tensor 'inner.embed_tokens.embedding_weight' (or with the _orig_mod.model. prefix): not a TRM checkpoint`,
    );
  const [V, D] = emb.shape;
  let layers = 0;
  while (get(`L_level.layers.${layers}.mlp.down_proj.weight`)) layers++;
  const mlpT = get('L_level.layers.0.mlp_t.down_proj.weight');
  const gu = get('L_level.layers.0.mlp.gate_up_proj.weight');
  const I = gu ? gu.shape[0] / 2 : swigluInner(D, 4);
  const expansion = [4, 2, 3, 1, 8, 6].find(x => swigluInner(D, x) === I) ?? 4;
  const pe = get('puzzle_emb.weights');
  const P = pe ? Math.ceil(pe.shape[1] / D) : 0;
  let puzzleLen = over.puzzle_emb_len ?? (pe ? 16 : 0);
  let seq = seqLen ?? over.seq_len;
  if (mlpT) {
    const S = mlpT.shape[0];
    if (seq === undefined) seq = S - puzzleLen;
    else puzzleLen = S - seq;
  }
  if (seq === undefined)
    bad(
      `${where}: cannot tell seq_len from an attention checkpoint without its checkpoint.json; pass the data (--data) or --set seq_len=N`,
    );
  if (pe && puzzleLen < P) puzzleLen = P;
  return resolveConfig({
    hidden_size: D,
    vocab_size: V,
    L_layers: layers,
    expansion,
    mlp_t: !!mlpT,
    pos_encodings: mlpT ? 'none' : 'rope',
    puzzle_emb_ndim: pe ? pe.shape[1] : 0,
    puzzle_emb_len: pe ? puzzleLen : 0,
    num_puzzle_identifiers: pe ? pe.shape[0] : 1,
    seq_len: seq,
    ...over,
  });
}

export interface LoadedModel {
  config: TrmConfig;
  weights: Weights;
  /** the checkpoint.json, when there is one */
  sidecar: Sidecar | null;
  file: string;
}

/**
 * Weights for evaluation: a checkpoint directory or run directory (config from checkpoint.json),
 * or any safetensors with official names (config inferred from shapes; e.g. a converted official
 * checkpoint). `over` changes loop counts (H_cycles, L_cycles, halt_max_steps); shape keys must agree.
 */
export function loadModel(path: string, over: Partial<TrmConfig> = {}, seqLen?: number): LoadedModel {
  if (!existsSync(path)) bad(`${path}: no such checkpoint, run directory or file`);
  const isFile = statSync(path).isFile();
  const dir = isFile ? dirname(path) : findCheckpoint(path);
  const file = isFile ? path : join(dir, 'model.safetensors');
  const sidecar =
    existsSync(join(dir, 'checkpoint.json')) && (!isFile || basename(path) === 'model.safetensors')
      ? readSidecar(dir)
      : null;
  const st = readSafetensors(file);
  const tensors = new Map<string, NamedTensor>();
  for (const [k, t] of st.tensors) tensors.set(k, { shape: t.shape, data: toF32(t, `${file}: ${k}`) });
  let config: TrmConfig;
  if (sidecar) {
    for (const k of Object.keys(over) as (keyof TrmConfig)[])
      if (SHAPE_KEYS.includes(k) && over[k] !== sidecar.model_config[k])
        bad(`${k} = ${over[k]} does not match the checkpoint's ${sidecar.model_config[k]} (shape-defining)`);
    config = resolveConfig({ ...sidecar.model_config, ...over });
  } else {
    const meta = st.metadata.trm_model_config;
    config = meta
      ? resolveConfig({ ...(JSON.parse(meta) as Partial<TrmConfig>), ...over })
      : inferModelConfig(tensors, seqLen, over, file);
  }
  const host = weightsView(config, new Float32Array(specSize(paramSpec(config))));
  loadStateDict(host, tensors, file);
  return { config, weights: weightsView(config, upload(host.data)), sidecar, file };
}
