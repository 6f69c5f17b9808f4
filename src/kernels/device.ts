/**
 * device.ts: who owns the tensors. A Device is a backend that allocates tensors, moves data
 * between them and the host, and runs every kernel of the contract (backend.ts) on them. The
 * model, the supervision step, the optimizers and the experiments hold only tensors and call
 * kernels, so the same code runs on any device:
 *   - host devices (`native`: C++ through Node-API, `ref`: plain TypeScript): a tensor IS a typed
 *     array (zero copy; a view is a subarray), and `read` returns the array itself;
 *   - GPU devices (`webgpu`): a tensor is a handle (DeviceTensor) to device memory; kernels are
 *     queued, and only `read` waits for them.
 * Reads back to the host belong where a person needs a number (metrics, a solve's grid), never
 * inside a supervision step. This module is device-free (no Node import): the active device is
 * set at the edge (kernels/select.ts in Node, a web page's own setup in the browser).
 */
import { TrmError } from '../errors.js';
import { KERNEL_NAMES, type KernelBackend } from './backend.js';

export type DType = 'f32' | 'i32' | 'u8';

/** A tensor on a non-host device: a handle, its element type and its length. */
export interface DeviceTensor<D extends DType = DType> {
  readonly dtype: D;
  readonly size: number;
  /** the device that owns it (a tensor of another device is an error) */
  readonly device: string;
}

export type F32T = Float32Array | DeviceTensor<'f32'>;
export type I32T = Int32Array | DeviceTensor<'i32'>;
export type U8T = Uint8Array | DeviceTensor<'u8'>;
export type Tensor = F32T | I32T | U8T;
export type HostArray = Float32Array | Int32Array | Uint8Array;

/** A bf16 tensor: bfloat16 values (the high half of an fp32's bits) in a Uint16Array, on host
 *  devices that offer them (`Device.bf16`). A bf16 run (precision=bf16) keeps the activations its
 *  backward reads as bf16 GEMM operands or through SwiGLU's bf16 backward in them (model/acts.ts):
 *  half the bytes. Only the kernels that say so take one (gemmBf16's A and B, the fused SwiGLU
 *  kernels' out and gateUp); everything else is fp32. */
export type BF16T = Uint16Array;
/** An activation a kernel writes and a backward reads: fp32, or bf16 in a bf16 run. */
export type KeptT = F32T | BF16T;

export function isBf16(t: unknown): t is BF16T {
  return t instanceof Uint16Array;
}

/** The host array type of a tensor type. */
export type HostOf<T extends Tensor> = T extends F32T ? Float32Array : T extends I32T ? Int32Array : Uint8Array;

export type BackendName = 'native' | 'ref' | 'webgpu';

export interface Device extends KernelBackend<F32T, I32T, U8T> {
  readonly name: BackendName;
  /** true when tensors are host typed arrays (native, ref): `readSync` then costs nothing */
  readonly host: boolean;
  /** bytes of memory tensors may use (host: the machine's RAM; GPU: the adapter's limit) */
  readonly memoryBytes: number;
  /** New zero-filled tensors of n elements. */
  f32(n: number): F32T;
  i32(n: number): I32T;
  u8(n: number): U8T;
  /** New zero-filled bf16 tensors of n elements (host devices; absent: the device keeps no bf16). */
  bf16?(n: number): BF16T;
  /** Elements [offset, offset + n) of t, sharing its memory. */
  view<T extends Tensor>(t: T, offset: number, n: number): T;
  /** Host data into dst[offset : offset + src.length]. */
  write(dst: Tensor, src: HostArray, offset?: number): void;
  /** The tensor's values on the host, once every queued kernel that writes it has run. On a host
   *  device this is the tensor itself (no copy; it changes when kernels write it again). */
  read<T extends Tensor>(t: T): Promise<HostOf<T>>;
  /** Host devices only: the tensor as a typed array, now. GPU devices throw. */
  readSync<T extends Tensor>(t: T): HostOf<T>;
  /** Waits until every queued kernel has run (a no-op on host devices). */
  flush(): Promise<void>;
  /** Frees a tensor's memory (GPU devices; host devices leave it to the garbage collector). */
  release(t: Tensor): void;
  /** Devices that can store GEMM operands as f16 (webgpu): 'f16' makes every gemm read f16
   *  copies of A and B (fp32 accumulation, fp32 C); 'fp32' is the default. */
  setPrecision?(p: 'fp32' | 'f16'): void;
  /** Devices that cache work on the weights between kernels (native: the fused kernels' packed
   *  weights): on, the weights (and the backward's transposed copies, model/acts.ts mixerT) stay the
   *  same until off. A supervision step's forward and backward run frozen (model/step.ts). */
  freezeWeights?(on: boolean): void;
}

