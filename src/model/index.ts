/** model/: the TRM model: config, parameters (official names), activations, recursion, one supervision step. */
export { type TrmConfig, type Dims, defaultConfig, presets, resolveConfig, prefixLen, swigluInner, dims } from './config.js';
export {
  type ParamEntry, type Weights, type BlockWeights, type NamedTensor, OFFICIAL_PREFIX, paramSpec, specSize, paramCount,
  weightsView, initParams, createParams, canonicalName, loadStateDict, stateDict, truncNormalFill, seededUniform,
} from './params.js';
export { type StepActs, type NetActs, type BlockActs, allocActs, actsBytes } from './acts.js';
export { netForward, netBackward, latentRecursion, deepRecursion, deepRecursionBackward } from './trm.js';
export { type Batch, type Carry, type StepResult, IGNORE_LABEL, supervisionStep, initialCarry, resetCarry } from './step.js';
export { loadWeights, saveWeights } from './checkpoint.js';
