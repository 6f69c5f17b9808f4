/**
 * acts.ts: every activation buffer of one supervision step, declared with its shape and allocated
 * once per batch size (allocActs); a step with another B is an error. The gradient-carrying
 * recursion keeps n+1 NetActs (one per net call); the T-1 gradient-free recursions reuse calls[0]
 * as scratch and save nothing. Backward scratch is shared between the layers that need it.
 * Every buffer is a tensor of the active device (kernels/device.ts). In a bf16 run (allocActs'
 * `kept` = 'bf16', on a device with bf16 tensors) the SwiGLU activations the backward reads only as
 * bf16 GEMM operands or through SwiGLU's backward - both MLPs' pre-activation [G; U] and h - are
 * bf16 tensors: rounded as stored, the bits the bf16 products read anyway, at half the bytes.
 */
import { ShapeError } from '../errors.js';
import {
  bf16 as allocBf16,
  device,
  f32 as alloc,
  type F32T,
  type I32T,
  i32,
  isBf16,
  type KeptT,
  type Precision,
  isHostArray,
  sizeOf,
  type Tensor,
  type U8T,
  u8,
  view,
} from '../kernels/core.js';
import { type AttentionActs, type AttentionScratch, type RopeTables, ropeTables } from '../nn/attention.js';
import type { EmbedScratch } from '../nn/embedding.js';
import type { MlpActs, MlpScratch } from '../nn/mlp.js';
import type { TokenMixerActs, TokenMixerScratch } from '../nn/token-mixer.js';
import { type Dims, dims, FUSED_MAX_D, type TrmConfig } from './config.js';
import { allocDampActs, type DampActs, usesDamping } from './damping.js';

export interface BlockActs {
  mixer: TokenMixerActs | AttentionActs; // token mixer (mlp_t) or attention
  n1: F32T; // (B, S, D) after the first post-norm
  rstd1: F32T; // (B, D) sequence-axis norm (mlp_t) or (B, S) hidden-axis norm (attention)
  mlp: MlpActs;
  n2: F32T; // (B, S, D) block output
  rstd2: F32T; // (B, S)
}

/** One net call f(h + u): `inp` = h + u (filled by the caller), blocks[L_layers-1].n2 = output. */
export interface NetActs {
  inp: F32T; // (B, S, D)
  blocks: BlockActs[];
}

/** The scratch a block call gets (and nothing else of the step): shared by every block call,
 *  which run one after the other. */
export interface BlockScratch {
  rope: RopeTables | null;
  r: F32T; // (B, S, D) forward residual sum / backward d(residual sum)
  dn1: F32T; // (B, S, D) backward d(n1)
  mlp: MlpScratch;
  mix: TokenMixerScratch | AttentionScratch;
}

export interface StepActs {
  d: Dims;
  x: F32T; // (B, S, D) input embedding (the padding of the puzzle prefix stays 0)
  emb: EmbedScratch; // (B, L, D) tokens, (B, ndim) puzzle rows
  calls: NetActs[]; // n + 1
  logits: F32T; // (B, L, V)
  q: F32T; // (B, 2) [q_halt, q_continue]
  qHalt: F32T; // (B)
  tokLoss: F32T; // (B*L) per-token stablemax CE
  preds: I32T; // (B*L)
  seqCorrect: U8T; // (B)
  counts: I32T; // (2B) [valid, correct] per sample
  finalCounts: I32T; // (2B) the same against batch.finalLabels (milestone supervision)
  target: F32T; // (B) seqCorrect as float
  bce: F32T; // (B)
  // backward
  dlogits: F32T; // (B, L, V)
  dtok: F32T; // (B*L)
  dq: F32T; // (B, 2)
  dqHalt: F32T; // (B)
  dbce: F32T; // (B)
  dh: F32T; // (B, S, D) d(new y), then the gradient flowing back through the calls
  dh2: F32T; // (B, S, D) the other half of that ping-pong
  dmid: [F32T, F32T]; // (B, S, D) gradients between the blocks of one net call
  dx: F32T; // (B, S, D) gradient of x, summed over the n z-updates
  block: BlockScratch;
  /** mlp_t: each layer's token-mixer weights transposed, (Is, S) down and (S, 2Is) gate_up, for the
   *  fused backward; written once per backward (trm.ts deepRecursionBackward), read by its n + 1 calls */
  mixerT?: { down: F32T; gateUp: F32T }[];
  /** EqR damping / noise buffers (damping.ts); only with damping or train_noise */
  damp?: DampActs;
}

// The native device aligns every tensor to a cache line: GEMM outputs written across line
// boundaries measured ~20% slower.
const f32 = (n: number) => alloc(n);

/** Allocate all buffers of a supervision step for batch size B. kept: the precision the step's
 *  products will run in; 'bf16' keeps the SwiGLU activations (MlpActs, TokenMixerActs) as bf16
 *  tensors where the device has them (host devices), else fp32. A step whose products run in fp32
 *  refuses bf16 acts (the kernels' checks). */
