/**
 * kernels/: the compute layer. Checked wrappers (gemm, and the ops in ops.ts) over the active
 * backend; see backend.ts for the kernel contract and select.ts for how the backend is chosen.
 */
export type { KernelBackend, F32, I32, U8 } from './backend.js';
export { gemm, type GemmCall } from './gemm.js';
export { alignedF32 } from './aligned.js';
export * from './ops.js';
export { kernels, useBackend, setThreads, backendInfo, nativeBackend, refBackend } from './select.js';
export { addon, addonError, packageRoot } from './native.js';
