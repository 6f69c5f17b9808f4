/**
 * webgpu/node.ts: the Node edge of the WebGPU backend: loads Dawn (the `webgpu` npm package) and
 * builds the device. On a machine without a GPU driver, Chromium's SwiftShader (Vulkan on the
 * CPU) still gives a real WebGPU adapter: when no adapter is found and VK_ICD_FILENAMES is
 * unset, the SwiftShader ICD that Debian's chromium-common installs is tried (`swiftshader:
 * 'fallback'`, the default), so tests and benchmarks run everywhere; SwiftShader is correctness
 * only, never a speed reference. The browser does not need this file (navigator.gpu).
 */
import { existsSync } from 'node:fs';
import { TrmError } from '../errors.js';
import { createWebGpuDevice, type WebGpuDevice, type WebGpuOptions } from './device.js';

/** Where Debian's chromium-common puts the SwiftShader Vulkan ICD. */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export interface NodeGpuOptions extends Omit<WebGpuOptions, 'gpu' | 'adapter'> {
  /** 'fallback': SwiftShader when no other adapter is found; 'force': SwiftShader only; 'never' */
  swiftshader?: 'fallback' | 'force' | 'never';
  /** false: Dawn's `disable_robustness` toggle (no index clamping in the shaders). Every kernel
   *  here bounds its own indices, and on SwiftShader the clamping costs ~30% of a GEMM; default
   *  true. An out-of-range access would then be undefined behaviour, so tests keep the default. */
  robust?: boolean;
}

type Dawn = { create(flags: string[]): GPU; globals: object };
let dawn: Dawn | null = null;
let dawnError: string | null = null;
/** Dawn instances stay referenced for the process's life: a collected GPU object takes its
 *  adapters and devices down with it (an abort inside Dawn). */
const instances: GPU[] = [];
const instance = (d: Dawn, robust = true): GPU => {
  const g = d.create(robust ? [] : ['enable-dawn-features=allow_unsafe_apis,disable_robustness']);
  instances.push(g);
  return g;
};

async function loadDawn(): Promise<Dawn | null> {
  if (dawn || dawnError) return dawn;
  try {
    dawn = (await import('webgpu')) as unknown as Dawn;
  } catch (e) {
    dawnError = (e as Error).message.split('\n')[0];
  }
  return dawn;
}

/** An adapter from Dawn, trying SwiftShader per `mode`; null (with the reason) when none. */
export async function nodeAdapter(
  mode: NodeGpuOptions['swiftshader'] = 'fallback',
  powerPreference: GPUPowerPreference = 'high-performance',
  robust = true,
): Promise<{ adapter: GPUAdapter | null; reason: string }> {
  const d = await loadDawn();
  if (!d) return { adapter: null, reason: `the webgpu package failed to load: ${dawnError}` };
  const canSwift = !process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD);
  if (mode === 'force' && canSwift) process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
  let adapter = await instance(d, robust).requestAdapter({ powerPreference });
  if (!adapter && mode === 'fallback' && canSwift) {
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    adapter = await instance(d, robust).requestAdapter({ powerPreference });
  }
  if (adapter) return { adapter, reason: '' };
  return {
    adapter: null,
    reason:
      canSwift || process.env.VK_ICD_FILENAMES
        ? 'no WebGPU adapter found'
        : `no WebGPU adapter found (no GPU driver; for SwiftShader: apt-get install chromium libvulkan1, which provides ${SWIFTSHADER_ICD})`,
  };
}

/** The WebGPU device in Node; throws TRM_NO_DEVICE with the reason when there is no adapter. */
export async function createNodeWebGpuDevice(opts: NodeGpuOptions = {}): Promise<WebGpuDevice> {
  const { adapter, reason } = await nodeAdapter(opts.swiftshader, opts.powerPreference, opts.robust);
  if (!adapter) throw new TrmError('TRM_NO_DEVICE', `webgpu: ${reason}`);
  const tune = tuningFromEnv(); // before the device exists: a bad value leaves nothing to clean up
  const dev = await createWebGpuDevice({ ...opts, adapter });
  if (tune.bk !== undefined) dev.gemmTile = { bk: tune.bk };
  if (tune.splitK !== undefined) dev.splitKWorkgroups = tune.splitK;
  if (tune.sumGroups !== undefined) dev.sumGroupWorkgroups = tune.sumGroups;
  return dev;
}

/** The tiled GEMM's tuning knobs for a new GPU (docs/PERFORMANCE.md, WebGPU), read by every Node
 *  entry (bench gemm, bench step, train): TRM_WEBGPU_GEMM_BK=16|32 (workgroup-memory slice depth)
 *  TRM_WEBGPU_SPLITK=N (workgroups a long-k single product aims for; 0: no split-K) and
 *  TRM_WEBGPU_SUM_GROUPS=N (workgroups a grouped item sum aims for; 1: no grouping). */
function tuningFromEnv(): { bk?: 16 | 32; splitK?: number; sumGroups?: number } {
  const bk = process.env.TRM_WEBGPU_GEMM_BK,
    split = process.env.TRM_WEBGPU_SPLITK,
    groups = process.env.TRM_WEBGPU_SUM_GROUPS;
  if (bk && bk !== '16' && bk !== '32')
    throw new TrmError('TRM_BAD_ARG', `TRM_WEBGPU_GEMM_BK must be 16 or 32, got '${bk}'`);
  if (split && !/^\d+$/.test(split))
    throw new TrmError(
      'TRM_BAD_ARG',
      `TRM_WEBGPU_SPLITK must be a whole number of workgroups (0: off), got '${split}'`,
    );
  if (groups && !/^[1-9]\d*$/.test(groups))
    throw new TrmError(
      'TRM_BAD_ARG',
      `TRM_WEBGPU_SUM_GROUPS must be a positive whole number of workgroups, got '${groups}'`,
    );
  return {
    bk: bk ? (bk === '16' ? 16 : 32) : undefined,
    splitK: split ? Number(split) : undefined,
    sumGroups: groups ? Number(groups) : undefined,
  };
}

/** What `trm info` shows: the adapter Dawn finds (after the SwiftShader fallback), its features
 *  and the limits that matter here, or why there is none. Creates no device. */
export async function nodeAdapterInfo(
  mode: NodeGpuOptions['swiftshader'] = 'fallback',
): Promise<
  | { adapter: string; swiftshader: boolean; features: string[]; limits: Record<string, number> }
  | { adapter: null; reason: string }
> {
  const { adapter, reason } = await nodeAdapter(mode);
  if (!adapter) return { adapter: null, reason };
  const i = adapter.info,
    l = adapter.limits;
  const name = i.description || [i.vendor, i.architecture, i.device].filter(Boolean).join(' ') || 'unknown adapter';
  return {
    adapter: name,
    swiftshader: /swiftshader/i.test(name),
    features: [...adapter.features].sort(),
    limits: {
      maxBufferSize: l.maxBufferSize,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
    },
  };
}