export function allocActs(c: TrmConfig, B: number, kept: Precision = 'fp32'): StepActs {
  if (!Number.isInteger(B) || B < 1) throw new ShapeError(`allocActs: batch size must be a positive integer, got ${B}`);
  const d = dims(c, B);
  const k: (n: number) => KeptT = kept === 'bf16' && device().bf16 ? allocBf16 : f32;
  const { S, D, L, V, I, Is, H, hd } = d,
    N = B * S,
    E = H * hd;
  const block = (): BlockActs => ({
    mixer: c.mlp_t
      ? { gateUp: k(B * 2 * Is * D), h: k(B * Is * D) }
      : { q: f32(N * E), k: f32(N * E), v: f32(N * E), att: f32(B * H * S * S), ctx: f32(N * E) },
    n1: f32(N * D),
    rstd1: f32(c.mlp_t ? B * D : N),
    mlp: { gateUp: k(N * 2 * I), h: k(N * I) },
    n2: f32(N * D),
    rstd2: f32(N),
  });
  const calls: NetActs[] = [];
  for (let i = 0; i <= c.L_cycles; i++)
    calls.push({ inp: f32(N * D), blocks: Array.from({ length: c.L_layers }, block) });
  // backward scratch shared by the channel MLP and the token mixer (used one after the other)
  // (dgateUp is read only by bf16 products in a bf16 run: bf16 there too). The small models' (FUSED_MAX_D)
  // MLP dgateUp is a buffer of its own: as the front of the token mixer's (N x 2I of B x 2Is x D), the
  // second thread's MLP rows lay on lines the first thread writes for its token mixer items (the first
  // half of the items spans all the MLP rows at cpu-sudoku4, most at cpu-sudoku9), so each backward read those
  // lines for ownership from the other core (cpu-sudoku4's step x1.006-1.036, cpu-sudoku9's x1.017;
  // 1.1 and 4 MiB more). Only where the fused kernels may run: fp32-kept acts (a bf16 step takes the
  // op-by-op path).
  const apart = c.mlp_t && D <= FUSED_MAX_D && kept !== 'bf16';
  const dgu = k(apart ? B * 2 * Is * D : Math.max(N * 2 * I, c.mlp_t ? B * 2 * Is * D : 0));
  const dguMlp = apart ? k(N * 2 * I) : dgu;
  const part = (t: KeptT, n: number): KeptT => (isBf16(t) ? t.subarray(0, n) : view(t, 0, n));
  const dhid = f32(Math.max(N * I, c.mlp_t ? B * Is * D : 0));
  return {
    d,
    x: f32(N * D),
    emb: { tok: f32(B * L * D), puz: f32(Math.max(1, B * c.puzzle_emb_ndim)) },
    calls,
    logits: f32(B * L * V),
    q: f32(2 * B),
    qHalt: f32(B),
    tokLoss: f32(B * L),
    preds: i32(B * L),
    seqCorrect: u8(B),
    counts: i32(2 * B),
    finalCounts: i32(2 * B),
    target: f32(B),
    bce: f32(B),
    dlogits: f32(B * L * V),
    dtok: f32(B * L),
    dq: f32(2 * B),
    dqHalt: f32(B),
    dbce: f32(B),
    dh: f32(N * D),
    dh2: f32(N * D),
    dmid: [f32(N * D), f32(N * D)],
    dx: f32(N * D),
    damp: usesDamping(c) ? allocDampActs(N * D) : undefined,
    mixerT: c.mlp_t
      ? Array.from({ length: c.L_layers }, () => ({ down: f32(Is * S), gateUp: f32(2 * Is * S) }))
      : undefined,
    block: {
      rope: !c.mlp_t && c.pos_encodings === 'rope' ? ropeTables(S, hd, c.rope_theta) : null,
      r: f32(N * D),
      dn1: f32(N * D),
      mlp: { dh: view(dhid, 0, N * I), dgateUp: part(dguMlp, N * 2 * I) },
      mix: c.mlp_t
        ? {
            dh: view(dhid, 0, B * Is * D),
            dgateUp: part(dgu, B * 2 * Is * D),
            wDownT: f32(Is * S),
            wGateUpT: f32(2 * Is * S),
          }
        : {
            qkv: f32(N * 3 * E),
            scores: f32(B * H * S * S),
            datt: f32(B * H * S * S),
            dq: f32(N * E),
            dk: f32(N * E),
            dv: f32(N * E),
            dctx: f32(N * E),
          },
    },
  };
}

/** A kept activation the fp32-only fused half-block kernels read: bf16 acts belong to bf16 steps,
 *  which never take that path (model/trm.ts useFused). */
export function f32Act(t: KeptT): F32T {
  if (isBf16(t))
    throw new ShapeError(
      'acts: these activations were allocated for a bf16 step (allocActs kept = bf16); run it in bf16',
    );
  return t;
}

/** Bytes held by a StepActs (each distinct buffer counted once; views of one tensor count once). */
export function actsBytes(a: StepActs): number {
  const seen = new Set<unknown>();
  let n = 0;
  const visit = (v: unknown): void => {
    if (isHostArray(v) || isBf16(v)) {
      if (!seen.has(v.buffer)) {
        seen.add(v.buffer);
        n += v.buffer.byteLength;
      }
    } else if (v && typeof v === 'object' && 'dtype' in v && 'size' in v) {
      const t = v as Tensor & { root?: unknown };
      const key = t.root ?? t;
      if (!seen.has(key)) {
        seen.add(key);
        n += 4 * sizeOf(t);
      }
    } else if (v && typeof v === 'object') for (const x of Object.values(v)) visit(x);
  };
  visit(a);
  return n;
}
