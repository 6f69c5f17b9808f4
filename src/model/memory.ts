/**
 * memory.ts: how much memory a model's parameters need, computed from its config alone (no
 * allocation), and a check that refuses a model that cannot fit before anything is allocated.
 * Activations are checked separately (train/state.ts checkActsFit); this covers the parameter
 * block and what lives beside it:
 *   inference  the parameter block, plus the float32 copy of the file's tensors while loading
 *   training   parameters, gradients, Adam m and v, and the EMA shadow (all the block's layout)
 * A dataset's sizes (vocab_size, num_puzzle_identifiers) reach here through the model config,
 * so a dataset.json declaring 1e9 puzzle identifiers is refused with the tensor it would inflate.
 */
import { device } from '../kernels/core.js';
import { TrmError } from '../errors.js';
import type { TrmConfig } from './config.js';
import { paramSpec, specSize } from './params.js';

export type MemoryUse = 'inference' | 'training';

export interface ModelMemory {
  /** float32 elements of the parameter block */
  elements: number;
  /** copies of the block the use keeps */
  copies: number;
  bytes: number;
  /** the largest tensor, which is what usually makes a model too big */
  largest: { name: string; shape: number[]; bytes: number };
}

const GiB = 2 ** 30;
const gib = (b: number) => `${(b / GiB).toFixed(1)} GiB`;

/** Bytes of the parameter block and its companions for `use`, from the config alone. */
export function modelMemory(c: TrmConfig, use: MemoryUse, ema = true): ModelMemory {
  const spec = paramSpec(c),
    elements = specSize(spec);
  const big = spec.reduce((a, e) => (e.size > a.size ? e : a));
  const copies = use === 'inference' ? 2 : 4 + (ema ? 1 : 0);
  return {
    elements,
    copies,
    bytes: elements * 4 * copies,
    largest: { name: big.name, shape: big.shape, bytes: big.size * 4 },
  };
}

/**
 * Throw TRM_OUT_OF_MEMORY, before allocating, when the model's parameters (and for training the
 * optimizer state) would not fit in 80% of RAM, or the block exceeds a typed array's length.
 * `where` names the source of the sizes (a dataset.json, a checkpoint.json) in the message.
 */
export function checkModelFits(
  c: TrmConfig,
  use: MemoryUse,
  where: string,
  o: { ema?: boolean; ram?: number } = {},
): ModelMemory {
  const m = modelMemory(c, use, o.ema ?? true),
    ram = o.ram ?? device().memoryBytes;
  const tooLong = m.elements > 2 ** 32 - 1;
  if (!tooLong && m.bytes <= 0.8 * ram) return m;
  const l = m.largest;
  const what =
    use === 'training' ? 'parameters, gradients, Adam moments and EMA' : 'parameters (and their copy while loading)';
  throw new TrmError(
    'TRM_OUT_OF_MEMORY',
    `${where}: this model needs about ${gib(m.bytes)} for its ${what}` +
      `${tooLong ? ` (${m.elements.toExponential(2)} parameters, more than one array can hold)` : ''}, this machine has ${gib(ram)}; ` +
      `the largest tensor is ${l.name} [${l.shape.join(', ')}] (${gib(l.bytes)}): check vocab_size, num_puzzle_identifiers, hidden_size and puzzle_emb_ndim`,
  );
}
