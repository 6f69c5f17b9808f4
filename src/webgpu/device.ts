/// <reference types="@webgpu/types" />
/**
 * webgpu/device.ts: the WebGPU device. Tensors are handles to GPUBuffers (a view is the same
 * buffer at another element offset; the offset travels to the shader as a uniform, as storage
 * binding offsets must be 256-byte aligned). Kernels are recorded into one compute pass and
 * submitted in batches: when `batch` dispatches are queued, or before a write, read, flush or
 * release. The host waits only in read() and flush(). Pipelines are built once per kernel and
 * specialization (transposes, GEMM block, which tensors share a buffer); each dispatch's
 * parameters take one 256-byte slot of a uniform ring bound with a dynamic offset, so bind groups
 * are cached per (pipeline, buffers). A buffer larger than the adapter's storage binding limit (a
 * whole parameter or activation block) is bound as a window over the views a call uses, so only
 * each call's operands must fit the limit.
 *
 * u8 tensors are stored as one u32 per element (WGSL has no 8-bit storage); write() widens and
 * read() narrows, so callers see Uint8Arrays. Device-free (no Node import): the GPU object is a
 * parameter, or the browser's navigator.gpu; src/webgpu/node.ts loads Dawn in Node.
 */
import { TrmError } from '../errors.js';
import type { GemmArgs } from '../kernels/backend.js';
import type { Device, DeviceTensor, DType, F32T, HostArray, HostOf, I32T, Tensor, U8T } from '../kernels/device.js';
import {
  gemmSumNTBf16Via,
  gemmSumNTVia,
  gemmSwigluBackwardVia,
  linearSwigluBackwardVia,
  linearSwigluVia,
  mlpNormBackwardVia,
  mlpNormVia,
  tokenMixerNormBackwardVia,
  tokenMixerNormVia,
} from '../kernels/compose.js';
import { dtypeOf, isHostArray } from '../kernels/device.js';
import {
  DEFAULT_TILE,
  DIRECT_BLOCK,
  gemmBlock,
  gemmDirectSpec,
  gemmSharedBytes,
  gemmSpec,
  type Operands,
  type TileOptions,
} from './gemm.js';
import { ROWS_MAX_D, WG, specs, statusKernels } from './kernels.js';
import { generate, grid, type KernelSpec, slotAccess, UNIFORM_SLOT, uniformFields } from './wgsl.js';

// WebGPU flag values (the GPUBufferUsage / GPUShaderStage / GPUMapMode globals are not in Node).
const MAP_READ = 0x1,
  COPY_SRC = 0x4,
  COPY_DST = 0x8,
  UNIFORM = 0x40,
  STORAGE = 0x80,
  COMPUTE = 0x4;

export interface WebGpuOptions {
  /** bytes the memory checks may plan for (default: 4 x the adapter's maxBufferSize) */
  memoryBytes?: number;
  /** the GPU object (navigator.gpu in a browser, `create([])` of the webgpu package in Node) */
  gpu?: GPU;
  /** an adapter already chosen (skips requestAdapter) */
  adapter?: GPUAdapter;
  powerPreference?: GPUPowerPreference;
  /** dispatches recorded before a submit (default 256) */
  batch?: number;
  /** force the GEMM register block (4: 64x64 tiles, 8: 128x128); default by product size */
  gemmBlock?: 4 | 8;
  /** bind at most this many bytes of a buffer (default: the adapter's storage binding limit);
   *  larger buffers are bound as windows over each call's views (tests use a small value) */
  maxBinding?: number;
}

/** Where a tensor's elements live: a buffer shared by the tensor and its views. */
class Store {
  released = false;
  constructor(
    readonly buffer: GPUBuffer,
    readonly bytes: number,
    readonly id: number,
  ) {}
}

/** A WebGPU tensor: `size` elements of `dtype` from element `offset` of a buffer. */
/** A single product's k axis is split into slices of at least this many k (gemmAny's split-K). */
const SPLIT_K_MIN_SLICE = 256;

export class GpuTensor<D extends DType = DType> implements DeviceTensor<D> {
  readonly device = 'webgpu';
  constructor(
    readonly dtype: D,
    readonly size: number,
    readonly store: Store,
    readonly offset: number,
    readonly root: boolean,
  ) {}
}

interface Pipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  fields: ['u32' | 'i32' | 'f32', number][];
}

const storageType = { f32: 'f32', i32: 'i32', u8: 'u32' } as const;

interface PendingRead {
  g: GpuTensor;
  resolve: (words: Uint32Array) => void;
  reject: (e: unknown) => void;
}

/** Requests an adapter and a device with the adapter's buffer limits, and wraps it. */
export async function createWebGpuDevice(opts: WebGpuOptions = {}): Promise<WebGpuDevice> {
  const gpu = opts.gpu ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!gpu && !opts.adapter)
    throw new TrmError(
      'TRM_NO_DEVICE',
      'webgpu: no GPU object (navigator.gpu is missing; in Node use createNodeWebGpuDevice)',
    );
  const adapter =
    opts.adapter ?? (await gpu!.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' }));
  if (!adapter) throw new TrmError('TRM_NO_DEVICE', 'webgpu: no adapter found (no GPU or no WebGPU driver)');
  const l = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxStorageBuffersPerShaderStage: Math.min(l.maxStorageBuffersPerShaderStage, 10),
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    },
  });
  return new WebGpuDevice(adapter, device, opts);
}

