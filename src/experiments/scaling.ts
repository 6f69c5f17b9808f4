/**
 * scaling.ts: test-time scaling in one pass (reference/experiments.md 3-4; reference/
 * test-time-breadth.md). Every test puzzle runs k chains (k = the largest of `k`) for every noise
 * std sigma, each from its own latent init and without halting to the largest N_sup; at each
 * requested N_sup the chains' boards, q_halt and step history (trace.ts) are kept, and every
 * aggregator and every k (the first k chains) is read off those same passes. Evaluation runs no
 * halting, so the answer at step s is what a run with N_sup = s gives.
 *
 * Randomness: chain r of a puzzle in test batch i (batches of `batchSize` puzzles) starts from
 * the init of Rng(seed, STREAM.eval, i, r), exactly as one batch of `batchSize` rows per chain
 * would; its noise (PTRM: sigma * N(0, I) added to z, y or both before every supervision step) is
 * drawn from Rng(seed, STREAM.evalNoise, puzzle, r), S x D normals per latent and step (z first),
 * so it depends on the puzzle and chain only, and every sigma scales the same draws (common random
 * numbers: sigmas differ by the scale alone). sigma 0 adds nothing (bitwise the noise-free chain).
 *
 * Cost: only real rows are computed. The rows (puzzle x chain x sigma) of each test batch are
 * computed in passes of at most `rowsPerPass` rows (default `batchSize`): a full batch is one
 * pass per chain and sigma, as before; a short batch packs its chains and sigmas into full
 * passes, and only the last pass is smaller. So 2 puzzles x 64 chains cost 128 rows, not 64 x 128.
 * A step's rows are computed independently of each other (tested bitwise), so packing changes no
 * result.
 */
import type { DatasetSplit } from '../data/dataset.js';
import { TrmError } from '../errors.js';
import { add, copy, device, f32, type F32T, read, view, write } from '../kernels/core.js';
import { allocActs, type StepActs } from '../model/acts.js';
import { allocCarry, type Carry, initCarry, startCarry } from '../model/carry.js';
import { chainRng, MAX_CHAINS, noiseRng, runChain } from '../model/chain.js';
import type { TrmConfig } from '../model/config.js';
import type { InitSpec } from '../model/init.js';
import type { Weights } from '../model/params.js';
import { allocBatch, type HostBatch, IGNORE_LABEL, uploadBatch } from '../model/step.js';
import { copyExample, newBatch, splitSize } from '../train/data.js';
import { Rng, STREAM } from '../data/rng.js';
import { aggregate, aggregatorNeeds, type Aggregator, type Chains, scoreBoard } from './aggregate.js';
import { ChainRecord, ChainTrace } from './trace.js';

/** Which latent the test-time noise perturbs. */
export const NOISE_TARGETS = ['z', 'y', 'both'] as const;
export type NoiseOn = (typeof NOISE_TARGETS)[number];

export interface ScalingOptions {
  nsup: number[];
  k: number[];
  aggregators: Aggregator[];
  init: InitSpec;
  seed: number;
  /** puzzles per test batch: chain r of batch i starts from Rng(seed, STREAM.eval, i, r) */
  batchSize: number;
  /** test-time noise std per supervision step (PTRM), a grid axis (default [0]: none) */
  noise?: number[];
  /** the latent the noise is added to (default z) */
  noiseOn?: NoiseOn;
  /** the most rows (puzzle x chain x sigma) one pass computes (default batchSize); results do not depend on it */
  rowsPerPass?: number;
  limit?: number;
  onProgress?: (done: number, total: number) => void;
  /** each test batch's record before it is scored: puzzles start..start+n-1; row (g * kmax + r) * n + b
   *  holds chain r of puzzle start + b at noise std noise[g] (sorted) */
  onRecord?: (start: number, n: number, rec: ChainRecord) => void;
}

