/** model/: the TRM model: config, parameters (official names), activations, recursion, one supervision step. */
export {
  type TrmConfig,
  type Dims,
  defaultConfig,
  presets,
  resolveConfig,
  prefixLen,
  swigluInner,
  dims,
} from './config.js';
export {
  type ParamEntry,
  type Weights,
  type BlockWeights,
  type NamedTensor,
  OFFICIAL_PREFIX,
  paramSpec,
  specSize,
  paramCount,
  weightsView,
  weightsOf,
  hostWeights,
  hostWeightsSync,
  writeWeights,
  type HostWeights,
  initParams,
  createParams,
  canonicalName,
  loadStateDict,
  stateDict,
  truncNormalFill,
  seededUniform,
} from './params.js';
export { type StepActs, type NetActs, type BlockActs, allocActs, actsBytes } from './acts.js';
export { netForward, netBackward, latentRecursion, deepRecursion, deepRecursionBackward } from './trm.js';
export {
  type Batch,
  type HostBatch,
  type StepResult,
  type StepLosses,
  IGNORE_LABEL,
  supervisionStep,
  allocBatch,
  uploadBatch,
  lossesOf,
  stepLosses,
} from './step.js';
export { type Carry, allocCarry, resetCarry, initCarry, startCarry } from './carry.js';
export { type InitSpec, type InitMode, INIT_MODES, parseInitMode, isRandomInit } from './init.js';
export { type ChainOptions, runChain, chainRng, noiseRng, MAX_CHAINS } from './chain.js';
