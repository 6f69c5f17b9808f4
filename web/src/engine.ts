/**
 * engine.ts: the model in the page. Picks the compute device (WebGPU when a factory is registered
 * and the browser has it, else the portable TypeScript kernels), loads weights from safetensors
 * bytes, and runs k evaluation chains on one puzzle exactly as `trm solve` (k = 1, static init)
 * and `trm eval --init random --k K` (chain r draws its init from chainRng(seed, 0, r)) do,
 * recording after every supervision step what the Solve page shows.
 */
import { type Device, hostDevice, read, refBackend, setDevice, upload } from '../../src/kernels/core.js';
import { parseSafetensors, toF32 } from '../../src/io/safetensors-bytes.js';
import { resolveConfig, type TrmConfig } from '../../src/model/config.js';
import {
  loadStateDict,
  type NamedTensor,
  paramSpec,
  specSize,
  type Weights,
  weightsView,
} from '../../src/model/params.js';
import { allocActs } from '../../src/model/acts.js';
import { startCarry } from '../../src/model/carry.js';
import { chainRng, runChain } from '../../src/model/chain.js';
import type { InitSpec } from '../../src/model/init.js';
import { IGNORE_LABEL } from '../../src/model/step.js';
import { decodeGrid, encodeGrid } from '../../src/data/sudoku/tokens.js';

export interface DeviceChoice {
  device: Device;
  label: string;
}
type DeviceFactory = () => Promise<Device | null>;
let gpuFactory: DeviceFactory | null = null;

/**
 * The one call that plugs a GPU device in (src/webgpu), made in worker.ts where the model runs:
 *   registerGpuDevice(async () => ('gpu' in navigator ? createWebGpuDevice() : null))
 * It is tried first; null or a throw falls back to the portable kernels.
 */
export function registerGpuDevice(make: DeviceFactory): void {
  gpuFactory = make;
}

let chosen: DeviceChoice | null = null,
  gpuProblem: string | null = null;

export async function pickDevice(): Promise<DeviceChoice> {
  if (chosen) return chosen;
  if (gpuFactory) {
    try {
      const d = await gpuFactory();
      if (d) chosen = { device: d, label: "WebGPU (src/webgpu kernels on this browser's GPU adapter)" };
    } catch (e) {
      gpuProblem = (e as Error).message;
    }
  }
  if (!chosen) {
    const mem =
      (performance as unknown as { memory?: { jsHeapSizeLimit?: number } }).memory?.jsHeapSizeLimit ?? 2 ** 31;
    chosen = {
      device: hostDevice(refBackend, mem),
      label: `portable kernels (TypeScript on the CPU; ${gpuFactory ? `no WebGPU: ${gpuProblem ?? 'no navigator.gpu'}` : 'WebGPU not requested'})`,
    };
  }
  setDevice(chosen.device);
  return chosen;
}

export interface Model {
  config: TrmConfig;
  weights: Weights;
}

/** Weights for `config` from safetensors bytes (official names, F32/BF16/F16). */
export function modelFromBytes(bytes: Uint8Array, config: Partial<TrmConfig>, where: string): Model {
  const c = resolveConfig({ ...config });
  const file = parseSafetensors(bytes, where);
  const tensors = new Map<string, NamedTensor>();
  for (const [k, t] of file.tensors) tensors.set(k, { shape: t.shape, data: toF32(t, `${where}: ${k}`) });
  const host = weightsView(c, new Float32Array(specSize(paramSpec(c))));
  loadStateDict(host, tensors, where);
  return { config: c, weights: weightsView(c, upload(host.data)) };
}

export interface StepRecord {
  step: number;
  /** answer values 0..n (0: a non-digit token) */
  grid: Uint8Array;
  /** per cell: the largest softmax probability of the logits */
  conf: Float32Array;
  q_halt: number;
  q_continue: number;
  changed: number[];
  /** the latents after the step, flattened (S * D) */
  y: Float32Array;
  z: Float32Array;
  /** |z_t - z_{t-1}| (L2 over all positions; step 1: from the init) */
  dz: number;
}

export interface ChainOptions {
  n: number;
  nsup: number;
  k: number;
  init: 'static' | 'random';
  seed: number;
  /** after each step of each chain; await it to let the page paint */
  onStep?: (chain: number, rec: StepRecord) => void | Promise<void>;
}

function l2diff(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    s += d * d;
  }
  return Math.sqrt(s);
}

/** Runs k chains on `puzzle` (values 0..n); returns the records of each chain. */
export async function runChains(m: Model, puzzle: Uint8Array, o: ChainOptions): Promise<StepRecord[][]> {
  const c = m.config,
    L = c.seq_len,
    V = c.vocab_size;
  const a = allocActs(c, 1);
  const batch = {
    inputs: upload(encodeGrid(puzzle)),
    labels: upload(new Int32Array(L).fill(IGNORE_LABEL)),
    puzzleIds: upload(new Int32Array(1)),
  };
  const init: InitSpec =
    o.init === 'static' ? { mode: 'static', scale: 1, training: false } : { mode: 'random', scale: 1, training: false };
  const all: StepRecord[][] = [];
  for (let r = 0; r < o.k; r++) {
    const rng = o.init === 'static' ? null : chainRng(o.seed, 0, r);
    const carry = startCarry(c, m.weights, 1, a.d.S, init, rng);
    let prevZ = (await read(carry.z)).slice(),
      prev: Uint8Array = new Uint8Array(L);
    const recs: StepRecord[] = [];
    await runChain(c, m.weights, a, batch, {
      nsup: o.nsup,
      init,
      rng,
      carry,
      onStep: async (s, res, cy) => {
        const [preds, q, logits, y, z] = await Promise.all([
          read(res.preds),
          read(res.q),
          read(res.logits),
          read(cy.y),
          read(cy.z),
        ]);
        const grid = decodeGrid(preds.subarray(0, L), o.n),
          conf = new Float32Array(L);
        for (let i = 0; i < L; i++) {
          let mx = -Infinity,
            sum = 0;
          for (let v = 0; v < V; v++) mx = Math.max(mx, logits[i * V + v]);
          for (let v = 0; v < V; v++) sum += Math.exp(logits[i * V + v] - mx);
          conf[i] = 1 / sum; // softmax of the largest logit
        }
        const changed: number[] = [];
        for (let i = 0; i < L; i++) if (grid[i] !== prev[i]) changed.push(i);
        const zc = z.slice();
        const rec: StepRecord = {
          step: s,
          grid,
          conf,
          q_halt: q[0],
          q_continue: q[1],
          changed,
          y: y.slice(),
          z: zc,
          dz: l2diff(zc, prevZ),
        };
        prev = grid;
        prevZ = zc;
        recs.push(rec);
        await o.onStep?.(r, rec);
      },
    });
    all.push(recs);
  }
  return all;
}
