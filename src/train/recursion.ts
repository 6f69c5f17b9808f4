/**
 * recursion.ts: how deep each training step recurses (reference/experiments.md 5, 8). The model
 * config fixes the defaults n = L_cycles, T = H_cycles, N_sup = halt_max_steps; a run may vary them:
 *  - randomised recursion (`rand_n_width`, `rand_T_width`, `rand_nsup_width` = W): a value uniform on
 *    [max(1, d - W), d + W]. In the carry scheme one batch is one supervision step, so n and T are
 *    drawn per optimizer step (shared by all slots), and N_sup per slot when it takes a new sample
 *    (its halting cap). Draws above the default take effect (trm-jax clamped them; `rand_nsup_clamp`
 *    reproduces that). A slot past its cap halts and is refilled, so no update comes from it.
 *  - the CGAR progressive depth curriculum (`curriculum = cgar`): (n, T) = (2, 1) -> (4, 2) -> (6, 3)
 *    at 30% / 60% of the optimizer steps for the paper's (6, 3); other defaults scale by thirds.
 *  - CGAR's hierarchical supervision weighting (`hsw_decay` = 0.7): a sample's loss at its s-th
 *    supervision step (0-based) is weighted decay^s, unnormalised.
 * Draws come from Rng(seed, STREAM.depth, step) and Rng(seed, STREAM.fill, step), so a resumed run
 * draws what the uninterrupted one would.
 */
import { Rng, STREAM } from '../data/rng.js';
import type { TrmConfig } from '../model/config.js';
import type { TrainConfig } from './config.js';

export interface Depth {
  n: number;
  T: number;
}

/** Uniform integer on [max(1, d - w), d + w]. */
export function drawAround(d: number, w: number, rng: Rng): number {
  if (w <= 0) return d;
  const lo = Math.max(1, d - w),
    hi = d + w;
  return lo + rng.int(hi - lo + 1);
}

/** CGAR phases: until this fraction of training, (n, T) are this fraction of the configured values. */
const CGAR_PHASES = [
  { until: 0.3, depth: 1 / 3 },
  { until: 0.6, depth: 2 / 3 },
  { until: 1, depth: 1 },
];

function scaledDepth(c: TrmConfig, frac: number): Depth {
  return { n: Math.max(1, Math.round(c.L_cycles * frac)), T: Math.max(1, Math.round(c.H_cycles * frac)) };
}

/** The CGAR phase's (n, T) at optimizer step t (from 1) of `total`. */
export function curriculumDepth(c: TrmConfig, t: number, total: number): Depth {
  const p = (t - 1) / Math.max(1, total);
  return scaledDepth(c, (CGAR_PHASES.find(ph => p < ph.until) ?? CGAR_PHASES[CGAR_PHASES.length - 1]).depth);
}

/** (n, T) of optimizer step t: the curriculum's (or the config's) values, then the random widths. */
export function stepDepth(cfg: TrainConfig, c: TrmConfig, t: number, total: number): Depth {
  const base = cfg.curriculum === 'cgar' ? curriculumDepth(c, t, total) : { n: c.L_cycles, T: c.H_cycles };
  if (cfg.rand_n_width === 0 && cfg.rand_T_width === 0) return base;
  const rng = new Rng(cfg.seed, STREAM.depth, t);
  return { n: drawAround(base.n, cfg.rand_n_width, rng), T: drawAround(base.T, cfg.rand_T_width, rng) };
}

/** The random stream of the slot refills (halting caps, then init draws) at optimizer step t. */
export function fillRng(cfg: TrainConfig, t: number): Rng {
  return new Rng(cfg.seed, STREAM.fill, t);
}

/** A refilled slot's halting cap. */
export function drawNsup(cfg: TrainConfig, c: TrmConfig, rng: Rng): number {
  const v = drawAround(c.halt_max_steps, cfg.rand_nsup_width, rng);
  return cfg.rand_nsup_clamp ? Math.min(v, c.halt_max_steps) : v;
}

/** The largest n any step can use (activations are allocated for n + 1 net calls). */
export function maxDepth(cfg: TrainConfig, c: TrmConfig): Depth {
  return { n: c.L_cycles + cfg.rand_n_width, T: c.H_cycles + cfg.rand_T_width };
}

/** Per-sample loss weights decay^steps (steps before this step's increment). */
export function supervisionWeights(out: Float32Array, steps: Int32Array, decay: number): Float32Array {
  for (let b = 0; b < steps.length; b++) out[b] = decay ** steps[b];
  return out;
}

export interface ComputeEstimate {
  /** E[T (n + 1)]: net calls per sample per optimizer step, forward */
  net_calls: number;
  /** E[n + 1]: net calls that keep activations and run backward */
  grad_calls: number;
  /** E[min(cap)] upper bound of supervision steps per sample (q-halting ends many earlier) */
  nsup_cap: number;
  /** relative to the deterministic config (1 = same cost per optimizer step) */
  net_calls_ratio: number;
  grad_calls_ratio: number;
}

function uniformMean(d: number, w: number, f: (v: number) => number): number {
  if (w <= 0) return f(d);
  const lo = Math.max(1, d - w),
    hi = d + w;
  let s = 0;
  for (let v = lo; v <= hi; v++) s += f(v);
  return s / (hi - lo + 1);
}

/** Expected compute per optimizer step of the run's recursion settings, against fixed (n, T). */
export function expectedCompute(cfg: TrainConfig, c: TrmConfig): ComputeEstimate {
  // (share of the steps, depth) of each phase
  const phases: [number, Depth][] =
    cfg.curriculum === 'cgar'
      ? CGAR_PHASES.map((ph, i) => [ph.until - (i > 0 ? CGAR_PHASES[i - 1].until : 0), scaledDepth(c, ph.depth)])
      : [[1, { n: c.L_cycles, T: c.H_cycles }]];
  let net = 0,
    grad = 0;
  for (const [wt, d] of phases) {
    // n and T are independent draws, so E[T (n + 1)] = E[T] E[n + 1]
    const en1 = uniformMean(d.n, cfg.rand_n_width, v => v + 1),
      eT = uniformMean(d.T, cfg.rand_T_width, v => v);
    net += wt * eT * en1;
    grad += wt * en1;
  }
  const nsup = uniformMean(c.halt_max_steps, cfg.rand_nsup_width, v =>
    cfg.rand_nsup_clamp ? Math.min(v, c.halt_max_steps) : v,
  );
  const base = c.H_cycles * (c.L_cycles + 1),
    baseGrad = c.L_cycles + 1;
  return {
    net_calls: net,
    grad_calls: grad,
    nsup_cap: nsup,
    net_calls_ratio: net / base,
    grad_calls_ratio: grad / baseGrad,
  };
}
