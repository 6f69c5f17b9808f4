/**
 * core.ts: the device-free face of the compute layer, for code that must also run in a browser
 * (model, nn, the training step, experiments): the kernel contract, devices and tensors, the
 * checked kernel wrappers, the shared kernel cases and the TypeScript reference backend. The Node
 * edge (native addon, thread pool, aligned allocation, default device) is kernels/index.ts.
 */
export { KERNEL_NAMES, type KernelBackend, type F32, type I32, type U8 } from './backend.js';
export * from './device.js';
export {
  gemm,
  type GemmCall,
  gemmPrecision,
  PRECISIONS,
  type Precision,
  setGemmPrecision,
  withGemmPrecision,
} from './gemm.js';
export * from './ops.js';
export { refBackend } from './ref/index.js';
