/** Experiments on trained models: best-of-k test-time scaling, aggregators, path independence. */
export * from './aggregate.js';
export * from './scaling.js';
export * from './aas.js';
export * from './table.js';
export * from './trace.js';
