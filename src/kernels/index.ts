/**
 * kernels/: the compute layer. The kernel contract (backend.ts), devices that own tensors
 * (device.ts), checked wrappers over the active device (gemm.ts, ops.ts), and the Node edge that
 * loads the native addon and picks the default device (select.ts, native.ts, aligned.ts).
 */
export { KERNEL_NAMES, type KernelBackend, type F32, type I32, type U8 } from './backend.js';
export * from './device.js';
export { gemm, type GemmCall } from './gemm.js';
export { alignedF32 } from './aligned.js';
export * from './ops.js';
export { kernels, useBackend, setThreads, backendInfo, nativeBackend, refBackend, nativeDevice, refDevice } from './select.js';
export { addon, addonError, packageRoot } from './native.js';
