/**
 * trm: Tiny Recursive Models on the CPU. The library's only public surface; it exports
 * namespaces, one per layer of the project (see docs/ARCHITECTURE.md).
 */
export * as kernels from './kernels/index.js';
export * as data from './data/index.js';
export * as model from './model/index.js';
export * as train from './train/index.js';
export * as io from './io/index.js';
export { TrmError, ShapeError, UsageError } from './errors.js';