export interface ScalingRow {
  aggregator: Aggregator;
  k: number;
  /** test-time noise std (0: none) */
  noise: number;
  nsup: number;
  /** supervision steps per puzzle: k chains x N_sup */
  compute: number;
  exact_acc: number;
  token_acc: number;
}

export interface ScalingResult {
  examples: number;
  nsup: number[];
  k: number[];
  noise: number[];
  noise_on: NoiseOn;
  aggregators: Aggregator[];
  rows: ScalingRow[];
  /** rows of supervision steps computed (each row = one chain of one puzzle, one step) */
  row_steps: number;
  seconds: number;
}

/** The (aggregator, k) pairs reported: 'single' only at k = 1 (it reads chain 0 whatever k is). */
export function scalingCombos(aggs: Aggregator[], ks: number[]): [Aggregator, number][] {
  const out: [Aggregator, number][] = [];
  for (const a of aggs) for (const k of ks) if (a !== 'single' || k === 1) out.push([a, k]);
  if (aggs.includes('single') && !ks.includes(1)) out.unshift(['single', 1]);
  return out;
}

/** Activations, device batch and carry of one pass size, allocated once per size. */
interface PassBuffers {
  acts: StepActs;
  host: HostBatch;
  dev: ReturnType<typeof allocBatch>;
  carry: Carry;
  noise: F32T | null;
  noiseHost: Float32Array | null;
}