export function isHostArray(t: unknown): t is HostArray {
  return t instanceof Float32Array || t instanceof Int32Array || t instanceof Uint8Array;
}

/** Element count of a tensor. */
export function sizeOf(t: Tensor): number {
  return isHostArray(t) ? t.length : t.size;
}

/** Element type of a tensor (undefined for something that is not one). */
export function dtypeOf(t: unknown): DType | undefined {
  if (t instanceof Float32Array) return 'f32';
  if (t instanceof Int32Array) return 'i32';
  if (t instanceof Uint8Array) return 'u8';
  const d = (t as DeviceTensor | null | undefined)?.dtype;
  return d === 'f32' || d === 'i32' || d === 'u8' ? d : undefined;
}

/** A host device over a host kernel backend; `allocF32` may align (native: 64-byte lines). */
export function hostDevice(
  k: KernelBackend,
  memoryBytes: number,
  allocF32: (n: number) => Float32Array = n => new Float32Array(n),
  allocBf16: (n: number) => Uint16Array = n => new Uint16Array(n),
): Device {
  const host = (t: Tensor, what: string): HostArray => {
    if (!isHostArray(t))
      throw new TrmError(
        'TRM_BAD_ARG',
        `${k.name} device: ${what} is a ${(t as DeviceTensor).device} tensor, not a host array`,
      );
    return t;
  };
  // The backend's own functions, bound (the native addon's are methods of the module object).
  const kernels: Record<string, unknown> = {};
  for (const name of KERNEL_NAMES) {
    const f = (k as unknown as Record<string, unknown>)[name];
    if (typeof f !== 'function')
      throw new TrmError('TRM_NO_DEVICE', `${k.name} backend lacks kernel ${name} (rebuild: npm run build)`);
    kernels[name] = f.bind(k);
  }
  return {
    ...kernels,
    name: k.name,
    host: true,
    memoryBytes,
    f32: (n: number) => allocF32(n),
    i32: (n: number) => new Int32Array(n),
    u8: (n: number) => new Uint8Array(n),
    bf16: (n: number) => allocBf16(n),
    view: <T extends Tensor>(t: T, offset: number, n: number): T => {
      const a = host(t, 'view source');
      if (!(Number.isInteger(offset) && Number.isInteger(n) && offset >= 0 && n >= 0 && offset + n <= a.length))
        throw new TrmError(
          'TRM_BAD_ARG',
          `view: [${offset}, ${offset + n}) is outside a tensor of ${a.length} elements`,
        );
      return a.subarray(offset, offset + n) as T;
    },
    write: (dst: Tensor, src: HostArray, offset = 0) => {
      const a = host(dst, 'write target');
      if (dtypeOf(a) !== dtypeOf(src))
        throw new TrmError('TRM_BAD_ARG', `write: a ${dtypeOf(src)} array into a ${dtypeOf(a)} tensor`);
      (a as Float32Array).set(src as Float32Array, offset);
    },
    read: async <T extends Tensor>(t: T) => host(t, 'read source') as HostOf<T>,
    readSync: <T extends Tensor>(t: T) => host(t, 'read source') as HostOf<T>,
    flush: async () => {},
    release: () => {},
  } as unknown as Device;
}

let active: Device | null = null;
let fallback: (() => Device) | null = null;

/** The device kernels run on now. Without a setDevice call: the edge's default (native in Node). */
export function device(): Device {
  if (active) return active;
  if (!fallback)
    throw new TrmError('TRM_NO_DEVICE', 'no compute device is set (call setDevice, or import trm from its Node entry)');
  active = fallback();
  return active;
}

/** Make `d` the active device (tests, benchmarks, --backend). Returns the previous one. */
export function setDevice(d: Device): Device | null {
  const prev = active;
  active = d;
  return prev;
}

/** The edge registers how to build the default device, lazily (so a warning prints only when used). */
export function setDefaultDevice(make: () => Device): void {
  fallback = make;
}
