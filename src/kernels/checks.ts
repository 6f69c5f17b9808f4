/**
 * checks.ts: the size checks the checked kernel entries share (ops.ts, gemm.ts). Device-free.
 */
import { ShapeError } from '../errors.js';

/** The named sizes of one call, formatted as "(N=3, D=4)" only when a message needs them (sizes()). */
export class Shape {
  constructor(readonly named: Record<string, number>) {}
  toString(): string {
    return `(${Object.entries(this.named)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')})`;
  }
}

/** Checks each named size is a non-negative integer; returns them for messages (Shape). No string
 *  and no Object.entries on the checked path: a step calls ~130 kernels, each right after another
 *  streamed megabytes through the caches, where this path's code and allocations are cold (a small
 *  op after such a kernel: 12-18 us through these checks with the string, 9-11 without; the bare
 *  addon call 4-6 us; 2-vCPU Zen 5). */
export function sizes(op: string, named: Record<string, number>): Shape {
  for (const k in named) {
    const v = named[k] as number;
    if (!Number.isInteger(v) || v < 0) throw new ShapeError(`${op}: ${k} must be a non-negative integer, got ${v}`);
  }
  return new Shape(named);
}
