/**
 * webgpu/: the WebGPU backend. device.ts (the Device: GPU tensors, batched command recording,
 * every kernel of the contract), wgsl.ts (kernel specs to WGSL), kernels.ts and gemm.ts (the
 * WGSL), peak.ts (the FMA-bound peak shader). This index is browser-safe; the Node loader is
 * src/webgpu/node.ts (imports the `webgpu` package).
 */
export { createWebGpuDevice, GpuTensor, WebGpuDevice, type WebGpuOptions } from './device.js';
