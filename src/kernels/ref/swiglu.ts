/**
 * ref/swiglu.ts: reference SwiGLU activation (native/ops/swiglu.cpp): row r of gateUp (N, 2H) is
 * [gate (H) | up (H)], out = silu(gate) * up. Backward overwrites dgateUp.
 */
import type { F32 } from '../backend.js';

export function swigluForward(out: F32, gateUp: F32, N: number, H: number): void {
  for (let i = 0; i < N; i++)
    for (let h = 0; h < H; h++) {
      const g = gateUp[i * 2 * H + h],
        u = gateUp[i * 2 * H + H + h];
      out[i * H + h] = (g / (1 + Math.exp(-g))) * u;
    }
}

export function swigluBackward(dgateUp: F32, dout: F32, gateUp: F32, N: number, H: number): void {
  for (let i = 0; i < N; i++)
    for (let h = 0; h < H; h++) {
      const g = gateUp[i * 2 * H + h],
        u = gateUp[i * 2 * H + H + h],
        dy = dout[i * H + h];
      const sig = 1 / (1 + Math.exp(-g));
      dgateUp[i * 2 * H + h] += dy * u * sig * (1 + g * (1 - sig));
      dgateUp[i * 2 * H + H + h] += dy * g * sig;
    }
}
