/**
 * kernels/: the compute layer. The kernel contract (backend.ts), devices that own tensors
 * (device.ts), checked wrappers over the active device (gemm.ts, ops.ts) - all device-free, see
 * core.ts - and the Node edge that loads the native addon and picks the default device
 * (select.ts, native.ts, aligned.ts).
 */
export * from './core.js';
export { alignedF32 } from './aligned.js';
export { useBackend, setThreads, backendInfo, nativeBackend, nativeDevice, refDevice } from './select.js';
export { addon, addonError, addonPath, packageRoot } from './native.js';