export class WebGpuDevice implements Device {
  readonly name = 'webgpu';
  readonly host = false;
  /** the adapter's description (e.g. "SwiftShader driver 5.0.0"), else vendor and architecture */
  readonly adapterName: string;
  readonly isSwiftShader: boolean;
  /** WebGPU reports no device memory size: the memory checks use 4 x the largest buffer the
   *  adapter allows (a conservative stand-in; override with opts.memoryBytes). */
  readonly memoryBytes: number;
  private readonly batchSize: number;
  private readonly pipelines = new Map<string, Pipeline>();
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly ring: GPUBuffer;
  private readonly ringData: ArrayBuffer;
  private readonly ringView: DataView;
  private readonly status: GPUBuffer;
  private ringUsed = 0;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pending = 0;
  private nextId = 1;
  private failure: string | null = null;
  /** Counters since creation: kernel dispatches recorded, command buffers submitted, host waits
   *  (read/flush). A supervision step should be a few submits and no wait until its metrics. */
  readonly stats = { dispatches: 0, submits: 0, waits: 0 };
  private readonly maxBinding: number;
  private readonly bindAlign: number;

  constructor(
    readonly adapter: GPUAdapter,
    readonly gpu: GPUDevice,
    opts: WebGpuOptions = {},
  ) {
    const info = adapter.info;
    this.adapterName =
      info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(' ') || 'unknown adapter';
    this.isSwiftShader = /swiftshader/i.test(this.adapterName);
    this.batchSize = opts.batch ?? 256;
    this.memoryBytes = opts.memoryBytes ?? 4 * gpu.limits.maxBufferSize;
    this.gemmBlockOverride = opts.gemmBlock;
    this.gemmDirect = this.isSwiftShader;
    this.maxBinding = Math.min(opts.maxBinding ?? Infinity, gpu.limits.maxStorageBufferBindingSize);
    this.bindAlign = gpu.limits.minStorageBufferOffsetAlignment;
    this.ringData = new ArrayBuffer(this.batchSize * UNIFORM_SLOT);
    this.ringView = new DataView(this.ringData);
    this.ring = gpu.createBuffer({ size: this.ringData.byteLength, usage: UNIFORM | COPY_DST });
    this.status = gpu.createBuffer({ size: 32, usage: STORAGE | COPY_SRC | COPY_DST });
    gpu.addEventListener('uncapturederror', e => {
      this.failure ??= (e as GPUUncapturedErrorEvent).error.message;
    });
    void gpu.lost.then(info => {
      this.failure ??= `device lost (${info.reason}): ${info.message}`;
    });
  }

  /** The adapter's limits that matter here, for `trm info` and the benchmarks. */
  limits(): Record<string, number> {
    const l = this.gpu.limits;
    return {
      maxBufferSize: l.maxBufferSize,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    };
  }

  // ---- tensors -----------------------------------------------------------------------------------

  private alloc<D extends DType>(dtype: D, n: number): GpuTensor<D> {
    if (!Number.isInteger(n) || n < 0)
      throw new TrmError('TRM_BAD_ARG', `webgpu: tensor size must be a non-negative integer, got ${n}`);
    const bytes = Math.max(16, n * 4);
    if (bytes > this.gpu.limits.maxBufferSize)
      throw new TrmError(
        'TRM_BAD_ARG',
        `webgpu: a tensor of ${n} elements (${bytes} bytes) exceeds the adapter's ${this.gpu.limits.maxBufferSize}-byte buffer limit`,
      );
    const buffer = this.gpu.createBuffer({ size: bytes, usage: STORAGE | COPY_SRC | COPY_DST }); // zero-filled by WebGPU
    return new GpuTensor(dtype, n, new Store(buffer, bytes, this.nextId++), 0, true);
  }
  f32(n: number): F32T {
    return this.alloc('f32', n);
  }
  i32(n: number): I32T {
    return this.alloc('i32', n);
  }
  u8(n: number): U8T {
    return this.alloc('u8', n);
  }

  /** The GpuTensor behind a tensor argument, or a one-line error naming the kernel and argument. */
  private tensor(t: unknown, op: string, what: string): GpuTensor {
    if (t instanceof GpuTensor) {
      if (t.store.released) throw new TrmError('TRM_BAD_ARG', `${op}: ${what} was released`);
      return t;
    }
    const kind = isHostArray(t)
      ? `a host ${t.constructor.name}`
      : (t as DeviceTensor | null)?.device
        ? `a ${(t as DeviceTensor).device} tensor`
        : String(t);
    throw new TrmError(
      'TRM_BAD_ARG',
      `${op}: ${what} is ${kind}, not a webgpu tensor (allocate it with the webgpu device)`,
    );
  }

  view<T extends Tensor>(t: T, offset: number, n: number): T {
    const g = this.tensor(t, 'view', 'the source');
    if (!(Number.isInteger(offset) && Number.isInteger(n) && offset >= 0 && n >= 0 && offset + n <= g.size))
      throw new TrmError('TRM_BAD_ARG', `view: [${offset}, ${offset + n}) is outside a tensor of ${g.size} elements`);
    return new GpuTensor(g.dtype, n, g.store, g.offset + offset, false) as unknown as T;
  }