export async function testTimeScaling(
  c: TrmConfig,
  w: Weights,
  split: DatasetSplit,
  o: ScalingOptions,
): Promise<ScalingResult> {
  const t0 = performance.now();
  const nsups = [...new Set(o.nsup)].sort((a, b) => a - b),
    ks = [...new Set(o.k)].sort((a, b) => a - b),
    sigmas = [...new Set(o.noise ?? [0])].sort((a, b) => a - b),
    noiseOn = o.noiseOn ?? 'z';
  const maxN = nsups[nsups.length - 1],
    kmax = ks[ks.length - 1],
    B = o.batchSize,
    P = o.rowsPerPass ?? B;
  if (!(nsups[0] >= 1) || !(ks[0] >= 1) || kmax > MAX_CHAINS)
    throw new TrmError('TRM_BAD_CONFIG', `scaling: N_sup and k must be >= 1 and k <= ${MAX_CHAINS}`);
  if (!sigmas.every(s => Number.isFinite(s) && s >= 0))
    throw new TrmError('TRM_BAD_CONFIG', `scaling: noise std must be finite and >= 0, got ${sigmas.join(', ')}`);
  if (!(NOISE_TARGETS as readonly string[]).includes(noiseOn))
    throw new TrmError(
      'TRM_BAD_CONFIG',
      `scaling: noise target must be one of ${NOISE_TARGETS.join(', ')}, got '${noiseOn}'`,
    );
  if (!(Number.isInteger(B) && B >= 1 && Number.isInteger(P) && P >= 1))
    throw new TrmError('TRM_BAD_CONFIG', `scaling: batch size and rows per pass must be positive integers`);
  const total = o.limit ? Math.min(o.limit, splitSize(split)) : splitSize(split);
  const L = split.meta.seq_len,
    V = c.vocab_size,
    D = c.hidden_size;
  const needs = aggregatorNeeds(o.aggregators),
    everyStep = needs.change || needs.halt || needs.best;
  const combos = scalingCombos(o.aggregators, ks),
    nS = sigmas.length,
    nN = nsups.length;
  // accumulators [sigma][combo][nsup]
  const cellOf = (g: number, ci: number, si: number) => (g * combos.length + ci) * nN + si;
  const exact = new Float64Array(nS * combos.length * nN),
    token = new Float64Array(nS * combos.length * nN);
  const out = new Int32Array(L);
  const buffers = new Map<number, PassBuffers>();
  const passBuffers = (m: number): PassBuffers => {
    let pb = buffers.get(m);
    if (!pb) {
      const acts = allocActs(c, m),
        SD = acts.d.S * D,
        noisy = sigmas[nS - 1] > 0;
      const per = noiseOn === 'both' ? 2 : 1;
      pb = {
        acts,
        host: newBatch(m, L),
        dev: allocBatch(m, L),
        carry: allocCarry(m, acts.d.S, D),
        noise: noisy ? f32(per * m * SD) : null,
        noiseHost: noisy ? new Float32Array(per * m * SD) : null,
      };
      buffers.set(m, pb);
    }
    return pb;
  };
  let rowSteps = 0;
  const one = newBatch(1, L);

  for (let start = 0, bi = 0; start < total; start += B, bi++) {
    const n = Math.min(B, total - start);
    // rows of this batch, sigma-major, then chain, then puzzle: row = (g * kmax + r) * n + b
    const R = nS * kmax * n,
      rec = new ChainRecord(R, L, nsups, needs);
    for (let p0 = 0; p0 < R; p0 += P) {
      const m = Math.min(P, R - p0),
        pb = passBuffers(m),
        S = pb.acts.d.S,
        SD = S * D;
      const rowOf = (j: number) => {
        const row = p0 + j,
          b = row % n,
          rest = (row - b) / n;
        return { b, r: rest % kmax, g: (rest - (rest % kmax)) / kmax };
      };
      for (let j = 0; j < m; j++) copyExample(split, start + rowOf(j).b, pb.host, j);
      uploadBatch(pb.dev, pb.host);
      // starts: each run of rows of one chain r copies its slots from that chain's batch-sized init
      for (let j = 0; j < m; ) {
        const { b, r } = rowOf(j);
        let e = j + 1;
        while (e < m && rowOf(e).r === r && rowOf(e).b === b + (e - j)) e++;
        if (j === 0 && b === 0 && e === m) {
          // the pass is one whole chain of the batch (every full batch): start it in place
          initCarry(pb.carry, w, new Uint8Array(m).fill(1), D, o.init, chainRng(o.seed, bi, r));
          break;
        }
        const scratch = startCarry(c, w, b + (e - j), S, o.init, chainRng(o.seed, bi, r));
        copy(view(pb.carry.y, j * SD, (e - j) * SD), view(scratch.y, b * SD, (e - j) * SD), (e - j) * SD);
        copy(view(pb.carry.z, j * SD, (e - j) * SD), view(scratch.z, b * SD, (e - j) * SD), (e - j) * SD);
        for (const t of [scratch.y, scratch.z, scratch.yStart, scratch.zStart, scratch.reset]) device().release(t);
        j = e;
      }
      // noise: one stream per row (puzzle, chain); rows of sigma 0 get -0, which leaves any float as it is
      const rowSigma = Array.from({ length: m }, (_, j) => sigmas[rowOf(j).g]);
      const noisy = rowSigma.some(s => s > 0);
      const rngs: (Rng | null)[] = rowSigma.map((s, j) =>
        s > 0 ? noiseRng(o.seed, start + rowOf(j).b, rowOf(j).r) : null,
      );
      const beforeStep = noisy
        ? (_s: number, carry: Carry) => {
            const h = pb.noiseHost!,
              both = noiseOn === 'both';
            for (let j = 0; j < m; j++) {
              const sig = rowSigma[j],
                rng = rngs[j];
              for (let part = 0; part < (both ? 2 : 1); part++) {
                const off = (part * m + j) * SD;
                if (!rng) h.fill(-0, off, off + SD);
                else for (let i = off; i < off + SD; i++) h[i] = sig * rng.normal();
              }
            }
            write(pb.noise!, h);
            const N = m * SD;
            if (noiseOn !== 'y') add(carry.z, carry.z, view(pb.noise!, 0, N), N);
            if (noiseOn === 'y') add(carry.y, carry.y, view(pb.noise!, 0, N), N);
            if (noiseOn === 'both') add(carry.y, carry.y, view(pb.noise!, N, N), N);
          }
        : undefined;
      // EqR models (train_noise > 0) add noise inside every update at test too: one stream per pass
      // (seed, batch, first row of the pass), drawn over the pass's rows, so it depends on --batch
      if (c.train_noise > 0) pb.carry.noise = new Rng(o.seed, STREAM.eqrEvalNoise, bi, p0);
      const trace = new ChainTrace(m, L, V, needs);
      let si = 0;
      await runChain(c, w, pb.acts, pb.dev, {
        nsup: maxN,
        init: o.init,
        rng: null,
        carry: pb.carry,
        beforeStep,
        onStep: async (s, res) => {
          if (!everyStep && s !== nsups[si]) return;
          const [preds, q, logits] = await Promise.all([
            read(res.preds),
            read(res.q),
            needs.change ? read(res.logits) : Promise.resolve(undefined),
          ]);
          trace.step(s, preds, q, 2, logits);
          if (s === nsups[si]) rec.save(si++, trace, 0, p0, m);
        },
      });
      rowSteps += m * maxN;
      o.onProgress?.(start + Math.floor((n * (p0 + m)) / R), total);
    }
    o.onRecord?.(start, n, rec);
    // score each puzzle of the batch, for every sigma, N_sup, aggregator and k
    const rows = new Int32Array(kmax);
    for (let b = 0; b < n; b++) {
      copyExample(split, start + b, one, 0);
      const lab = one.labels;
      for (let g = 0; g < nS; g++) {
        for (let r = 0; r < kmax; r++) rows[r] = (g * kmax + r) * n + b;
        for (let si = 0; si < nN; si++) {
          const all = rec.chains(si, rows);
          combos.forEach(([agg, k], ci) => {
            const idx = cellOf(g, ci, si);
            if (agg === 'oracle') {
              let anyExact = 0,
                bestTok = 0;
              for (let r = 0; r < k; r++) {
                const [valid, ok] = scoreBoard(all.boards[r], lab, IGNORE_LABEL);
                if (ok === valid) anyExact = 1;
                bestTok = Math.max(bestTok, valid > 0 ? ok / valid : 0);
              }
              exact[idx] += anyExact;
              token[idx] += bestTok;
              return;
            }
            aggregate(agg, firstK(all, k), out);
            const [valid, ok] = scoreBoard(out, lab, IGNORE_LABEL);
            if (ok === valid) exact[idx] += 1;
            token[idx] += valid > 0 ? ok / valid : 0;
          });
        }
      }
    }
    o.onProgress?.(start + n, total);
  }
  for (const pb of buffers.values()) if (pb.noise) device().release(pb.noise);
  const d = Math.max(1, total),
    rows: ScalingRow[] = [];
  for (let g = 0; g < nS; g++)
    for (let ci = 0; ci < combos.length; ci++)
      for (let si = 0; si < nN; si++) {
        const [aggregator, k] = combos[ci];
        rows.push({
          aggregator,
          k,
          noise: sigmas[g],
          nsup: nsups[si],
          compute: k * nsups[si],
          exact_acc: exact[cellOf(g, ci, si)] / d,
          token_acc: token[cellOf(g, ci, si)] / d,
        });
      }
  return {
    examples: total,
    nsup: nsups,
    k: ks,
    noise: sigmas,
    noise_on: noiseOn,
    aggregators: o.aggregators,
    rows,
    row_steps: rowSteps,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** The first k chains of `ch`. */
function firstK(ch: Chains, k: number): Chains {
  if (ch.boards.length === k) return ch;
  const cut = <T>(a: ArrayLike<T>) => Array.prototype.slice.call(a, 0, k) as T[];
  return {
    boards: ch.boards.slice(0, k),
    q: cut(ch.q),
    change: ch.change && cut(ch.change),
    halt: ch.halt && { step: cut(ch.halt.step), q: cut(ch.halt.q), boards: ch.halt.boards.slice(0, k) },
    best: ch.best && { step: cut(ch.best.step), q: cut(ch.best.q), boards: ch.best.boards.slice(0, k) },
  };
}
