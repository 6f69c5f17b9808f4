/**
 * schedule.ts: the learning-rate schedule (reference/trm-algorithm.md 9; official
 * pretrain.py:207-214): linear warm-up from 0, then cosine down to lr_min_ratio * base
 * (constant when the ratio is 1, the official default). Pure: the step is the only state.
 */

export interface LrSchedule {
  lr_warmup_steps: number;
  lr_min_ratio: number;
  /** total optimizer steps (the cosine's length) */
  steps: number;
}

/** lr at optimizer step `step` (counted from 1, as the official loop increments before use). */
export function lrAt(step: number, base: number, s: LrSchedule): number {
  if (step < s.lr_warmup_steps) return (base * step) / s.lr_warmup_steps;
  const r = s.lr_min_ratio;
  const progress = (step - s.lr_warmup_steps) / Math.max(1, s.steps - s.lr_warmup_steps);
  return base * (r + Math.max(0, (1 - r) * 0.5 * (1 + Math.cos(Math.PI * progress))));
}