  write(dst: Tensor, src: HostArray, offset = 0): void {
    const g = this.tensor(dst, 'write', 'the target');
    if (dtypeOf(src) !== g.dtype)
      throw new TrmError('TRM_BAD_ARG', `write: a ${dtypeOf(src) ?? typeof src} array into a ${g.dtype} tensor`);
    if (!(Number.isInteger(offset) && offset >= 0 && offset + src.length <= g.size))
      throw new TrmError(
        'TRM_BAD_ARG',
        `write: ${src.length} elements at offset ${offset} do not fit a tensor of ${g.size}`,
      );
    if (src.length === 0) return;
    this.startReads(); // reads requested before this write see the old contents
    this.submit(); // kernels recorded before this write must see the old contents
    const data = src instanceof Uint8Array ? Uint32Array.from(src) : src;
    this.gpu.queue.writeBuffer(g.store.buffer, (g.offset + offset) * 4, data.buffer, data.byteOffset, data.byteLength);
  }

  async read<T extends Tensor>(t: T): Promise<HostOf<T>> {
    const g = this.tensor(t, 'read', 'the source');
    const words = await this.readWords(g);
    const out =
      g.dtype === 'f32'
        ? new Float32Array(words.buffer, words.byteOffset, g.size).slice()
        : g.dtype === 'i32'
          ? new Int32Array(words.buffer, words.byteOffset, g.size).slice()
          : Uint8Array.from(words.subarray(0, g.size));
    return out as HostOf<T>;
  }

  /** Reads requested together (a step's readout: `Promise.all([read(a), read(b), ...])`) share
   *  one copy, one submit and one host wait: they are started at the end of the tick, or before
   *  anything else is recorded (a kernel, write or release), so each read still sees the tensor
   *  as it was when read() was called. */
  private readBatch: PendingRead[] | null = null;
  private readWords(g: GpuTensor): Promise<Uint32Array> {
    return new Promise((resolve, reject) => {
      if (!this.readBatch) {
        this.readBatch = [];
        queueMicrotask(() => this.startReads());
      }
      this.readBatch.push({ g, resolve, reject });
    });
  }
  private startReads(): void {
    const batch = this.readBatch;
    if (!batch) return;
    this.readBatch = null;
    this.sync(batch.map(r => r.g)).then(
      parts => {
        batch.forEach((r, k) => {
          r.resolve(parts[k]);
        });
      },
      e => {
        batch.forEach(r => {
          r.reject(e);
        });
      },
    );
  }

  readSync<T extends Tensor>(_t: T): HostOf<T> {
    throw new TrmError('TRM_BAD_ARG', 'webgpu: readSync is for host devices; use `await read(t)`');
  }

  async flush(): Promise<void> {
    this.startReads();
    await this.sync([]);
  }

  release(t: Tensor): void {
    const g = this.tensor(t, 'release', 'the tensor');
    if (!g.root) return; // a view frees nothing; its root does
    this.startReads();
    this.submit(); // recorded kernels may still use the buffer; destroy waits for submitted work
    g.store.released = true;
    g.store.buffer.destroy();
    const tag = `|${g.store.id}@`;
    for (const k of this.bindGroups.keys()) if (k.includes(tag)) this.bindGroups.delete(k);
  }

  /** Frees every GPU resource (the device is unusable afterwards). */
  destroy(): void {
    this.pass = null;
    this.encoder = null;
    this.gpu.destroy();
  }

  /** Submits what is recorded, copies the tensors `gs` and the status words out, waits once, and
   *  throws a deferred kernel or WebGPU error. Returns each tensor's words. */
  private async sync(gs: GpuTensor[]): Promise<Uint32Array[]> {
    this.submit();
    const at: number[] = [];
    let bytes = 0;
    for (const g of gs) {
      at.push(bytes);
      bytes += Math.ceil((g.size * 4) / 16) * 16;
    }
    const statusAt = bytes;
    const staging = this.gpu.createBuffer({ size: statusAt + 32, usage: MAP_READ | COPY_DST });
    const enc = this.gpu.createCommandEncoder();
    gs.forEach((g, k) => {
      if (g.size > 0) enc.copyBufferToBuffer(g.store.buffer, g.offset * 4, staging, at[k], g.size * 4);
    });
    enc.copyBufferToBuffer(this.status, 0, staging, statusAt, 32);
    this.gpu.queue.submit([enc.finish()]);
    this.stats.waits++;
    try {
      await staging.mapAsync(1);
    } catch (e) {
      throw new TrmError('TRM_WEBGPU', `webgpu: ${this.failure ?? (e as Error).message}`);
    }
    const words = new Uint32Array(staging.getMappedRange().slice(0));
    staging.unmap();
    staging.destroy();
    if (this.failure) throw new TrmError('TRM_WEBGPU', `webgpu: ${this.failure}`);
    const st = words.subarray(statusAt / 4, statusAt / 4 + 8);
    if (st[0] !== 0) {
      this.gpu.queue.writeBuffer(this.status, 0, new Uint32Array(8));
      const [kernel, what] = statusKernels[st[1]] ?? ['kernel', 'index'];
      throw new RangeError(`${kernel}: ${what}[${st[2]}] = ${st[3] | 0} is outside [0, ${st[4]})`);
    }
    return gs.map((g, k) => words.subarray(at[k] / 4, at[k] / 4 + g.size));
  }

  // ---- recording ---------------------------------------------------------------------------------

  /** Ends the pass and submits the recorded dispatches with their uniforms (no wait). */
  private submit(): void {
    if (!this.encoder) return;
    this.pass!.end();
    if (this.ringUsed) this.gpu.queue.writeBuffer(this.ring, 0, this.ringData, 0, this.ringUsed);
    this.gpu.queue.submit([this.encoder.finish()]);
    this.stats.submits++;
    this.encoder = null;
    this.pass = null;
    this.ringUsed = 0;
    this.pending = 0;
  }

