/**
 * native.ts: loads the C++ addon: build/Release/trm_native.node (built by node-gyp during `npm ci`
 * in a checkout), else the package's prebuilds/<platform>-<arch>/trm.glibc.node (node-gyp-build's
 * lookup). If it cannot load, or TRM_KERNELS=ref asks for the reference kernels, `addon` is null
 * and `addonError` says why; select.ts then warns once and falls back to ref/.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { KernelBackend } from './backend.js';

export interface NativeInfo {
  isa: 'avx512' | 'avx2' | 'portable';
  bestIsa: 'avx512' | 'avx2' | 'portable';
  gemmKernel: string;
  /** the kernel gemmBf16 runs: VDPBF16PS, or '... (bf16 emulated)' on the fp32 kernel */
  gemmBf16Kernel: string;
  /** true when gemmBf16 runs on AVX512_BF16 hardware */
  bf16Native: boolean;
  /** bf16 products run on AMX tiles (TDPBF16PS): the CPU has AMX-BF16 and Linux granted the tile
   *  state; TRM_AMX=0 or setAmx(false) turns it off. */
  amx: boolean;
  /** the largest packed B block (KiB) whose tiles run strip-outer (TRM_GEMM_STRIP_OUTER_KIB; 512):
   *  a tile order, never a change of bits */
  gemmStripOuterKib: number;
  threads: number;
  features: Record<string, boolean>;
}

/** The addon: every KernelBackend kernel under the same name, plus runtime controls. */
/** One call site's parallel regions while the pool's profile was on (threadpool.h RegionStat). */
export interface PoolRegionStat {
  /** the return address into the kernel that ran the region, as an offset into the addon's file
   *  (addr2line -f -C -e build/Release/trm_native.node SITE) */
  site: string;
  calls: number;
  /** regions a worker entered before the caller closed them */
  entered: number;
  regionNs: number;
  /** the caller's wait at the end for a worker still on its last part */
  callerWaitNs: number;
  /** how long the workers' last part ended before the caller's */
  workerIdleNs: number;
  /** from the region's start to the first worker entering it */
  workerLateNs: number;
}

export interface NativeAddon extends Omit<KernelBackend, 'name'> {
  info(): NativeInfo;
  setThreads(n: number): number;
  /** Force a dispatch path; false if this CPU cannot run it. */
  setIsa(isa: 'avx512' | 'avx2' | 'portable'): boolean;
  /** Use the AMX-BF16 kernel for bf16 products where it can run (default) or not; whether it is
   *  used now. */
  setAmx(on: boolean): boolean;
  /** The GEMM's fast paths (A read in place, B panels copied under the FMAs, narrow panels
   *  with rows in the lanes - fp32 and bf16 -, few-row sums as their transpose: AVX-512; sums whose
   *  last panel would be mostly padding as their transpose: every kernel) on (default;
   *  TRM_GEMM_FAST=0 starts with them off) or off: the same bits either way. Returns whether they
   *  are on now. */
  setGemmFastPaths(on: boolean): boolean;
  /** Whether the operands the fused kernels pack (the weights, and the backward's transposed
   *  weights) stay the same, each tensor at its own address, until the next call: while on, each
   *  pool thread keeps its packs of them between calls. Device.freezeWeights. */
  setWeightsFrozen(on: boolean): void;
  /** The pool's region profile (diagnostics: tools/profile-step.mjs): true starts it; false stops
   *  it and returns one record per call site of a parallel region run from JavaScript. */
  poolProfile(on: true): undefined;
  poolProfile(on: false): PoolRegionStat[];
  /** Register-only FMA loop on `threads` threads for `seconds`; total fp32 GFLOP/s. */
  fmaPeak(seconds: number, threads: number): number;
  /** The same for the bf16 GEMM's unit (AMX tiles where active, else VDPBF16PS); 0 where gemmBf16
   *  is emulated. */
  bf16Peak(seconds: number, threads: number): number;
  /** Byte address of a typed array's data modulo 64. */
  addressMod64(a: ArrayBufferView): number;
  /** madvise(MADV_HUGEPAGE) over the whole 2 MiB pages inside a typed array's data (Linux; before
   *  its first write); the bytes advised, 0 where none were. */
  adviseHugePages(a: ArrayBufferView): number;
}

/** The package root: two levels above this file, whether it runs from src/ or dist/. */
export const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function load(): { addon: NativeAddon | null; error: string | null; path?: string } {
  if (process.env.TRM_KERNELS === 'ref') return { addon: null, error: 'TRM_KERNELS=ref' };
  const require = createRequire(import.meta.url);
  // TRM_NATIVE_PATH points at another build of the addon (a debug build, or a test of the fallback);
  // otherwise node-gyp-build's lookup: build/Release (a source build), then prebuilds/<platform>-<arch>/.
  let path = process.env.TRM_NATIVE_PATH;
  if (!path) {
    try {
      path = (require('node-gyp-build') as { path(dir: string): string }).path(packageRoot);
    } catch {
      return {
        addon: null,
        error: `no native build in ${join(packageRoot, 'build', 'Release')} and no prebuild for ${process.platform}-${process.arch} in ${join(packageRoot, 'prebuilds')} (run 'npm ci' or 'npm run build')`,
      };
    }
  }
  if (!existsSync(path)) return { addon: null, error: `${path} not found (run 'npm ci' or 'npm run build')` };
  try {
    return { addon: require(path) as NativeAddon, error: null, path };
  } catch (e) {
    return { addon: null, error: `${path} failed to load: ${(e as Error).message.split('\n')[0]}` };
  }
}

const loaded = load();
export const addon: NativeAddon | null = loaded.addon;
export const addonError: string | null = loaded.error;
/** The file the addon was loaded from (null without one). */
export const addonPath: string | null = loaded.path ?? null;