  private pipeline(spec: KernelSpec, slots: number[], key: string): Pipeline {
    const access = slotAccess(spec, slots);
    const layoutKey = `${spec.status ? 's' : ''}${access.map(a => (a.write ? 'w' : 'r')).join('')}`;
    let layout = this.layouts.get(layoutKey);
    if (!layout) {
      const entries: GPUBindGroupLayoutEntry[] = [
        {
          binding: 0,
          visibility: COMPUTE,
          buffer: { type: 'uniform', hasDynamicOffset: true, minBindingSize: UNIFORM_SLOT },
        },
      ];
      if (spec.status) entries.push({ binding: 1, visibility: COMPUTE, buffer: { type: 'storage' } });
      const first = spec.status ? 2 : 1;
      access.forEach((a, s) => {
        entries.push({
          binding: first + s,
          visibility: COMPUTE,
          buffer: { type: a.write ? 'storage' : 'read-only-storage' },
        });
      });
      layout = this.gpu.createBindGroupLayout({ entries });
      this.layouts.set(layoutKey, layout);
    }
    const code = generate(spec, slots);
    const pipeline = this.gpu.createComputePipeline({
      layout: this.gpu.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module: this.gpu.createShaderModule({ code, label: key }), entryPoint: 'main' },
      label: key,
    });
    const fields = uniformFields(spec).map(([, t], k) => [t, k] as ['u32' | 'i32' | 'f32', number]);
    const p = { pipeline, layout, fields };
    this.pipelines.set(key, p);
    return p;
  }

  /** Records one dispatch of `spec` over `tensors` (in spec order) with scalar `params`. */
  private run(spec: KernelSpec, tensors: unknown[], params: number[], groups: [number, number, number]): void {
    if (groups[0] * groups[1] * groups[2] === 0) return;
    this.startReads(); // reads requested before this kernel see the tensors without it
    const gts = tensors.map((t, k) => this.tensor(t, spec.name, spec.tensors[k].name));
    const stores: Store[] = [],
      slots: number[] = [],
      lo: number[] = [],
      hi: number[] = [];
    gts.forEach((g, k) => {
      if (storageType[g.dtype] !== spec.tensors[k].type)
        throw new TrmError('TRM_BAD_ARG', `${spec.name}: ${spec.tensors[k].name} is a ${g.dtype} tensor`);
      let s = stores.indexOf(g.store);
      if (s < 0) {
        s = stores.length;
        stores.push(g.store);
        lo.push(g.offset);
        hi.push(g.offset + g.size);
      }
      lo[s] = Math.min(lo[s], g.offset);
      hi[s] = Math.max(hi[s], g.offset + g.size);
      slots.push(s);
    });
    // Each buffer is bound whole when it fits the binding limit, else as a window over what this
    // call's views of it span (window starts aligned as storage binding offsets must be).
    const windows = stores.map((st, s) => {
      if (st.bytes <= this.maxBinding) return { start: 0, size: st.bytes };
      const start = Math.floor((lo[s] * 4) / this.bindAlign) * this.bindAlign;
      const size = Math.min(st.bytes - start, Math.max(16, Math.ceil((hi[s] * 4 - start) / 4) * 4));
      if (size > this.maxBinding)
        throw new TrmError(
          'TRM_BAD_ARG',
          `${spec.name}: its operands span ${size} bytes of one buffer, more than the adapter's ${this.maxBinding}-byte storage binding limit`,
        );
      return { start, size };
    });
    const key = `${spec.name}:${slots.join('')}`;
    const p = this.pipelines.get(key) ?? this.pipeline(spec, slots, key);
    // Uniforms: tensor offsets (relative to their binding's window), then parameters.
    const values = [...gts.map((g, k) => g.offset - windows[slots[k]].start / 4), ...params];
    const base = this.ringUsed;
    for (const [type, k] of p.fields) {
      const at = base + 4 * k,
        v = values[k];
      if (type === 'f32') this.ringView.setFloat32(at, v, true);
      else if (type === 'i32') this.ringView.setInt32(at, v, true);
      else this.ringView.setUint32(at, v, true);
    }
    const bgKey = `${key}|${stores.map((s, k) => `${s.id}@${windows[k].start}+${windows[k].size}`).join('|')}|`;
    let bg = this.bindGroups.get(bgKey);
    if (!bg) {
      if (this.bindGroups.size > 4096) this.bindGroups.clear();
      const entries: GPUBindGroupEntry[] = [
        { binding: 0, resource: { buffer: this.ring, offset: 0, size: UNIFORM_SLOT } },
      ];
      if (spec.status) entries.push({ binding: 1, resource: { buffer: this.status } });
      const first = spec.status ? 2 : 1;
      stores.forEach((s, k) => {
        entries.push({
          binding: first + k,
          resource: { buffer: s.buffer, offset: windows[k].start, size: windows[k].size },
        });
      });
      bg = this.gpu.createBindGroup({ layout: p.layout, entries });
      this.bindGroups.set(bgKey, bg);
    }
    if (!this.encoder) {
      this.encoder = this.gpu.createCommandEncoder();
      this.pass = this.encoder.beginComputePass();
    }
    const pass = this.pass!;
    pass.setPipeline(p.pipeline);
    pass.setBindGroup(0, bg, [base]);
    pass.dispatchWorkgroups(groups[0], groups[1], groups[2]);
    this.ringUsed += UNIFORM_SLOT;
    this.stats.dispatches++;
    if (++this.pending >= this.batchSize) this.submit();
  }

  /** One invocation per element: `n` elements, `n` as the first parameter. */
  private each(name: string, tensors: unknown[], n: number, params: number[] = []): void {
    if (n > 0) this.run(specs[name], tensors, [n, ...params], grid(Math.ceil(n / WG)));
  }

  // ---- the kernel contract (src/kernels/backend.ts) ----------------------------------------------

  gemm(...args: GemmArgs<F32T>): void {
    this.gemmAny(this.precision === 'f16' ? 'f16' : 'fp32', ...args);
  }

  /** bf16 operands (rounded as they are loaded), fp32 products and sums (the contract's gemmBf16). */
  gemmBf16(...args: GemmArgs<F32T>): void {
    this.gemmAny('bf16', ...args);
  }

  private gemmAny(ops: Operands, ...args: GemmArgs<F32T>): void {
    const [transA, transB, M, N, K, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC, batch] = args;
    if (M === 0 || N === 0 || batch === 0) return;
    const sumC = strideC === 0 && batch > 1;
    if (ops === 'f16' && K === 0) ops = 'fp32'; // nothing is read: C = beta C
    // CPU adapters take the barrier-free kernel unless a block is forced (tests force both).
    const direct = this.gemmDirect && this.gemmBlockOverride === undefined;
    if (sumC && !direct && K > 0) {
      // A sum over items with few output tiles (the token mixer's weight gradients: 97 x 512 or
      // 1024 x 97, summed over the batch) would run on a few dozen workgroups, each walking every
      // item. Instead: groups of items into partial products (one plane each), then one pass adds
      // the planes in group order. The grouping depends on the shapes only, so the bits do too.
      const tiles = this.tilesOf(M, N);
      const per = Math.ceil(batch / Math.min(batch, Math.ceil(this.sumGroupWorkgroups / tiles)));
      const groups = Math.ceil(batch / per);
      if (groups > 1) {
        const plane = M * N;
        const part = this.sumScratch(groups * plane);
        this.gemmDispatch(
          ops,
          [transA, transB, M, N, K, 1, A, lda, strideA, B, ldb, strideB, 0, part, N, plane, batch],
          groups,
          per,
        );
        this.each('gemmSumGroups', [C, part], plane, [N, ldc, groups, plane, alpha, beta]);
        return;
      }
    }
    if (!sumC && batch === 1 && !direct && this.splitKWorkgroups > 0 && K >= 2 * SPLIT_K_MIN_SLICE) {
      // A single product with a long k and few output tiles (the channel MLP's weight gradients,
      // K = B * L tokens) would leave most of a large GPU idle, each workgroup walking all of K.
      // Instead: k slices as a batch of partial products (one plane each, the last slice shorter
      // in a launch of its own), then the same fixed-order sum pass as the grouped item sums.
      // The slicing depends on the shapes only, so the bits do too.
      const slices = Math.min(Math.floor(K / SPLIT_K_MIN_SLICE), Math.ceil(this.splitKWorkgroups / this.tilesOf(M, N)));
      if (slices > 1) {
        const s = Math.ceil(K / slices / 32) * 32; // whole workgroup-memory slices
        const full = Math.floor(K / s),
          rest = K - full * s;
        const planes = full + (rest > 0 ? 1 : 0);
        const plane = M * N;
        const part = this.sumScratch(planes * plane);
        const sa = transA ? s * lda : s,
          sb = transB ? s : s * ldb;
        this.gemmDispatch(ops, [transA, transB, M, N, s, 1, A, lda, sa, B, ldb, sb, 0, part, N, plane, full], full, 0);
        if (rest > 0) {
          const from = (g: F32T, n: number) => this.view(g, n, this.tensor(g, 'gemm', 'split').size - n);
          const [a, b, c] = [from(A, full * sa), from(B, full * sb), from(part, full * plane)];
          this.gemmDispatch(ops, [transA, transB, M, N, rest, 1, a, lda, 0, b, ldb, 0, 0, c, N, 0, 1], 1, 0);
        }
        this.each('gemmSumGroups', [C, part], plane, [N, ldc, planes, plane, alpha, beta]);
        return;
      }
    }
    this.gemmDispatch(ops, args, sumC ? 1 : batch, sumC ? batch : 0);
  }

  /** One GEMM kernel launch: grid z = `zs` (chunks of 65535 when longer); `sumPer` > 0: z = g sums
   *  items [g * sumPer, g * sumPer + sumPer) of `batch` into C item g (gemm.ts). */
  private gemmDispatch(ops: Operands, args: GemmArgs<F32T>, zs: number, sumPer: number): void {
    const [transA, transB, M, N, K, alpha, A, lda, strideA, B, ldb, strideB, beta, C, ldc, strideC, batch] = args;
    const f16 = ops === 'f16';
    const direct = this.gemmDirect && this.gemmBlockOverride === undefined;
    const T = this.gemmBlockFor(M, N, zs);
    const R = this.gemmDirectBlock;
    const tile = this.gemmTile;
    const key = `gemm${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}${direct ? `D${R}` : `${T}k${tile.bk}`}${ops}`;
    const spec =
      this.gemmSpecs.get(key) ??
      this.gemmSpecs
        .set(key, direct ? gemmDirectSpec(transA, transB, R, R, ops) : gemmSpec(transA, transB, T, ops, tile))
        .get(key)!;
    const span = direct ? 8 * R : 16 * T;
    const a = this.tensor(A, 'gemm', 'A'),
      b = this.tensor(B, 'gemm', 'B'),
      c = this.tensor(C, 'gemm', 'C');
    // The grid's z is limited to 65535: longer batches run in chunks (views at the chunk's start;
    // a summing launch has at most a few hundred z). With f16 operands each chunk's A and B are
    // first packed (packF16) into scratch buffers.
    for (let z0 = 0; z0 < zs; z0 += 65535) {
      const nz = Math.min(65535, zs - z0);
      const at = (g: GpuTensor, stride: number) =>
        z0 === 0 ? g : new GpuTensor(g.dtype, g.size - z0 * stride, g.store, g.offset + z0 * stride, false);
      let opA: GpuTensor = at(a, strideA),
        opB: GpuTensor = at(b, strideB);
      if (f16) {
        const n = sumPer > 0 ? batch : nz; // items this dispatch reads
        opA = this.packF16(opA, (n - 1) * strideA + (transA ? (K - 1) * lda + M : (M - 1) * lda + K), 0);
        opB = this.packF16(opB, (n - 1) * strideB + (transB ? (N - 1) * ldb + K : (K - 1) * ldb + N), 1);
      }
      this.run(
        spec,
        [opA, opB, at(c, strideC)],
        [M, N, K, lda, ldb, ldc, strideA, strideB, strideC, batch, sumPer, alpha, beta],
        [Math.ceil(N / span), Math.ceil(M / span), nz],
      );
    }
  }

  /** The partial products of grouped item sums (grown as needed; dispatches run in order, so the
   *  next product may reuse it once its sum pass has been recorded). */
  private sumPartials: GpuTensor | null = null;
  private sumScratch(n: number): F32T {
    let s = this.sumPartials;
    if (!s || s.size < n) {
      if (s) this.release(s);
      s = this.alloc('f32', Math.max(n, 2 * (s?.size ?? 0)));
      this.sumPartials = s;
    }
    return new GpuTensor('f32', n, s.store, s.offset, false);
  }

  /** GEMM operand precision (src/kernels/device.ts setPrecision): 'f16' packs A and B as f16 pairs
   *  before every product (fp32 accumulation, fp32 C). */
  private precision: 'fp32' | 'f16' = 'fp32';
  setPrecision(p: 'fp32' | 'f16'): void {
    if (p !== 'fp32' && p !== 'f16')
      throw new TrmError('TRM_BAD_ARG', `webgpu: precision must be 'fp32' or 'f16', got ${JSON.stringify(p)}`);
    this.precision = p;
  }
  getPrecision(): 'fp32' | 'f16' {
    return this.precision;
  }
  /** Scratch words for the packed A and B (grown as needed; the GPU runs dispatches in order, so
   *  the next product may overwrite them). */
  private readonly packScratch: (GpuTensor | null)[] = [null, null];
  /** `n` elements of `g` as f16 pairs in u32 words (the first `ceil(n / 2)` words of a scratch). */
  private packF16(g: GpuTensor, n: number, slot: 0 | 1): GpuTensor {
    const words = Math.ceil(Math.min(n, g.size) / 2);
    let s = this.packScratch[slot];
    if (!s || s.size < words) {
      if (s) this.release(s); // destroyed once the submitted work that uses it is done
      s = this.alloc('u8', Math.max(words, 2 * (s?.size ?? 0)));
      this.packScratch[slot] = s;
    }
    const out = new GpuTensor('u8', words, s.store, 0, false);
    this.each('packF16', [out, new GpuTensor(g.dtype, Math.min(n, g.size), g.store, g.offset, false)], words, [
      Math.min(n, g.size),
    ]);
    return out;
  }
  private readonly gemmSpecs = new Map<string, KernelSpec>();
  /** The barrier-free GEMM (gemm.ts gemmDirectSpec) for products with no forced block: the
   *  default on CPU adapters (SwiftShader), where workgroup memory and barriers are slow. */
  gemmDirect: boolean;
  /** The direct GEMM's register block (R x R per invocation; 8 by default, 4 in tests). */
  gemmDirectBlock: 4 | 8 = DIRECT_BLOCK;
  /** Output tiles of one M x N product at the block it runs with alone (the grouped sums and
   *  split-K size their partial products by it). */
  private tilesOf(M: number, N: number): number {
    const T = this.gemmBlockFor(M, N, 1);
    return Math.ceil(M / (16 * T)) * Math.ceil(N / (16 * T));
  }
  /** The register block a product of `items` (M x N) outputs runs with on this device. */
  gemmBlockFor(M: number, N: number, items: number): 4 | 8 {
    const T = this.gemmBlockOverride ?? gemmBlock(M, N, items);
    return T === 8 && gemmSharedBytes(8, this.gemmTile.bk) > this.gpu.limits.maxComputeWorkgroupStorageSize ? 4 : T;
  }
  /** Workgroups a grouped item sum aims for (gemmAny): about two per multiprocessor of a large GPU
   *  (an H200 has 132), so the few output tiles of a weight gradient fill the chip. Knob:
   *  TRM_WEBGPU_SUM_GROUPS. */
  sumGroupWorkgroups = 256;
  /** How the tiled GEMM stages its operands (gemm.ts TileOptions; speed only, the same sums). */
  gemmTile: TileOptions = DEFAULT_TILE;
  /** Workgroups a split-K product aims for (gemmAny); 0 (the default) turns the split off: on an
   *  H200 (2026-12-04) splitting to ~512 workgroups moved the four channel weight gradients by
   *  -6 to +8 points of the peak, no better than run-to-run noise (docs/PERFORMANCE.md). Kept as
   *  a knob (TRM_WEBGPU_SPLITK) for GPUs with fewer, larger workgroups in flight. */
  splitKWorkgroups = 0;
  /** GEMM register block for every product (tests, tuning); undefined: chosen by size. */
  gemmBlockOverride: 4 | 8 | undefined;

  copy2d(dst: F32T, src: F32T, rows: number, cols: number, ldDst: number, ldSrc: number): void {
    this.each('copy2d', [dst, src], rows * cols, [cols, ldDst, ldSrc]);
  }
  transpose(out: F32T, inp: F32T, R: number, C: number): void {
    this.each('transpose', [out, inp], R * C, [R, C]);
  }
  fill(dst: F32T, value: number, n: number): void {
    this.each('fill', [dst], n, [value]);
  }
  castU8F32(out: F32T, inp: U8T, n: number): void {
    this.each('castU8F32', [out, inp], n);
  }
  broadcastRows(dst: F32T, src: F32T, mask: U8T, B: number, per: number, D: number, srcStride: number): void {
    this.each('broadcastRows', [dst, src, mask], B * per, [per, D, srcStride]);
  }
  add(out: F32T, a: F32T, b: F32T, n: number): void {
    this.each('add', [out, a, b], n);
  }
  add3(out: F32T, a: F32T, b: F32T, c: F32T, n: number): void {
    this.each('add3', [out, a, b, c], n);
  }
  addBias(out: F32T, bias: F32T, N: number, C: number): void {
    this.each('addBias', [out, bias], N * C, [C]);
  }
  biasBackward(dbias: F32T, dout: F32T, N: number, C: number): void {
    this.each('biasBackward', [dbias, dout], C, [N]);
  }

  rmsnormForward(out: F32T, rstd: F32T, inp: F32T, N: number, D: number, eps: number): void {
    if (D <= ROWS_MAX_D) this.each('rmsnormForwardRows', [out, rstd, inp], N, [D, eps]);
    else if (N > 0) this.run(specs.rmsnormForward, [out, rstd, inp], [N, D, eps], grid(N));
  }
  rmsnormBackward(dinp: F32T, dout: F32T, out: F32T, rstd: F32T, N: number, D: number): void {
    if (D <= ROWS_MAX_D) this.each('rmsnormBackwardRows', [dinp, dout, out, rstd], N, [D]);
    else if (N > 0) this.run(specs.rmsnormBackward, [dinp, dout, out, rstd], [N, D], grid(N));
  }
  rmsnormSeqForward(out: F32T, rstd: F32T, inp: F32T, B: number, S: number, D: number, eps: number): void {
    this.each('rmsnormSeqForward', [out, rstd, inp], B * D, [S, D, eps]);
  }
  rmsnormSeqBackward(dinp: F32T, dout: F32T, out: F32T, rstd: F32T, B: number, S: number, D: number): void {
    this.each('rmsnormSeqBackward', [dinp, dout, out, rstd], B * D, [S, D]);
  }
  swigluForward(out: F32T, gateUp: F32T, N: number, H: number): void {
    this.each('swigluForward', [out, gateUp], N * H, [H]);
  }
  gemmSwiglu(
    out: F32T,
    gateUp: F32T | null,
    inp: F32T,
    weight: F32T,
    H: number,
    N: number,
    K: number,
    batch: number,
    bf16: boolean,
  ): void {
    // without gateUp the binding gets a one-float stand-in the kernel never writes (keep = 0)
    const keepTo = gateUp ?? (this.unusedF32 ??= this.f32(1));
    this.each('gemmSwiglu', [out, keepTo, inp, weight], batch * H * N, [H, N, K, bf16 ? 1 : 0, gateUp ? 1 : 0]);
  }
  private unusedF32: F32T | undefined;
  /** the channel MLP's gate_up + SwiGLU: the op-by-op dispatches (gateUp always written) */
  linearSwiglu(
    out: F32T,
    gateUp: F32T,
    inp: F32T,
    weight: F32T,
    N: number,
    D: number,
    I: number,
    keep: boolean,
    bf16: boolean,
  ): void {
    linearSwigluVia<F32T>(this, out, gateUp, inp, weight, N, D, I, keep, bf16);
  }
  /** the SwiGLU backwards through the down product: the op-by-op dispatches */
  linearSwigluBackward(
    dgateUp: F32T,
    dh: F32T,
    dout: F32T,
    gateUp: F32T,
    weight: F32T,
    N: number,
    D: number,
    I: number,
    bf16: boolean,
    fresh: boolean,
  ): void {
    linearSwigluBackwardVia<F32T>(this, dgateUp, dh, dout, gateUp, weight, N, D, I, bf16, fresh);
  }
  gemmSwigluBackward(
    dgateUp: F32T,
    dh: F32T,
    dout: F32T,
    gateUp: F32T,
    weightT: F32T,
    H: number,
    N: number,
    K: number,
    batch: number,
    bf16: boolean,
    fresh: boolean,
  ): void {
    gemmSwigluBackwardVia<F32T>(this, dgateUp, dh, dout, gateUp, weightT, H, N, K, batch, bf16, fresh);
  }
  gemmSumNT(
    C: F32T,
    A: F32T,
    B: F32T,
    M: number,
    N: number,
    K: number,
    batch: number,
    strideA: number,
    strideB: number,
    beta: number,
  ): void {
    gemmSumNTVia<F32T>(this, C, A, B, M, N, K, batch, strideA, strideB, beta);
  }
  gemmSumNTBf16(
    C: F32T,
    A: F32T,
    B: F32T,
    M: number,
    N: number,
    K: number,
    batch: number,
    strideA: number,
    strideB: number,
    beta: number,
  ): void {
    gemmSumNTBf16Via<F32T, F32T>(this, C, A, B, M, N, K, batch, strideA, strideB, beta);
  }
  swigluBackward(dgateUp: F32T, dout: F32T, gateUp: F32T, N: number, H: number): void {
    this.each('swigluBackward', [dgateUp, dout, gateUp], N * H, [H]);
  }
  // the fused half-blocks: the same dispatches as the op-by-op sequence (kernels/ref/fused.ts)
  tokenMixerNormForward(...a: Parameters<Device['tokenMixerNormForward']>): void {
    tokenMixerNormVia<F32T>(this, ...a);
  }
  mlpNormForward(...a: Parameters<Device['mlpNormForward']>): void {
    mlpNormVia<F32T>(this, ...a);
  }
  mlpNormBackward(...a: Parameters<Device['mlpNormBackward']>): void {
    mlpNormBackwardVia<F32T>(this, ...a);
  }
  tokenMixerNormBackward(...a: Parameters<Device['tokenMixerNormBackward']>): void {
    tokenMixerNormBackwardVia<F32T>(this, ...a);
  }
  embeddingForward(out: F32T, ids: I32T, table: F32T, N: number, D: number, V: number, scale: number): void {
    this.each('embeddingForward', [out, ids, table], N * D, [D, V, scale]);
  }
  embeddingBackward(dtable: F32T, dout: F32T, ids: I32T, N: number, D: number, V: number, scale: number): void {
    if (N === 0) return;
    if (V <= 64) this.each('embeddingBackwardByEntry', [dtable, dout, ids], V * D, [N, D, V, scale]);
    else this.each('embeddingBackwardByColumn', [dtable, dout, ids], D, [N, V, scale]);
  }
  stablemaxCeForward(loss: F32T, logits: F32T, labels: I32T, N: number, V: number, ignoreIndex: number): void {
    this.each('stablemaxCeForward', [loss, logits, labels], N, [V, ignoreIndex]);
  }
  stablemaxCeBackward(
    dlogits: F32T,
    dloss: F32T,
    logits: F32T,
    labels: I32T,
    N: number,
    V: number,
    ignoreIndex: number,
  ): void {
    this.each('stablemaxCeBackward', [dlogits, dloss, logits, labels], N, [V, ignoreIndex]);
  }
  bceLogitsForward(loss: F32T, logits: F32T, targets: F32T, N: number): void {
    this.each('bceLogitsForward', [loss, logits, targets], N);
  }
  bceLogitsBackward(dlogits: F32T, dloss: F32T, logits: F32T, targets: F32T, N: number): void {
    this.each('bceLogitsBackward', [dlogits, dloss, logits, targets], N);
  }
  argmax(out: I32T, logits: F32T, N: number, V: number): void {
    this.each('argmax', [out, logits], N, [V]);
  }
  matchCounts(
    seqCorrect: U8T,
    counts: I32T,
    pred: I32T,
    labels: I32T,
    B: number,
    S: number,
    ignoreIndex: number,
  ): void {
    this.each('matchCounts', [seqCorrect, counts, pred, labels], B, [S, ignoreIndex]);
  }
  lossGrad(dtok: F32T, dbce: F32T, counts: I32T, weights: F32T | null, B: number, L: number, lossScale: number): void {
    const n = B * Math.max(L, 1);
    if (weights) this.each('lossGradWeighted', [dtok, dbce, counts, weights], n, [L, lossScale]);
    else this.each('lossGrad', [dtok, dbce, counts], n, [L, lossScale]);
  }
  softmaxForward(out: F32T, inp: F32T, N: number, V: number): void {
    if (V > 0) this.each('softmaxForward', [out, inp], N, [V]);
  }
  softmaxBackward(dinp: F32T, dout: F32T, out: F32T, N: number, V: number): void {
    this.each('softmaxBackward', [dinp, dout, out], N, [V]);
  }
  ropeForward(out: F32T, inp: F32T, cos: F32T, sin: F32T, B: number, S: number, H: number, Dh: number): void {
    this.each('ropeForward', [out, inp, cos, sin], B * S * H * (Dh / 2), [S, H, Dh]);
  }
  ropeBackward(dinp: F32T, dout: F32T, cos: F32T, sin: F32T, B: number, S: number, H: number, Dh: number): void {
    this.each('ropeBackward', [dinp, dout, cos, sin], B * S * H * (Dh / 2), [S, H, Dh]);
  }
  adamAtan2Step(
    param: F32T,
    m: F32T,
    v: F32T,
    grad: F32T,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    wd: number,
    step: number,
  ): void {
    this.each('adamAtan2Step', [param, m, v, grad], n, [
      beta1,
      beta2,
      lr / (1 - beta1 ** step),
      Math.sqrt(1 - beta2 ** step),
      1 - lr * wd,
    ]);
  }
  adamwStep(
    param: F32T,
    m: F32T,
    v: F32T,
    grad: F32T,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    eps: number,
    wd: number,
    step: number,
  ): void {
    this.each('adamwStep', [param, m, v, grad], n, [
      beta1,
      beta2,
      lr,
      eps,
      1 - beta1 ** step,
      1 - beta2 ** step,
      1 - lr * wd,
    ]);
  }
  signSgdRows(param: F32T, grad: F32T, rows: I32T, nRows: number, width: number, lr: number, wd: number): void {
    this.each('signSgdRows', [param, grad, rows], nRows * width, [width, lr, 1 - lr * wd]);
  }
  emaUpdate(shadow: F32T, param: F32T, n: number, decay: number): void {
    this.each('emaUpdate', [shadow, param], n, [decay, 1 - decay]);
  }
}
